package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/testenv"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
)

// convert creates a conversion with its own claim and list in ns.
func (h *harness) convert(t *testing.T, ns, name string) *ccv1.ContactConversion {
	t.Helper()
	h.create(t, claim(ns, "contacts-"+name))
	h.create(t, configMap(ns, "lists-"+name, map[string]string{"fair.csv": "email\n"}))
	cc := tw.MakeConversion(name, ns).SQLite("contacts-"+name).CSVFromConfigMap("fair", "lists-"+name, "fair.csv").Obj()
	h.create(t, cc)
	return cc
}

// running lists the conversions of ccs whose phase is Running, as ns/name.
func (h *harness) running(t *testing.T, ccs []*ccv1.ContactConversion) []string {
	t.Helper()
	out := []string{}
	for _, cc := range ccs {
		if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(cc), cc); err != nil {
			t.Fatal(err)
		}
		if cc.Status.Phase == ccv1.PhaseRunning {
			out = append(out, cc.Namespace+"/"+cc.Name)
		}
	}
	return out
}

// activeJobs counts the operator's Jobs that are not finished or suspended.
func (h *harness) activeJobs(t *testing.T) int {
	t.Helper()
	var jobs batchv1.JobList
	if err := h.c.List(context.Background(), &jobs, client.MatchingLabels{desired.LabelManagedBy: desired.ManagedBy}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := range jobs.Items {
		if jobRunning(&jobs.Items[i]) && jobs.Items[i].DeletionTimestamp == nil {
			n++
		}
	}
	return n
}

// waitQueued waits until every conversion of ccs is queued for a slot.
func (h *harness) waitQueued(t *testing.T, ccs ...*ccv1.ContactConversion) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d conversions queued", len(ccs)), func() string {
		for _, cc := range ccs {
			if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(cc), cc); err != nil || !cc.Status.QueuedForCapacity() {
				return cc.Namespace + "/" + cc.Name + " not queued"
			}
		}
		return ""
	})
}

func (h *harness) waitRunning(t *testing.T, ccs []*ccv1.ContactConversion, want ...string) {
	t.Helper()
	slices.Sort(want)
	eventually(t, "running "+strings.Join(want, ", "), func() string {
		got := h.running(t, ccs)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return "running " + strings.Join(got, ", ")
		}
		return ""
	})
}

// A slot freed by a completion, a failure, a deleted conversion or a
// suspend goes to the next conversion in the queue, and only to it.
func TestAFreedSlotGoesToTheNext(t *testing.T) {
	h := startHarnessWithCap(t, 1)
	ns := h.namespace(t, "queue")
	first := h.convert(t, ns, "q0")
	h.waitJobs(t, ns, "q0", 1)
	ccs := []*ccv1.ContactConversion{first}
	for i := 1; i <= 4; i++ {
		ccs = append(ccs, h.convert(t, ns, fmt.Sprintf("q%d", i)))
	}
	eventually(t, "four queued, with their places", func() string {
		for i, cc := range ccs[1:] {
			if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(cc), cc); err != nil || !cc.Status.QueuedForCapacity() {
				return cc.Name + " not queued"
			}
			if q := cc.Status.Queue; q == nil || q.Reason != ccv1.QueueReasonClusterCap || q.Position < 1 || int(q.Position) > i+1 {
				return fmt.Sprintf("%s: queue %+v", cc.Name, q)
			}
		}
		return ""
	})
	h.finishJob(t, h.waitJobs(t, ns, "q0", 1), true) // a completion
	h.waitRunning(t, ccs, ns+"/q1")
	h.waitEvent(t, ns, "q1", "Admitted")
	h.finishJob(t, h.waitJobs(t, ns, "q1", 1), false) // a failure
	h.waitRunning(t, ccs, ns+"/q2")
	// A deletion: the garbage collector (not in this control plane) then
	// deletes its Job, whose slot is counted until it is gone.
	job := h.waitJobs(t, ns, "q2", 1)
	if err := h.c.Delete(context.Background(), ccs[2]); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Delete(context.Background(), job, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	h.waitRunning(t, slices.Delete(slices.Clone(ccs), 2, 3), ns+"/q3")
	patchSuspend(t, h, ccs[3], true) // a suspend
	h.waitRunning(t, ccs[4:], ns+"/q4")
	if n := h.activeJobs(t); n != 1 {
		t.Errorf("%d Jobs run under a cap of 1", n)
	}
}

