package admission

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC)

func cand(ns, name string, window time.Duration, created time.Duration) Candidate {
	return Candidate{Namespace: ns, Name: name, WindowStart: t0.Add(window), Created: t0.Add(-24 * time.Hour).Add(created)}
}

func names(cs []Candidate) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Namespace+"/"+c.Name)
	}
	return out
}

func TestAdmit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		candidates []Candidate
		running    map[string]int
		free       int
		want       []string
	}{
		{"oldest window first", []Candidate{cand("a", "late", time.Hour, 0), cand("b", "early", 0, time.Minute)}, nil, 1,
			[]string{"b/early"}},
		{"same window: oldest created first", []Candidate{cand("a", "new", 0, time.Hour), cand("b", "old", 0, 0)}, nil, 1,
			[]string{"b/old"}},
		{"one tenant with many conversions does not take every slot",
			[]Candidate{cand("big", "1", 0, 0), cand("big", "2", 0, 1), cand("big", "3", 0, 2), cand("small", "1", 0, 3), cand("other", "1", time.Minute, 0)},
			nil, 3, []string{"big/1", "small/1", "other/1"}},
		{"a namespace already running waits behind the others",
			[]Candidate{cand("big", "4", 0, 0), cand("small", "2", time.Hour, 0)}, map[string]int{"big": 2}, 1,
			[]string{"small/2"}},
		{"round-robin continues once every namespace had its turn",
			[]Candidate{cand("a", "1", 0, 0), cand("a", "2", 0, 1), cand("b", "1", 0, 2)}, nil, 3,
			[]string{"a/1", "b/1", "a/2"}},
		{"no free slot", []Candidate{cand("a", "1", 0, 0)}, nil, 0, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, names(Admit(tc.candidates, tc.running, tc.free))); diff != "" {
				t.Errorf("admitted (-want +got):\n%s", diff)
			}
		})
	}
}
