package normalize

import "testing"

func TestEmailKey(t *testing.T) {
	tests := []struct {
		raw, want string
		err       error
	}{
		{"jan.peeters@example.be", "jan.peeters@example.be", nil},
		{"  Jan.Peeters@Example.BE ", "jan.peeters@example.be", nil},
		{"jan+news@example.be", "jan+news@example.be", nil}, // tags kept
		{"j.a.n@gmail.com", "j.a.n@gmail.com", nil},         // dots kept
		{"élise@café.fr", "élise@xn--caf-dma.fr", nil},      // IDNA domain
		{"info@BÜCHER.de", "info@xn--bcher-kva.de", nil},
		{"", "", ErrMissing},
		{"   ", "", ErrMissing},
		{"Jan Peeters <jan@example.be>", "", ErrInvalidEmail}, // display name
		{"\"jan peeters\"@example.be", "", ErrInvalidEmail},   // quoted local part
		{"jan@localhost", "", ErrInvalidEmail},                // no dot
		{"jan@example.", "", ErrInvalidEmail},
		{"jan@@example.be", "", ErrInvalidEmail},
		{"jan@exa mple.be", "", ErrInvalidEmail},
		{"jan", "", ErrInvalidEmail},
		{"@example.be", "", ErrInvalidEmail},
		{"jan@example.be (work)", "", ErrInvalidEmail}, // comment
		{"jan@-example.be", "", ErrInvalidEmail},
	}
	for _, tc := range tests {
		got, err := EmailKey(tc.raw)
		if got != tc.want || err != tc.err {
			t.Errorf("EmailKey(%q) = %q, %v; want %q, %v", tc.raw, got, err, tc.want, tc.err)
		}
	}
}

func TestOtherKey(t *testing.T) {
	if k, err := OtherKey("  C-0042 "); k != "C-0042" || err != nil {
		t.Errorf("OtherKey = %q, %v", k, err)
	}
	if _, err := OtherKey(" \t"); err != ErrMissing {
		t.Errorf("empty key: %v", err)
	}
}

func FuzzEmailKey(f *testing.F) {
	for _, s := range []string{"a@b.be", "Jan <j@x.be>", "é@ü.de", "\"a b\"@c.d", "a@b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		key, err := EmailKey(raw)
		if err != nil {
			return
		}
		// A key is its own key: normalising is idempotent.
		again, err := EmailKey(key)
		if err != nil || again != key {
			t.Fatalf("EmailKey(%q) = %q, but EmailKey(%q) = %q, %v", raw, key, key, again, err)
		}
	})
}