func patchSuspend(t *testing.T, h *harness, cc *ccv1.ContactConversion, suspend bool) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"suspend":%t}}`, suspend)
	if err := h.c.Patch(context.Background(), cc, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

// Two tenants with 10 and 2 conversions waiting under a cap of 4 get 2
// slots each; with a cap per namespace of 1, a tenant waits on its own cap.
func TestTenantsShareTheSlots(t *testing.T) {
	h := startHarnessWithCap(t, 4)
	blk := h.namespace(t, "blockers")
	var blockers []*ccv1.ContactConversion
	for i := range 4 {
		blockers = append(blockers, h.convert(t, blk, fmt.Sprintf("b%d", i)))
	}
	for _, b := range blockers {
		h.waitJobs(t, blk, b.Name, 1)
	}
	ten, two := h.namespace(t, "ten"), h.namespace(t, "two")
	var waiting []*ccv1.ContactConversion
	for i := range 10 {
		waiting = append(waiting, h.convert(t, ten, fmt.Sprintf("c%d", i)))
	}
	waiting = append(waiting, h.convert(t, two, "c0"), h.convert(t, two, "c1"))
	h.waitQueued(t, waiting...)
	for _, b := range blockers {
		h.finishJob(t, h.waitJobs(t, blk, b.Name, 1), true)
	}
	h.waitRunning(t, waiting, ten+"/c0", ten+"/c1", two+"/c0", two+"/c1")
	time.Sleep(time.Second)
	if n := h.activeJobs(t); n != 4 {
		t.Errorf("%d Jobs run under a cap of 4", n)
	}
}

// The operator restarts in the middle of a rush: the new one counts the
// running Jobs from the cluster and admits no more than the cap.
func TestARestartAdmitsNoMoreThanTheCap(t *testing.T) {
	h := startHarnessWithCap(t, 2)
	ns := h.namespace(t, "rush")
	var ccs []*ccv1.ContactConversion
	for i := range 6 {
		ccs = append(ccs, h.convert(t, ns, fmt.Sprintf("r%d", i)))
	}
	eventually(t, "two running, four queued", func() string {
		queued := 0
		for _, cc := range ccs {
			if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(cc), cc); err != nil {
				return err.Error()
			}
			if cc.Status.QueuedForCapacity() {
				queued++
			}
		}
		if r := h.running(t, ccs); len(r) != 2 || queued != 4 {
			return fmt.Sprintf("running %v, %d queued", r, queued)
		}
		return ""
	})
	// The operator stops and a new one starts, with none of the first's
	// state: it learns the running Jobs from the cache.
	h.stopManager()
	t.Cleanup(h.startManager(t, Options{MaxConcurrent: 2}))
	for range 20 {
		if n := h.activeJobs(t); n > 2 {
			t.Fatalf("%d Jobs run under a cap of 2 after the restart", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	running := h.running(t, ccs)
	for _, cc := range ccs {
		if slices.Contains(running, cc.Namespace+"/"+cc.Name) {
			h.finishJob(t, h.waitJobs(t, ns, cc.Name, 1), true)
			break
		}
	}
	eventually(t, "the freed slot taken", func() string {
		if n := h.activeJobs(t); n != 2 {
			return fmt.Sprintf("%d active Jobs", n)
		}
		return ""
	})
	for range 10 {
		if n := h.activeJobs(t); n > 2 {
			t.Fatalf("%d Jobs run under a cap of 2", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// With --watch-namespaces, the operator manages those namespaces only.
func TestWatchNamespaces(t *testing.T) {
	h := &harness{env: testenv.Start(t), clock: clocktesting.NewFakeClock(time.Date(2026, 11, 2, 16, 0, 0, 0, time.UTC))}
	h.c = h.env.Client
	watched, other := h.namespace(t, "watched"), h.namespace(t, "other")
	t.Cleanup(h.startManager(t, Options{MaxConcurrent: 4}, watched))
	mine, theirs := h.convert(t, watched, "a"), h.convert(t, other, "a")
	h.waitJobs(t, watched, "a", 1)
	eventually(t, "the watched conversion has a status", func() string {
		if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(mine), mine); err != nil || mine.Status.Phase == "" {
			return "no phase yet"
		}
		return ""
	})
	time.Sleep(2 * time.Second)
	if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(theirs), theirs); err != nil || theirs.Status.Phase != "" {
		t.Errorf("a conversion outside the watched namespaces got phase %q (%v)", theirs.Status.Phase, err)
	}
}

// A conversion's first run creates its identity and report objects; a
// later run finds them in place, so its admission writes its Job and its
// status only.
func TestALaterRunWritesItsJobAndStatusOnly(t *testing.T) {
	h := startHarnessWithCap(t, 1)
	ns := h.namespace(t, "admit")
	first, next := h.convert(t, ns, "a0"), h.convert(t, ns, "a1")
	h.finishJob(t, h.waitJobs(t, ns, first.Name, 1), true)
	h.finishJob(t, h.waitJobs(t, ns, next.Name, 1), true)
	h.waitPhase(t, next, ccv1.PhaseSucceeded)
	_, mark := h.writes.since(0)
	// Both asked to run again: a1 waits for a0's slot.
	for _, cc := range []*ccv1.ContactConversion{first, next} {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"2026-11-02T17:00:00+01:00"}}}`, ccv1.RunRequestedAtAnnotation)
		if err := h.c.Patch(context.Background(), cc, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
			t.Fatal(err)
		}
	}
	h.waitQueued(t, next)
	h.finishJob(t, h.waitJobs(t, ns, first.Name, 2), true)
	job := h.waitJobs(t, ns, next.Name, 2)
	h.waitRunning(t, []*ccv1.ContactConversion{next}, ns+"/a1")
	h.waitEvent(t, ns, next.Name, "Admitted")
	all, _ := h.writes.since(mark)
	var got []string
	for _, w := range all {
		if strings.HasSuffix(w, " "+ns+"/a1") || strings.Contains(w, " "+ns+"/a1-") {
			got = append(got, w)
		}
	}
	// Its queue place, then its admission.
	want := []string{"patch status ContactConversion " + ns + "/a1", "create Job " + ns + "/" + job.Name, "patch status ContactConversion " + ns + "/a1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("a1's second run wrote (-want +got):\n%s", diff)
	}
}
