package engine

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/contactconverter/contact-converter/internal/merge"
	"github.com/contactconverter/contact-converter/internal/store"
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
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("spill round trip (-want +got):\n%s", diff)
	}
	if rows, err := s.load(1); err != nil || rows != nil {
		t.Errorf("an empty partition: %v %v", rows, err)
	}
}

// Sorting puts a partition's rows in bucket, key, source and line order,
// whatever the order they came in, and keeps every row whole.
func TestSortByKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"a@x.be", "b@x.be", "c@x.be", "d@x.be", "e@x.be", "jan@example.be", "els@example.be"}
	var rows []merge.Row
	for i := range 500 {
		rows = append(rows, merge.Row{Key: keys[rng.IntN(len(keys))], Source: rng.IntN(3), Line: rng.IntN(50), Email: fmt.Sprint(i)})
	}
	want := slices.Clone(rows)
	slices.SortStableFunc(want, func(a, b merge.Row) int {
		return cmp.Or(cmp.Compare(store.Bucket(a.Key), store.Bucket(b.Key)), strings.Compare(a.Key, b.Key),
			cmp.Compare(a.Source, b.Source), cmp.Compare(a.Line, b.Line))
	})
	got := sortByKey(rows)
	// Rows equal in all four are in no set order: compare without their tag.
	strip := func(rs []merge.Row) []merge.Row {
		out := slices.Clone(rs)
		for i := range out {
			out[i].Email = ""
		}
		return out
	}
	if diff := gocmp.Diff(strip(want), strip(got)); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	tags := func(rs []merge.Row) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Email)
		}
		slices.Sort(out)
		return out
	}
	if diff := gocmp.Diff(tags(want), tags(got)); diff != "" {
		t.Errorf("rows lost or doubled (-want +got):\n%s", diff)
	}
}
