package linktoken

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func signer(t *testing.T, keys ...string) *Signer {
	t.Helper()
	data := map[string][]byte{}
	for _, k := range keys {
		data[k] = []byte(strings.Repeat(k[:1], 32))
	}
	data[ActiveKeyEntry] = []byte(keys[len(keys)-1]) // the last one given signs
	s, err := NewSigner(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	old := signer(t, "k2026-01")
	rotated := signer(t, "k2026-01", "k2026-11") // k2026-11 signs, both verify
	tokOld, _ := old.Mint("jan.peeters@example.be", PurposePreferences, now.Add(time.Hour))
	tokNew, _ := rotated.Mint("jan.peeters@example.be", PurposePreferences, now.Add(time.Hour))
	expired, _ := rotated.Mint("jan.peeters@example.be", PurposePreferences, now.Add(-time.Second))
	unsub, _ := rotated.Mint("jan.peeters@example.be", PurposeUnsubscribe, now.Add(time.Hour))
	tampered := []byte(tokNew)
	tampered[len("v1.k2026-11.")+2] ^= 1 // the expiry
	parts := strings.Split(tokNew, ".")
	otherPurpose := strings.Join([]string{parts[0], parts[1], parts[2], PurposeUnsubscribe, parts[4], parts[5]}, ".")

	tests := []struct {
		name    string
		s       *Signer
		token   string
		purpose string
		want    string
		err     error
	}{
		{"a fresh link", rotated, tokNew, PurposePreferences, "jan.peeters@example.be", nil},
		{"an old key still verifies after rotation", rotated, tokOld, PurposePreferences, "jan.peeters@example.be", nil},
		{"a new key is unknown to the old signer", old, tokNew, PurposePreferences, "", ErrInvalid},
		{"expired", rotated, expired, PurposePreferences, "", ErrExpired},
		{"tampered expiry", rotated, string(tampered), PurposePreferences, "", ErrInvalid},
		{"purpose mix-up", rotated, unsub, PurposePreferences, "", ErrInvalid},
		{"purpose rewritten in the token", rotated, otherPurpose, PurposeUnsubscribe, "", ErrInvalid},
		{"garbage", rotated, "not.a.token", PurposePreferences, "", ErrInvalid},
		{"empty", rotated, "", PurposePreferences, "", ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.s.Verify(tc.token, tc.purpose, now)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("Verify = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
	if strings.Contains(tokNew, "jan") || strings.Contains(tokNew, "example") {
		t.Errorf("the token shows the address: %s", tokNew)
	}
	if a, _ := rotated.Mint("x@y.be", PurposePreferences, now.Add(time.Hour)); a == tokNew {
		t.Error("two tokens are identical")
	}
}

func TestNewSignerRejectsWeakKeys(t *testing.T) {
	if _, err := NewSigner(map[string][]byte{"k": []byte("short")}); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Errorf("short key: %v", err)
	}
	if _, err := NewSigner(nil); err == nil {
		t.Error("no key accepted")
	}
	if _, err := NewSigner(map[string][]byte{"a b": make([]byte, 32)}); err == nil {
		t.Error("a key name with a space accepted")
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := NewSigner(map[string][]byte{"k1": []byte(strings.Repeat("k", 32))})
	tok, _ := s.Mint("a@b.be", PurposePreferences, now.Add(time.Hour))
	f.Add(tok)
	f.Add("v1.k1.x.prefs.y.z")
	f.Fuzz(func(t *testing.T, token string) {
		key, err := s.Verify(token, PurposePreferences, now)
		if err == nil && key != "a@b.be" {
			t.Fatalf("forged token accepted for %q", key)
		}
	})
}

// The unsubscribe link of an old newsletter keeps working: mailbox providers
// require it. Other links expire, and no token lives longer than the TTL
// allows, so a leaked key cannot mint links that never expire.
func TestUnsubscribeLinksOutliveTheTTL(t *testing.T) {
	s := signer(t, "k1")
	s.MaxTTL = 720 * time.Hour
	later := now.Add(5 * 7 * 24 * time.Hour) // a newsletter five weeks old
	unsub, _ := s.Mint("jan@example.be", PurposeUnsubscribe, now.Add(s.MaxTTL))
	prefs, _ := s.Mint("jan@example.be", PurposePreferences, now.Add(s.MaxTTL))
	forever, _ := s.Mint("jan@example.be", PurposePreferences, now.Add(10*365*24*time.Hour))
	foreverUnsub, _ := s.Mint("jan@example.be", PurposeUnsubscribe, now.Add(10*365*24*time.Hour))
	for _, tc := range []struct {
		name, token, purpose string
		at                   time.Time
		err                  error
	}{
		{"unsubscribe link after the TTL", unsub, PurposeUnsubscribe, later, nil},
		{"preferences link after the TTL", prefs, PurposePreferences, later, ErrExpired},
		{"an expiry beyond the TTL", forever, PurposePreferences, now, ErrInvalid},
		{"an unsubscribe expiry beyond the TTL", foreverUnsub, PurposeUnsubscribe, now, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Verify(tc.token, tc.purpose, tc.at); !errors.Is(err, tc.err) {
				t.Errorf("Verify: %v, want %v", err, tc.err)
			}
		})
	}
}

// The key that signs is named, not chosen by sort order: adding a key to
// the Secret verifies it at once, and it signs once named.
func TestTheSigningKeyIsNamed(t *testing.T) {
	keys := map[string][]byte{"zz-new": []byte(strings.Repeat("n", 32)), "key-1": []byte(strings.Repeat("o", 32))}
	if _, err := NewSigner(keys); err == nil || !strings.Contains(err.Error(), ActiveKeyEntry) {
		t.Fatalf("two keys and no %s entry: err = %v, want one naming %s", ActiveKeyEntry, err, ActiveKeyEntry)
	}
	keys[ActiveKeyEntry] = []byte("key-1\n")
	s, err := NewSigner(keys)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := s.Mint("jan@example.be", PurposePreferences, now.Add(time.Hour))
	if !strings.HasPrefix(tok, "v1.key-1.") {
		t.Errorf("signed with %s, want the named key-1", strings.Split(tok, ".")[1])
	}
	keys[ActiveKeyEntry] = []byte("missing")
	if _, err := NewSigner(keys); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("an active key the Secret lacks: err = %v", err)
	}
}
