// Package normalize turns the free text found in old contact lists into
// canonical values: email keys, ISO 639-1 language codes, opt-out flags and
// contact field names from column headers.
package normalize

import (
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// fold makes free text comparable: lower case, accents removed, runs of
// spaces, '_' and '.' collapsed to one space, trimmed, BOM dropped.
// "  Adresse_E-mail " and "adresse e-mail" fold alike.
func fold(s string) string {
	s = strings.TrimPrefix(s, "\ufeff")
	if !isASCII(s) {
		t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
		if out, _, err := transform.String(t, s); err == nil {
			s = out
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.ToLower(s) {
		if unicode.IsSpace(r) || r == '_' || r == '.' {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
