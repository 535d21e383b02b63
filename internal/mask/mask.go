// Package mask hides personal data in what leaves the contact database:
// a key keeps its first character and an address its domain
// ("m•••@example.fr"), and addresses found in free text are masked alike.
package mask

import (
	"regexp"
	"strings"
)

const dots = "•••"

// Key masks a contact key: an address keeps its first character and its
// domain, anything else its first and last characters.
func Key(key string) string {
	r := []rune(key)
	if at := strings.LastIndexByte(key, '@'); at > 0 {
		return string(r[0]) + dots + key[at:]
	}
	if len(r) < 3 {
		return dots
	}
	return string(r[0]) + dots + string(r[len(r)-1])
}

// address matches what looks like an email address in free text.
var address = regexp.MustCompile(`[^\s@"'<>(),;:\[\]]+@[^\s@"'<>(),;:\[\]]+\.[^\s@"'<>(),;:\[\].]{2,}`)

// Text masks every address in s.
func Text(s string) string {
	return address.ReplaceAllStringFunc(s, Key)
}
