package normalize

import (
	"errors"
	"mime"
	"net/mail"
	"net/url"
	"strings"

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
