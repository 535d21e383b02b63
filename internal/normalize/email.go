package normalize

import (
	"errors"
	"net/mail"
	"strings"

	"golang.org/x/net/idna"
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
	local, domain := s[:at], s[at+1:]
	if local == "" || strings.ContainsAny(local, "\"\\ ") {
		return "", ErrInvalidEmail
	}
	ascii, err := lookup.ToASCII(domain)
	if err != nil || !strings.Contains(ascii, ".") || strings.HasSuffix(ascii, ".") {
		return "", ErrInvalidEmail
	}
	return strings.ToLower(local) + "@" + strings.ToLower(ascii), nil
}

// OtherKey normalises a key that is not an email: trimmed, never empty.
func OtherKey(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", ErrMissing
	}
	return s, nil
}
