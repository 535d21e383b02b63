package admission

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC)

// cand is a candidate whose window opens window after t0, queued since
// queued after t0.
func cand(ns, name string, window, queued time.Duration) Candidate {
	return Candidate{Namespace: ns, Name: name, WindowStart: t0.Add(window), QueuedSince: t0.Add(queued)}
}

// summary shows decisions as "ns/name" (admitted) or "ns/name #pos reason".
func summary(ds []Decision) []string {
	out := []string{}
	for _, d := range ds {
		if d.Admit {
			out = append(out, d.Key())
		} else {
			out = append(out, fmt.Sprintf("%s #%d %s", d.Key(), d.Position, d.Reason))
		}
	}
	return out
}

func TestPlan(t *testing.T) {
	cluster := func(n int) Caps { return Caps{Cluster: n} }
	for _, tc := range []struct {
		name       string
		candidates []Candidate
		running    map[string]int
		last       map[string]time.Time
		caps       Caps
		want       []string
	}{
		{"oldest window first", []Candidate{cand("a", "late", time.Hour, 0), cand("b", "early", 0, time.Minute)}, nil, nil, cluster(1),
			[]string{"b/early", "a/late #1 ClusterCap"}},
		{"equal windows: the one queued longest first", []Candidate{cand("a", "new", 0, time.Hour), cand("b", "old", 0, 0)}, nil, nil, cluster(1),
			[]string{"b/old", "a/new #1 ClusterCap"}},
		{"equal windows and queue times: by name", []Candidate{cand("b", "x", 0, 0), cand("a", "x", 0, 0)}, nil, nil, cluster(1),
			[]string{"a/x", "b/x #1 ClusterCap"}},
		{"one tenant with many conversions does not take every slot",
			[]Candidate{cand("big", "1", 0, 0), cand("big", "2", 0, 1), cand("big", "3", 0, 2), cand("small", "1", 0, 3), cand("other", "1", time.Minute, 0)},
			nil, nil, cluster(3), []string{"big/1", "small/1", "other/1", "big/2 #1 ClusterCap", "big/3 #2 ClusterCap"}},
		{"a namespace already running waits behind the others",
			[]Candidate{cand("big", "4", 0, 0), cand("small", "2", time.Hour, 0)}, map[string]int{"big": 2}, nil, cluster(3),
			[]string{"small/2", "big/4 #1 ClusterCap"}},
		{"two tenants with 10 and 2 under a cap of 4 get 2 and 2", func() []Candidate {
			var cs []Candidate
			for i := range 10 {
				cs = append(cs, cand("ten", fmt.Sprint(i), 0, time.Duration(i)))
			}
			return append(cs, cand("two", "0", 0, 20), cand("two", "1", 0, 21))
		}(), nil, nil, cluster(4), []string{"ten/0", "two/0", "ten/1", "two/1",
			"ten/2 #1 ClusterCap", "ten/3 #2 ClusterCap", "ten/4 #3 ClusterCap", "ten/5 #4 ClusterCap",
			"ten/6 #5 ClusterCap", "ten/7 #6 ClusterCap", "ten/8 #7 ClusterCap", "ten/9 #8 ClusterCap"}},
		{"the namespace cap holds a tenant back while the cluster has room",
			[]Candidate{cand("a", "1", 0, 0), cand("a", "2", 0, 1), cand("b", "1", 0, 2)}, map[string]int{"a": 1}, nil, Caps{Cluster: 10, PerNamespace: 2},
			[]string{"b/1", "a/1", "a/2 #1 NamespaceCap"}},
		{"both caps: the namespace's own is named when it binds",
			[]Candidate{cand("a", "1", 0, 0), cand("b", "1", 0, 1)}, map[string]int{"a": 2, "c": 1}, nil, Caps{Cluster: 4, PerNamespace: 2},
			[]string{"b/1", "a/1 #1 NamespaceCap"}},
		{"the cluster is full", []Candidate{cand("a", "1", 0, 0)}, map[string]int{"x": 2}, nil, cluster(2),
			[]string{"a/1 #1 ClusterCap"}},
		{"no cap", []Candidate{cand("a", "1", 0, 0), cand("a", "2", 0, 0)}, map[string]int{"a": 9}, nil, Caps{},
			[]string{"a/1", "a/2"}},
		{"no candidate", nil, map[string]int{"a": 1}, nil, cluster(1), []string{}},
		{"in one round, the namespace served longest ago goes first",
			[]Candidate{cand("early", "1", 0, 0), cand("late", "1", 0, time.Minute), cand("never", "1", 0, 2*time.Minute)}, nil,
			map[string]time.Time{"early": t0.Add(time.Hour), "late": t0}, cluster(2),
			[]string{"never/1", "late/1", "early/1 #1 ClusterCap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, summary(Plan(tc.candidates, tc.running, tc.last, tc.caps))); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

// The whole decision, fields and all.
func TestPlanDecision(t *testing.T) {
	got := Plan([]Candidate{cand("a", "1", 0, 0), cand("a", "2", time.Hour, 0)}, nil, nil, Caps{Cluster: 5, PerNamespace: 1})
	want := []Decision{
		{Candidate: cand("a", "1", 0, 0), Admit: true},
		{Candidate: cand("a", "2", time.Hour, 0), Position: 1, Reason: ccv1.QueueReasonNamespaceCap},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
}
