package prefconfig

import (
	"strings"
	"testing"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

func valid() *Config {
	return &Config{
		Organization:    ccv1.Organization{Name: "ACME", PrivacyPolicyURL: "https://acme.example/privacy"},
		Languages:       []string{"nl", "en"},
		DefaultLanguage: "nl",
		Topics:          []ccv1.Topic{{Name: "fairs", Title: map[string]string{"nl": "Beurzen"}}},
		LinkTTL:         "720h",
		PublicURL:       "https://prefs.acme.example",
		SigningKeysDir:  "/etc/keys",
	}
}

func TestValidate(t *testing.T) {
	if err := valid().Validate(); err != nil {
		t.Fatalf("a valid configuration: %v", err)
	}
	for _, tc := range []struct {
		field string
		edit  func(*Config)
	}{
		{"organization.name", func(c *Config) { c.Organization.Name = "" }},
		{"organization.privacyPolicyURL", func(c *Config) { c.Organization.PrivacyPolicyURL = "javascript:alert(1)" }},
		{"languages", func(c *Config) { c.Languages = []string{"nl", "es"} }},
		{"defaultLanguage", func(c *Config) { c.DefaultLanguage = "fr" }},
		{"topics[1].name", func(c *Config) { c.Topics = append(c.Topics, c.Topics[0]) }},
		{"topics[0].title", func(c *Config) { c.Topics[0].Title = map[string]string{"en": "Fairs"} }},
		{"linkTTL", func(c *Config) { c.LinkTTL = "1m" }},
		{"publicURL", func(c *Config) { c.PublicURL = "prefs.acme.example" }},
		{"trustedProxies[0]", func(c *Config) { c.TrustedProxies = []string{"10.0.0.1"} }},
		{"signingKeysDir", func(c *Config) { c.SigningKeysDir = "" }},
	} {
		c := valid()
		tc.edit(c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %v does not name the field", tc.field, err)
		}
	}
}
