// Package linktoken signs and verifies the links a preference center mails
// to contacts: HMAC-SHA256 over the contact key, a purpose and an expiry,
// with the contact key encrypted so a link never shows the address. Several
// keys verify, so keys rotate; the one named active signs.
package linktoken

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors of Verify. Callers show the same page for both and never say more:
// a link reveals nothing about whether an address exists.
var (
	ErrInvalid = errors.New("the link is not valid")
	ErrExpired = errors.New("the link has expired")
)

// Purposes a link can serve; a link for one never works for another.
const (
	PurposePreferences = "prefs"
	PurposeUnsubscribe = "unsub"
	// PurposeForm guards a page's form against cross-site requests: it is
	// minted when the form is shown and checked when it is posted.
	PurposeForm = "form"
)

// MinKeyBytes is the shortest accepted signing key.
const MinKeyBytes = 32

// ActiveKeyEntry is the signing Secret's entry naming the key that signs;
// every other entry is a key that verifies. It may be left out when the
// Secret holds one key.
const ActiveKeyEntry = "active-key"

var keyIDPattern = regexp.MustCompile(`^[-._a-zA-Z0-9]{1,64}$`)

var b64 = base64.RawURLEncoding

type key struct {
	id       string
	mac, enc []byte
}

// Signer mints and verifies links.
type Signer struct {
	keys    map[string]key
	signing string
	// MaxTTL, when set, refuses a token whose expiry lies further ahead
	// than it: a leaked key cannot mint links that never expire.
	MaxTTL time.Duration
}

// NewSigner takes the signing Secret's data: every key verifies, the one
// ActiveKeyEntry names signs.
func NewSigner(secretData map[string][]byte) (*Signer, error) {
	s := &Signer{keys: map[string]key{}}
	ids := make([]string, 0, len(secretData))
	for id, secret := range secretData {
		if id == ActiveKeyEntry {
			continue
		}
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("signing key name %q: use letters, digits, '-', '_' or '.'", id)
		}
		if len(secret) < MinKeyBytes {
			return nil, fmt.Errorf("signing key %q has %d bytes; it needs at least %d random bytes", id, len(secret), MinKeyBytes)
		}
		s.keys[id] = key{id: id, mac: derive(secret, "mac"), enc: derive(secret, "enc")}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	active, named := secretData[ActiveKeyEntry]
	switch {
	case len(ids) == 0:
		return nil, errors.New("the signing Secret has no key")
	case named:
		s.signing = strings.TrimSpace(string(active))
		if _, ok := s.keys[s.signing]; !ok {
			return nil, fmt.Errorf("the signing Secret's %s entry names %q, which is not one of its keys (%s)", ActiveKeyEntry, s.signing, strings.Join(ids, ", "))
		}
	case len(ids) == 1:
		s.signing = ids[0]
	default:
		return nil, fmt.Errorf("the signing Secret holds %d keys (%s): name the one that signs in its %s entry", len(ids), strings.Join(ids, ", "), ActiveKeyEntry)
	}
	return s, nil
}

// derive makes independent keys for signing and encrypting from one secret.
func derive(secret []byte, use string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("contact-converter link " + use))
	return m.Sum(nil)
}

// Mint returns a link token for contactKey, valid for purpose until expires.
func (s *Signer) Mint(contactKey, purpose string, expires time.Time) (string, error) {
	k := s.keys[s.signing]
	nonce := make([]byte, 12)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	exp := strconv.FormatInt(expires.Unix(), 36)
	aead, err := gcm(k.enc)
	if err != nil {
		return "", err
	}
	sealed := aead.Seal(nonce, nonce, []byte(contactKey), []byte(purpose+"."+exp))
	payload := strings.Join([]string{"v1", k.id, exp, purpose, b64.EncodeToString(sealed)}, ".")
	return payload + "." + b64.EncodeToString(sign(k.mac, payload)), nil
}

// Verify checks a token for purpose at now and returns its contact key.
func (s *Signer) Verify(token, purpose string, now time.Time) (string, error) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 || len(token) > 4096 {
		return "", ErrInvalid
	}
	payload, macText := token[:i], token[i+1:]
	parts := strings.Split(payload, ".")
	if len(parts) != 5 || parts[0] != "v1" {
		return "", ErrInvalid
	}
	k, ok := s.keys[parts[1]]
	mac, err := b64.DecodeString(macText)
	if !ok || err != nil || !hmac.Equal(mac, sign(k.mac, payload)) {
		return "", ErrInvalid
	}
	if parts[3] != purpose {
		return "", ErrInvalid
	}
	exp, err := strconv.ParseInt(parts[2], 36, 64)
	if err != nil {
		return "", ErrInvalid
	}
	expires := time.Unix(exp, 0)
	if s.MaxTTL > 0 && expires.After(now.Add(s.MaxTTL+time.Minute)) {
		return "", ErrInvalid
	}
	// An unsubscribe link works for as long as its key is kept: it sits in
	// every newsletter ever sent.
	if purpose != PurposeUnsubscribe && !now.Before(expires) {
		return "", ErrExpired
	}
	sealed, err := b64.DecodeString(parts[4])
	if err != nil || len(sealed) < 12 {
		return "", ErrInvalid
	}
	aead, err := gcm(k.enc)
	if err != nil {
		return "", ErrInvalid
	}
	plain, err := aead.Open(nil, sealed[:12], sealed[12:], []byte(purpose+"."+parts[2]))
	if err != nil {
		return "", ErrInvalid
	}
	return string(plain), nil
}

func sign(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// NewKey returns random bytes for a new signing key.
func NewKey() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}
