// Package prefconfig is the preference center's configuration file: what the
// operator renders from a PreferenceCenter and the service reads.
package prefconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"time"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// Config is the service's configuration, rendered by the operator from a
// PreferenceCenter into a mounted file.
type Config struct {
	Organization    ccv1.Organization `json:"organization"`
	Languages       []string          `json:"languages"`
	DefaultLanguage string            `json:"defaultLanguage"`
	Topics          []ccv1.Topic      `json:"topics"`
	Rights          Rights            `json:"rights"`
	// LinkTTL is how long minted links stay valid, as a Go duration.
	LinkTTL string `json:"linkTTL"`
	// PublicURL is where contacts reach the service; minted links start
	// with it.
	PublicURL string `json:"publicURL"`
	// KeyIsEmail tells that contact keys are email addresses (the
	// conversion's uniqueKey is email), so the API normalises them so.
	KeyIsEmail bool `json:"keyIsEmail"`
	// HSTS is set when the service is reached over TLS.
	HSTS           bool     `json:"hsts,omitempty"`
	TrustedProxies []string `json:"trustedProxies,omitempty"`
	// SigningKeysDir holds one file per signing key (a mounted Secret).
	SigningKeysDir string `json:"signingKeysDir"`
	// APITokenFile holds the bearer token of /api/v1; empty disables it.
	APITokenFile string `json:"apiTokenFile,omitempty"`
}

// Rights are the data-subject rights offered on the pages.
type Rights struct {
	Export        bool `json:"export"`
	Erasure       bool `json:"erasure"`
	Rectification bool `json:"rectification"`
}

// Translated are the languages the pages are translated into.
var Translated = []string{"de", "en", "fr", "nl"}

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// Validate names the first wrong field and how to fix it.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Organization.Name == "" {
		bad("organization.name is empty: give the name contacts know you by")
	}
	if u, err := url.Parse(c.Organization.PrivacyPolicyURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		bad("organization.privacyPolicyURL %q: give an http(s) URL of the privacy policy", c.Organization.PrivacyPolicyURL)
	}
	if len(c.Languages) == 0 {
		bad("languages is empty: list at least one of de, en, fr, nl")
	}
	for _, l := range c.Languages {
		if !slices.Contains(Translated, l) {
			bad("languages: %q has no translation; use de, en, fr or nl", l)
		}
	}
	if !slices.Contains(c.Languages, c.DefaultLanguage) {
		bad("defaultLanguage %q must be one of languages %v", c.DefaultLanguage, c.Languages)
	}
	if len(c.Topics) == 0 {
		bad("topics is empty: declare one topic per segment contacts can choose")
	}
	seen := map[string]bool{}
	for i, t := range c.Topics {
		if t.Name == "" || seen[t.Name] {
			bad("topics[%d].name %q: every topic needs a unique name", i, t.Name)
		}
		seen[t.Name] = true
		if t.Title[c.DefaultLanguage] == "" {
			bad("topics[%d].title needs a %s title (defaultLanguage)", i, c.DefaultLanguage)
		}
	}
	if _, err := c.TTL(); err != nil {
		bad("linkTTL %q: %v; use a duration such as 720h", c.LinkTTL, err)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("publicURL %q: give the http(s) URL contacts reach the service at", c.PublicURL)
	}
	for i, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad("trustedProxies[%d] %q: give a CIDR such as 10.0.0.0/8", i, p)
		}
	}
	if c.SigningKeysDir == "" {
		bad("signingKeysDir is empty: mount the signing Secret and name its folder")
	}
	return errors.Join(errs...)
}

// TTL is LinkTTL parsed.
func (c *Config) TTL() (time.Duration, error) {
	d, err := time.ParseDuration(c.LinkTTL)
	if err == nil && d < 5*time.Minute {
		err = errors.New("shorter than 5m")
	}
	return d, err
}

// SegmentOf is the segment a topic sets.
func SegmentOf(t *ccv1.Topic) string {
	if t.Segment != "" {
		return t.Segment
	}
	return t.Name
}
