package normalize

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestRecognise(t *testing.T) {
	for raw, want := range map[string]string{
		"fr": "fr", "FR": "fr", " nl ": "nl", "nl_BE": "nl", "nl-be": "nl", "fra": "fr", "deu": "de", "de-CH": "de",
		"Français": "fr", "francais": "fr", "FRANÇAIS": "fr", "Frans": "fr", "French": "fr", "Französisch": "fr",
		"Nederlands": "nl", "néerlandais": "nl", "Dutch": "nl", "vlaams": "nl", "Vlaams ": "nl", "Niederländisch": "nl",
		"English": "en", "anglais": "en", "Engels": "en", "Deutsch": "de", "Duits": "de", "allemand": "de",
		"Español": "es", "spaans": "es", "italien": "it",
		"": "", "xx": "", "klingon": "", "123": "", "und": "", "Brussels": "",
	} {
		if got := Recognise(raw); got != want {
			t.Errorf("Recognise(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestLanguagesMatch(t *testing.T) {
	l := NewLanguages(map[string]string{"Brussels": "fr", "vlaams": "de"}, []string{"nl", "fr", "en"}, "nl")
	tests := []struct {
		raw     string
		code    string
		outcome Outcome
	}{
		{"FR", "fr", Recognised},
		{"Français", "fr", Recognised},
		{"brussels", "fr", Recognised}, // alias
		{"VLAAMS", "nl", NotOffered},   // the alias wins over recognition (de), which is not offered
		{"Deutsch", "nl", NotOffered},  // not offered: default
		{"", "nl", Empty},              // missing: default
		{"  ", "nl", Empty},
		{"gibberish", "nl", Unknown},
	}
	for _, tc := range tests {
		code, outcome := l.Match(tc.raw)
		if code != tc.code || outcome != tc.outcome {
			t.Errorf("Match(%q) = %q, %v; want %q, %v", tc.raw, code, outcome, tc.code, tc.outcome)
		}
	}
	if code, outcome := NewLanguages(nil, nil, "en").Match("pt_BR"); code != "pt" || outcome != Recognised {
		t.Errorf("any language offered: %q %v", code, outcome)
	}
}

// The CRD validates LanguageCode against the same ISO 639-1 list.
func TestISOListMatchesCRD(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "api", "v1alpha1", "common_types.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`self in \[([^\]]+)\]`).FindSubmatch(src)
	if m == nil {
		t.Fatal("LanguageCode rule not found")
	}
	var crd []string
	for _, q := range strings.Split(string(m[1]), ",") {
		crd = append(crd, strings.Trim(q, "' "))
	}
	if !slices.Equal(crd, ISO6391) {
		t.Errorf("CRD list (%d codes) differs from ISO6391 (%d codes)", len(crd), len(ISO6391))
	}
}

func FuzzRecognise(f *testing.F) {
	for _, s := range []string{"fr", "Français", "nl_BE", "x-klingon", "zh-Hant-TW", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		code := Recognise(raw)
		if code != "" && !isISO[code] {
			t.Fatalf("Recognise(%q) = %q, not an ISO 639-1 code", raw, code)
		}
	})
}
