// Package admission decides which queued conversions may start when caps
// leave fewer slots than there are candidates, and where the others stand:
// namespaces (tenants) take turns, then the oldest window goes first, then
// the conversion queued longest. It is a pure function of what it is given.
package admission

import (
	"cmp"
	"slices"
	"time"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// Candidate is a conversion that wants a slot.
type Candidate struct {
	Namespace, Name string
	// WindowStart is the start of the window it runs in.
	WindowStart time.Time
	// QueuedSince is when it started waiting (now, for one not yet queued).
	QueuedSince time.Time
}

// Key is namespace/name.
func (c Candidate) Key() string { return c.Namespace + "/" + c.Name }

// Caps bound the running conversions; 0 is no bound.
type Caps struct {
	// Cluster is --max-concurrent-conversions.
	Cluster int
	// PerNamespace is --max-concurrent-conversions-per-namespace.
	PerNamespace int
}

// Decision is a candidate's fate: admitted now, or waiting at Position
// (1 is next) on the cap Reason.
type Decision struct {
	Candidate
	Admit    bool
	Position int
	Reason   ccv1.QueueReason
}

// Plan orders the candidates and admits those the caps allow. running
// counts the conversions already holding a slot, by namespace, and
// lastAdmitted is when each namespace last got one. A namespace's k-th
// candidate comes in round k plus the runs it already has, so one tenant
// with many conversions never takes every slot; within a round, the
// namespaces take turns (the one served longest ago, or never, first),
// then the oldest window, then the oldest queued, then the name.
func Plan(candidates []Candidate, running map[string]int, lastAdmitted map[string]time.Time, caps Caps) []Decision {
	sorted := slices.Clone(candidates)
	slices.SortFunc(sorted, byWindow)
	type ranked struct {
		Candidate
		round int
	}
	seen := map[string]int{}
	all := make([]ranked, 0, len(sorted))
	total := 0
	for _, n := range running {
		total += n
	}
	for _, c := range sorted {
		all = append(all, ranked{c, running[c.Namespace] + seen[c.Namespace]})
		seen[c.Namespace]++
	}
	slices.SortStableFunc(all, func(a, b ranked) int {
		return cmp.Or(cmp.Compare(a.round, b.round), lastAdmitted[a.Namespace].Compare(lastAdmitted[b.Namespace]))
	})

	out := make([]Decision, 0, len(all))
	admitted := map[string]int{}
	position := 0
	for _, r := range all {
		d := Decision{Candidate: r.Candidate}
		switch {
		case caps.PerNamespace > 0 && running[r.Namespace]+admitted[r.Namespace] >= caps.PerNamespace:
			d.Reason = ccv1.QueueReasonNamespaceCap
		case caps.Cluster > 0 && total >= caps.Cluster:
			d.Reason = ccv1.QueueReasonClusterCap
		default:
			d.Admit = true
			admitted[r.Namespace]++
			total++
		}
		if !d.Admit {
			position++
			d.Position = position
		}
		out = append(out, d)
	}
	return out
}

func byWindow(a, b Candidate) int {
	if c := a.WindowStart.Compare(b.WindowStart); c != 0 {
		return c
	}
	if c := a.QueuedSince.Compare(b.QueuedSince); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}
