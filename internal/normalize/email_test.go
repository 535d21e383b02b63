package normalize

import (
	"math/rand/v2"
	"strings"
	"testing"
)

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
		checkPlainKey(t, strings.TrimSpace(raw))
		checkNoAt(t, strings.TrimSpace(raw))
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

// The one-pass path gives, for every address it takes, the key the mail
// and IDNA parsers give: checked on addresses built at random from the
// characters that matter, and on the fuzzer's inputs.
func TestPlainKeyAgreesWithTheParsers(t *testing.T) {
	// Mostly what addresses are made of, and now and then what breaks them.
	local := []string{"a", "Jan", "z9", "Chloé", ".", "+tag", "_", "'", "!", "~", "=", "/", "{}", "-", " ", "\"", "\\", "(", "<",
		"e\u0301", "ß", "İ", "Σ", "\u212a", "\u037e", "\u1fef", "\u00a0", "\u200b", "\ufffd", "\xff", "\xc3", "日本"}
	label := []string{"example", "Be", "com", "x1", "a-b", "-a", "b-", "xn--caf-dma", "ab--cd", "1", "", "café", "ß", "ｅ", "١", "\u00ad",
		strings.Repeat("l", 63), strings.Repeat("l", 64)}
	join := []string{".", ".", ".", ".", "..", "@", " ", "[", "]"}
	rng := rand.New(rand.NewPCG(1, 2))
	// Two times in three, a piece is from the first few, which are valid
	// anywhere.
	pick := func(from []string) string {
		if rng.IntN(3) > 0 {
			return from[rng.IntN(4)]
		}
		return from[rng.IntN(len(from))]
	}
	taken := 0
	for range 100000 {
		var b strings.Builder
		for range 1 + rng.IntN(4) {
			b.WriteString(pick(local))
		}
		b.WriteString("@")
		b.WriteString(pick(label))
		for range rng.IntN(4) {
			b.WriteString(pick(join))
			b.WriteString(pick(label))
		}
		if checkPlainKey(t, b.String()) {
			taken++
		}
	}
	// The generator must reach the one-pass path often, or this checks
	// nothing.
	if taken < 20000 {
		t.Errorf("only %d of the addresses took the one-pass path", taken)
	}
}

// checkPlainKey fails t when plainKey takes s and the parsers disagree,
// and tells whether plainKey took it.
func checkPlainKey(t *testing.T, s string) bool {
	t.Helper()
	key, ok := plainKey(s)
	if !ok {
		return false
	}
	if want, err := parsedKey(s); err != nil || key != want {
		t.Errorf("plainKey(%q) = %q; the parsers give %q, %v", s, key, want, err)
	}
	return true
}

// An address without an @ is invalid, as the parsers say: EmailKey tells so
// without them.
func TestNoAtIsInvalid(t *testing.T) {
	for _, s := range []string{"jan", "not-an-email-42", "Jan Peeters", "jan.example.be", "undisclosed-recipients:;", "<jan>", "\"jan\"", "日本"} {
		checkNoAt(t, s)
		if _, err := EmailKey(s); err != ErrInvalidEmail {
			t.Errorf("EmailKey(%q): %v, want ErrInvalidEmail", s, err)
		}
	}
}

// checkNoAt fails t when s has no @ and the parsers take it.
func checkNoAt(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(s, "@") || s == "" {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("parsedKey(%q) panics: %v", s, p)
		}
	}()
	if key, err := parsedKey(s); err == nil {
		t.Errorf("parsedKey(%q) = %q, though it has no @", s, key)
	}
}

// BenchmarkEmailKey keys the addresses of a typical list: plain ones in
// mixed case, one in another script, and now and then one the parsers
// judge.
func BenchmarkEmailKey(b *testing.B) {
	addrs := []string{"jan.peeters@example.be", "Marie.Dubois@Gmail.com", "info+news@shop.example.co.uk", "pete_o'neil@mail.example.ie",
		"chloé.desmet@example.be", "élise@café.fr", " zoe@example.nl "}
	for i := 0; b.Loop(); i++ {
		if _, err := EmailKey(addrs[i%len(addrs)]); err != nil {
			b.Fatal(err)
		}
	}
}
