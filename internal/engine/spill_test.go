package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/contactconverter/contact-converter/internal/merge"
)

// Rows come back from the spill as they went in, sorted by key, then source,
// then line, whichever writer spilled them.
func TestSpillRoundTrip(t *testing.T) {
	s, err := newSpill(t.TempDir(), 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	in := []merge.Row{
		{Key: "b@x.be", Source: 0, Line: 2, Email: "B@x.be", FirstName: "Bé", OptOut: true},
		{Key: "a@x.be", Source: 0, Line: 3, Language: "fr", Fields: map[string]string{"city": "Gent", "tier": ""}},
		{Key: "b@x.be", Source: 1, Line: 2, LastName: "Ünal"},
		{Key: "a@x.be", Source: 2, Line: 9, OptOut: true, OptOutAt: "2024-03-02T10:15:00.000000000Z", OptOutReason: "Too many mails"},
	}
	// Two readers spill concurrently read sources; order comes from the rows.
	for i := range in {
		if err := s.writers[in[i].Source%2].add(0, &in[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.finish(); err != nil {
		t.Fatal(err)
	}
	got, err := s.load(0)
	if err != nil {
		t.Fatal(err)
	}
	want := []merge.Row{in[1], in[3], in[0], in[2]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spill round trip (-want +got):\n%s", diff)
	}
	if rows, err := s.load(1); err != nil || rows != nil {
		t.Errorf("an empty partition: %v %v", rows, err)
	}
}
