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

func TestSplitAddress(t *testing.T) {
	tests := []struct{ raw, addr, name string }{
		{"jan@example.be", "jan@example.be", ""},
		{` "Jan Peeters" <jan.peeters@example.be> `, "jan.peeters@example.be", "Jan Peeters"},
		{"Jan Peeters <jan@example.be>", "jan@example.be", "Jan Peeters"},
		{`"Peeters, Jan" <jan@example.be>`, "jan@example.be", "Peeters, Jan"},
		{"Peeters, Jan <jan@example.be>", "jan@example.be", "Peeters, Jan"},
		{"<jan@example.be>", "jan@example.be", ""},
		{"'Jan' <jan@example.be>", "jan@example.be", "Jan"},
		{"=?UTF-8?Q?Am=C3=A9lie_Dupont?= <amelie@example.fr>", "amelie@example.fr", "Amélie Dupont"},
		{"mailto:jan@example.be", "jan@example.be", ""},
		{"MAILTO:jan%40example.be?subject=Hallo", "jan@example.be", ""},
		{"Jan <not an address>", "not an address", "Jan"},
		{"jan@example.be (work)", "jan@example.be (work)", ""},
	}
	for _, tc := range tests {
		addr, name := SplitAddress(tc.raw)
		if addr != tc.addr || name != tc.name {
			t.Errorf("SplitAddress(%q) = %q, %q; want %q, %q", tc.raw, addr, name, tc.addr, tc.name)
		}
	}
}

func TestNameParts(t *testing.T) {
	tests := []struct{ name, first, last string }{
		{"Jan Peeters", "Jan", "Peeters"},
		{"Peeters, Jan", "Jan", "Peeters"},
		{"Jan", "Jan", ""},
		{"Jan  van der Berg", "Jan", "van der Berg"},
		{"jan@example.be", "", ""},
		{"", "", ""},
	}
	for _, tc := range tests {
		if first, last := NameParts(tc.name); first != tc.first || last != tc.last {
			t.Errorf("NameParts(%q) = %q, %q; want %q, %q", tc.name, first, last, tc.first, tc.last)
		}
	}
}

// Keys are NFC: an address typed on macOS (decomposed accents) is the same
// contact as the one typed elsewhere.
func TestEmailKeyIsNFC(t *testing.T) {
	nfd, err := EmailKey("Ame\u0301lie@example.fr")
	if err != nil || nfd != "am\u00e9lie@example.fr" {
		t.Errorf("EmailKey(NFD) = %q, %v; want the NFC key", nfd, err)
	}
	if k, err := OtherKey(" Noe\u0308l-42 "); err != nil || k != "No\u00ebl-42" {
		t.Errorf("OtherKey(NFD) = %q, %v; want the NFC key", k, err)
	}
}
