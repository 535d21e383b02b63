// Package admission decides which queued conversions may start when the
// cluster-wide cap leaves fewer slots than there are candidates: fairly
// across namespaces (tenants), then oldest window first.
package admission

import (
	"cmp"
	"slices"
	"time"
)

// Candidate is a conversion waiting for a slot.
type Candidate struct {
	Namespace, Name string
	// WindowStart is the start of the window it runs in.
	WindowStart time.Time
	// Created breaks ties between equal windows: the older first.
	Created time.Time
}

// Admit returns the candidates that get the free slots, in order. Namespaces
// take turns: a namespace's k-th candidate comes in round k plus the runs it
// already has, so one tenant with many conversions never takes every slot.
// Within a round: oldest window, then oldest conversion, then name.
func Admit(candidates []Candidate, running map[string]int, free int) []Candidate {
	if free <= 0 {
		return nil
	}
	sorted := slices.Clone(candidates)
	slices.SortFunc(sorted, byWindow)
	type ranked struct {
		Candidate
		round int
	}
	seen := map[string]int{}
	all := make([]ranked, 0, len(sorted))
	for _, c := range sorted {
		all = append(all, ranked{c, running[c.Namespace] + seen[c.Namespace]})
		seen[c.Namespace]++
	}
	slices.SortStableFunc(all, func(a, b ranked) int { return cmp.Compare(a.round, b.round) })
	out := make([]Candidate, 0, min(free, len(all)))
	for _, r := range all[:min(free, len(all))] {
		out = append(out, r.Candidate)
	}
	return out
}

func byWindow(a, b Candidate) int {
	if c := a.WindowStart.Compare(b.WindowStart); c != 0 {
		return c
	}
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}
