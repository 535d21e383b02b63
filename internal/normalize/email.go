package normalize

import (
	"errors"
	"mime"
	"net/mail"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// Reasons a row is rejected.
const (
	ReasonInvalidEmail = "invalid-email"
	ReasonMissingKey   = "missing-key"
	ReasonMalformedRow = "malformed-row"
	ReasonSuppressed   = "suppressed"
)

// ErrMissing is returned for an empty key.
var ErrMissing = errors.New(ReasonMissingKey)

// ErrInvalidEmail is returned for an address that is not a plain, valid one.
var ErrInvalidEmail = errors.New(ReasonInvalidEmail)

var lookup = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.StrictDomainName(true), idna.Transitional(false))

// EmailKey turns an address into its key: trimmed, lower case, with its
// domain in IDNA ASCII form. The address must be a bare addr-spec (no display
// name, no quotes, no comments) with a dotted domain. "+tags" and dots are
// kept: consent belongs to the exact address.
func EmailKey(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", ErrMissing
	}
	if key, ok := plainKey(s); ok {
		return key, nil
	}
	if strings.IndexByte(s, '@') < 0 {
		return "", ErrInvalidEmail // as the parsers would say, without them
	}
	return parsedKey(s)
}

// parsedKey judges any address with the mail and IDNA parsers.
func parsedKey(s string) (string, error) {
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "", ErrInvalidEmail
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := norm.NFC.String(s[:at]), s[at+1:]
	if local == "" || strings.ContainsAny(local, "\"\\ ") {
		return "", ErrInvalidEmail
	}
	ascii, err := lookup.ToASCII(domain)
	if err != nil || !strings.Contains(ascii, ".") || strings.HasSuffix(ascii, ".") {
		return "", ErrInvalidEmail
	}
	return strings.ToLower(local) + "@" + strings.ToLower(ascii), nil
}

// plainKey is the key of an address of the shape nearly every list holds,
// judged in one pass: a dot-atom local part (in any script, as RFC 6532
// allows), and a domain of two or more ASCII labels of letters, digits and
// inner hyphens. It says so when s has another shape, which parsedKey then
// judges; for every s it accepts, parsedKey gives the same key
// (TestPlainKeyAgreesWithTheParsers).
func plainKey(s string) (string, bool) {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", false
	}
	local, ascii := dotAtom(s[:at])
	if local == "" {
		return "", false
	}
	labels := 0
	for label := range strings.SplitSeq(s[at+1:], ".") {
		if !ldhLabel(label) {
			return "", false
		}
		labels++
	}
	if labels < 2 {
		return "", false
	}
	if !ascii {
		// As parsedKey: NFC, then lower case. Normalising can turn a
		// letter into ASCII; the parsers judge what it turns into.
		local = norm.NFC.String(local)
		if strings.ContainsAny(local, "\"\\ ") {
			return "", false
		}
		return strings.ToLower(local) + "@" + strings.ToLower(s[at+1:]), true
	}
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s), true
		}
	}
	return s, true
}

// atext are the characters RFC 5322 allows in an atom besides letters and
// digits.
const atext = "!#$%&'*+-/=?^_`{|}~"

// dotAtom returns s when it is atoms joined by single dots, the atoms of
// ASCII atext or any other valid UTF-8, as net/mail reads them, and "" when
// it is not; ascii tells whether s is all ASCII.
func dotAtom(s string) (atom string, ascii bool) {
	if s[0] == '.' || s[len(s)-1] == '.' {
		return "", false
	}
	ascii = true
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.':
			if s[i-1] == '.' {
				return "", false
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			ascii = false
			i += size
			continue
		case strings.IndexByte(atext, c) >= 0:
		default:
			return "", false
		}
		i++
	}
	return s, ascii
}

// ldhLabel tells whether s is a DNS label of letters, digits and hyphens,
// neither starting nor ending with one, and with no "--" in third and
// fourth place (where IDNA's own labels, "xn--", have it).
func ldhLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' || len(s) >= 4 && s[2:4] == "--" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// OtherKey normalises a key that is not an email: trimmed, NFC, never
// empty.
func OtherKey(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", ErrMissing
	}
	return norm.NFC.String(s), nil
}

// SplitAddress takes the address out of the forms mail clients, Outlook and
// CRMs write in an email column: a display-name form (`"Jan Peeters"
// <jan@example.be>`, RFC 2047 names decoded) or a mailto: link. Anything
// else comes back trimmed, with no name, for EmailKey to judge.
func SplitAddress(raw string) (addr, name string) {
	s := strings.TrimSpace(raw)
	if len(s) > len("mailto:") && strings.EqualFold(s[:len("mailto:")], "mailto:") {
		s, _, _ = strings.Cut(s[len("mailto:"):], "?")
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		return strings.TrimSpace(s), ""
	}
	lt := strings.LastIndexByte(s, '<')
	if lt < 0 || !strings.HasSuffix(s, ">") {
		return s, ""
	}
	addr, name = strings.TrimSpace(s[lt+1:len(s)-1]), strings.TrimSpace(s[:lt])
	if len(name) >= 2 && (name[0] == '"' || name[0] == '\'') && name[len(name)-1] == name[0] {
		name = strings.TrimSpace(strings.ReplaceAll(name[1:len(name)-1], `\"`, `"`))
	}
	if decoded, err := new(mime.WordDecoder).DecodeHeader(name); err == nil {
		name = decoded
	}
	return addr, name
}

// NameParts splits a display name into a first and a last name: "Peeters,
// Jan" is last name first; otherwise the first word is the first name. An
// address is no name.
func NameParts(name string) (first, last string) {
	name = strings.TrimSpace(name)
	if name == "" || strings.Contains(name, "@") {
		return "", ""
	}
	if l, f, ok := strings.Cut(name, ","); ok {
		return strings.TrimSpace(f), strings.TrimSpace(l)
	}
	words := strings.Fields(name)
	return words[0], strings.Join(words[1:], " ")
}
