package mask

import "testing"

func TestKey(t *testing.T) {
	for in, want := range map[string]string{"marie.dubois@example.fr": "m•••@example.fr", "élise@café.be": "é•••@café.be", "m@example.fr": "m•••@example.fr", "CUST-00042": "C•••2", "ab": "•••", "": "•••"} {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	in := `row 12: "Jan Peeters" <jan.peeters@example.be>, mailto:marie@example.fr; kim@example.nl.`
	want := `row 12: "Jan Peeters" <j•••@example.be>, mailto:m•••@example.fr; k•••@example.nl.`
	if got := Text(in); got != want {
		t.Errorf("Text:\n got %s\nwant %s", got, want)
	}
}
