package lifecycle

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/podstart"
	"github.com/contactconverter/contact-converter/internal/schedule"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
)

var bxl, _ = time.LoadLocation("Europe/Brussels")

func brussels(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, bxl) }

// conv is a conversion with a 19:00-07:00 Brussels window on weekdays.
func conv(mut ...func(*ccv1.ContactConversion)) *ccv1.ContactConversion {
	w := tw.MakeConversion("acme", "tenant").TimeZone("Europe/Brussels").
		DailyWindow([]ccv1.Weekday{"Mon", "Tue", "Wed", "Thu", "Fri"}, "19:00", "07:00")
	for _, m := range mut {
		w.Edit(m)
	}
	return w.Obj()
}

func decide(t *testing.T, cc *ccv1.ContactConversion, now time.Time, job *Job, slot bool) Plan {
	t.Helper()
	s, err := schedule.Parse(cc.Spec.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	return Decide(Input{Now: now, Conversion: cc, SpecHash: "h1", Schedule: s, Job: job, SlotFree: slot})
}

func reason(p Plan, cond string) string {
	return ccv1.Conditions{List: &p.Status.Conditions}.Reason(cond)
}

func has(p Plan, cond string) bool {
	return ccv1.Conditions{List: &p.Status.Conditions}.Reason(cond) != ""
}

func TestDecide(t *testing.T) {
	running := &Job{Name: "acme-g1", Generation: 1, SpecHash: "h1"}
	suspended := &Job{Name: "acme-g1", Generation: 1, SpecHash: "h1", Suspended: true}
	tests := []struct {
		name      string
		cc        *ccv1.ContactConversion
		now       time.Time
		job       *Job
		noSlot    bool
		action    Action
		phase     ccv1.Phase
		ready     string // Ready's reason
		requeueAt time.Time
		event     string
	}{
		{name: "created at 16:00 waits for 19:00", cc: conv(), now: brussels(2, 16),
			phase: ccv1.PhaseWaiting, ready: ccv1.ReasonScheduled, requeueAt: brussels(2, 19), event: ccv1.ReasonScheduled},
		{name: "at 19:00 the Job is created", cc: conv(), now: brussels(2, 19),
			action: CreateJob, phase: ccv1.PhaseRunning, requeueAt: brussels(3, 7), event: EventStarted},
		{name: "no windows runs at once", cc: conv(func(c *ccv1.ContactConversion) { c.Spec.Schedule.Windows = nil }), now: brussels(2, 16),
			action: CreateJob, phase: ccv1.PhaseRunning, event: EventStarted},
		{name: "running inside the window stays running", cc: conv(), now: brussels(2, 23), job: running,
			phase: ccv1.PhaseRunning, requeueAt: brussels(3, 7)},
		{name: "at 07:00 the running Job is suspended", cc: conv(), now: brussels(3, 7), job: running,
			action: SuspendJob, phase: ccv1.PhasePaused, ready: ccv1.ReasonOutsideWindow, requeueAt: brussels(3, 19), event: EventPaused},
		{name: "pauseOutsideWindow false lets the run finish", cc: conv(func(c *ccv1.ContactConversion) { c.Spec.Schedule.PauseOutsideWindow = ptr.To(false) }),
			now: brussels(3, 7), job: running, phase: ccv1.PhaseRunning},
		{name: "the suspended Job waits for the evening", cc: conv(), now: brussels(3, 12), job: suspended,
			phase: ccv1.PhasePaused, ready: ccv1.ReasonOutsideWindow, requeueAt: brussels(3, 19)},
		{name: "the next evening resumes it", cc: conv(), now: brussels(3, 19), job: suspended,
			action: ResumeJob, phase: ccv1.PhaseRunning, requeueAt: brussels(4, 7), event: EventResumed},
		{name: "resuming waits for a free slot", cc: conv(), now: brussels(3, 19), job: suspended, noSlot: true,
			phase: ccv1.PhaseWaiting, ready: ccv1.ReasonQueuedForCapacity, event: ccv1.ReasonQueuedForCapacity},
		{name: "starting waits for a free slot", cc: conv(), now: brussels(2, 20), noSlot: true,
			phase: ccv1.PhaseWaiting, ready: ccv1.ReasonQueuedForCapacity, event: ccv1.ReasonQueuedForCapacity},
		{name: "spec.suspend suspends a running Job", cc: conv(func(c *ccv1.ContactConversion) { c.Spec.Suspend = true }), now: brussels(2, 23), job: running,
			action: SuspendJob, phase: ccv1.PhasePaused, ready: ccv1.ReasonSuspendedByUser, event: EventPaused},
		{name: "spec.suspend before any run", cc: conv(func(c *ccv1.ContactConversion) { c.Spec.Suspend = true }), now: brussels(2, 23),
			phase: ccv1.PhasePaused, ready: ccv1.ReasonSuspendedByUser},
		{name: "run now ignores the window", cc: conv(func(c *ccv1.ContactConversion) {
			c.Annotations = map[string]string{ccv1.RunRequestedAtAnnotation: "2026-11-02T12:00:00Z"}
		}), now: brussels(2, 12), action: CreateJob, phase: ccv1.PhaseRunning, event: EventStarted},
		{name: "run now does not ignore suspend", cc: conv(func(c *ccv1.ContactConversion) {
			c.Spec.Suspend = true
			c.Annotations = map[string]string{ccv1.RunRequestedAtAnnotation: "2026-11-02T12:00:00Z"}
		}), now: brussels(2, 12), phase: ccv1.PhasePaused, ready: ccv1.ReasonSuspendedByUser},
		{name: "a handled run request does not run again", cc: conv(func(c *ccv1.ContactConversion) {
			c.Annotations = map[string]string{ccv1.RunRequestedAtAnnotation: "2026-11-02T12:00:00Z"}
			c.Status.LastHandledRunRequest = "2026-11-02T12:00:00Z"
		}), now: brussels(2, 12), phase: ccv1.PhaseWaiting, ready: ccv1.ReasonScheduled, requeueAt: brussels(2, 19), event: ccv1.ReasonScheduled},
		{name: "a run-now Job is not paused outside the window", cc: conv(), now: brussels(3, 12),
			job: &Job{Name: "acme-g1-x", Generation: 1, SpecHash: "h1", RunRequest: "r"}, phase: ccv1.PhaseRunning},
		{name: "a succeeded Job completes the conversion", cc: conv(), now: brussels(3, 2),
			job:   &Job{Name: "acme-g1", Generation: 1, SpecHash: "h1", Finished: true, Succeeded: true, CompletionTime: brussels(3, 1)},
			phase: ccv1.PhaseSucceeded, ready: ccv1.ReasonSucceeded, event: ccv1.ReasonSucceeded},
		{name: "unresolved conflicts under Manual are pending", cc: conv(func(c *ccv1.ContactConversion) {
			c.Status.Conflicts = &ccv1.ConflictsStatus{Total: 3, Unresolved: 2, ReportSecret: "acme-conflicts"}
		}), now: brussels(3, 2), job: &Job{Name: "acme-g1", Generation: 1, SpecHash: "h1", Finished: true, Succeeded: true},
			phase: ccv1.PhaseConflictsPending, ready: ccv1.ReasonConflictsPending, event: ccv1.ReasonConflictsPending},
		{name: "conflicts under FirstSource are not pending", cc: conv(func(c *ccv1.ContactConversion) {
			c.Spec.Conflicts.Policy = ccv1.ConflictPolicyFirstSource
			c.Status.Conflicts = &ccv1.ConflictsStatus{Total: 3, Unresolved: 2}
		}), now: brussels(3, 2), job: &Job{Name: "acme-g1", Generation: 1, SpecHash: "h1", Finished: true, Succeeded: true},
			phase: ccv1.PhaseSucceeded, ready: ccv1.ReasonSucceeded, event: ccv1.ReasonSucceeded},
		{name: "a failed Job stalls", cc: conv(), now: brussels(3, 2),
			job:   &Job{Name: "acme-g1", Generation: 1, SpecHash: "h1", Finished: true, FailureMessage: "sources[1] line 7: unterminated quote"},
			phase: ccv1.PhaseFailed, event: ccv1.ReasonJobFailed},
		{name: "a finished run stays finished when suspended", cc: conv(func(c *ccv1.ContactConversion) { c.Spec.Suspend = true }), now: brussels(3, 2),
			job:   &Job{Name: "acme-g1", Generation: 1, SpecHash: "h1", Finished: true, Succeeded: true},
			phase: ccv1.PhaseSucceeded, ready: ccv1.ReasonSucceeded, event: ccv1.ReasonSucceeded},
		{name: "a new spec waits for the next window after a finished run", cc: conv(func(c *ccv1.ContactConversion) { c.Generation = 2 }), now: brussels(3, 12),
			job:   &Job{Name: "acme-g1", Generation: 1, SpecHash: "h0", Finished: true, Succeeded: true},
			phase: ccv1.PhaseWaiting, ready: ccv1.ReasonScheduled, requeueAt: brussels(3, 19), event: ccv1.ReasonScheduled},
		{name: "a new spec replaces a running Job", cc: conv(func(c *ccv1.ContactConversion) { c.Generation = 2 }), now: brussels(2, 23),
			job: &Job{Name: "acme-g1", Generation: 1, SpecHash: "h0"}, action: DeleteJob, event: EventSuperseded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := decide(t, tc.cc, tc.now, tc.job, !tc.noSlot)
			if p.Action != tc.action {
				t.Errorf("action %q, want %q", p.Action, tc.action)
			}
			if tc.phase != "" && p.Status.Phase != tc.phase {
				t.Errorf("phase %q, want %q", p.Status.Phase, tc.phase)
			}
			if tc.ready != "" && reason(p, ccv1.ConditionReady) != tc.ready {
				t.Errorf("Ready reason %q, want %q", reason(p, ccv1.ConditionReady), tc.ready)
			}
			if !p.RequeueAt.Equal(tc.requeueAt) {
				t.Errorf("requeue at %v, want %v", p.RequeueAt, tc.requeueAt)
			}
			var reasons []string
			for _, e := range p.Events {
				reasons = append(reasons, e.Reason)
			}
			if got := strings.Join(reasons, ","); got != tc.event {
				t.Errorf("events %q, want %q", got, tc.event)
			}
			if p.Status.ObservedGeneration != tc.cc.Generation {
				t.Errorf("observedGeneration %d, want %d", p.Status.ObservedGeneration, tc.cc.Generation)
			}
			// kstatus: Reconciling only while running, Stalled only when failed.
			if has(p, ccv1.ConditionReconciling) != (p.Status.Phase == ccv1.PhaseRunning || p.Action == DeleteJob) {
				t.Errorf("Reconciling present=%v in phase %s", has(p, ccv1.ConditionReconciling), p.Status.Phase)
			}
			if has(p, ccv1.ConditionStalled) != (p.Status.Phase == ccv1.PhaseFailed) {
				t.Errorf("Stalled present=%v in phase %s", has(p, ccv1.ConditionStalled), p.Status.Phase)
			}
		})
	}
}

// A waiting conversion decided again with nothing changed yields the same
// status and no event, so an idle conversion causes no API writes.
func TestIdleIsStable(t *testing.T) {
	cc := conv()
	first := decide(t, cc, brussels(2, 16), nil, true)
	cc.Status = first.Status
	second := decide(t, cc, brussels(2, 17), nil, true)
	if len(second.Events) != 0 {
		t.Errorf("second decision emitted %v", second.Events)
	}
	if !statusEqual(first.Status, second.Status) {
		t.Errorf("status changed while idle:\n%+v\n%+v", first.Status, second.Status)
	}
}

func TestWaitMessageNamesLocalTime(t *testing.T) {
	p := decide(t, conv(), brussels(2, 16), nil, true)
	msg := ccv1.Conditions{List: &p.Status.Conditions}.Message(ccv1.ConditionReady)
	if !strings.Contains(msg, "2026-11-02T19:00:00+01:00 (Europe/Brussels)") {
		t.Errorf("message %q should name the window in Brussels time", msg)
	}
	if got := p.Status.NextWindowStart; got == nil || !got.Time.Equal(brussels(2, 19)) {
		t.Errorf("nextWindowStart %v", got)
	}
}

func statusEqual(a, b ccv1.ContactConversionStatus) bool {
	return equality.Semantic.DeepEqual(a, b)
}

// A running Job whose pod has not started within its timeout says why: as
// Stalled when waiting cannot help, else still Reconciling; with one warning
// Event when the cause appears.
func TestPodNotStartingIsReported(t *testing.T) {
	type outcome struct {
		Phase       ccv1.Phase
		Ready       string
		Reconciling string
		Stalled     string
		Message     string
		Events      []Event
		RequeueAt   time.Time
	}
	pull := &podstart.Problem{Pod: "acme-g1-x", Reason: ccv1.ReasonImagePullFailed, Stalled: true, Message: "Pod acme-g1-x has not started: image."}
	noNode := &podstart.Problem{Pod: "acme-g1-x", Reason: ccv1.ReasonPodUnschedulable, Message: "Pod acme-g1-x has not started: no node."}
	reported := func(c *ccv1.ContactConversion) {
		c.Status.Phase = ccv1.PhaseRunning
		ccv1.Conditions{List: &c.Status.Conditions, Generation: 1}.Stalled(pull.Reason, pull.Message)
	}
	for _, tc := range []struct {
		name    string
		cc      *ccv1.ContactConversion
		problem *podstart.Problem
		checkAt time.Time
		want    outcome
	}{
		{name: "within the timeout: look again when it ends", cc: conv(), checkAt: brussels(2, 20),
			want: outcome{Phase: ccv1.PhaseRunning, Ready: ccv1.ReasonJobRunning, Reconciling: ccv1.ReasonJobRunning,
				Message: "The conversion Job is running.", RequeueAt: brussels(2, 20)}},
		{name: "an image that cannot be pulled stalls", cc: conv(), problem: pull,
			want: outcome{Phase: ccv1.PhaseRunning, Ready: ccv1.ReasonImagePullFailed, Stalled: ccv1.ReasonImagePullFailed, Message: pull.Message,
				Events: []Event{{Warning: true, Reason: ccv1.ReasonImagePullFailed, Message: pull.Message}}, RequeueAt: brussels(3, 7)}},
		{name: "no node yet: still reconciling", cc: conv(), problem: noNode,
			want: outcome{Phase: ccv1.PhaseRunning, Ready: ccv1.ReasonPodUnschedulable, Reconciling: ccv1.ReasonPodUnschedulable, Message: noNode.Message,
				Events: []Event{{Warning: true, Reason: ccv1.ReasonPodUnschedulable, Message: noNode.Message}}, RequeueAt: brussels(3, 7)}},
		{name: "reported already: no second event", cc: conv(reported), problem: pull,
			want: outcome{Phase: ccv1.PhaseRunning, Ready: ccv1.ReasonImagePullFailed, Stalled: ccv1.ReasonImagePullFailed, Message: pull.Message, RequeueAt: brussels(3, 7)}},
		{name: "the pod started: Stalled clears", cc: conv(reported),
			want: outcome{Phase: ccv1.PhaseRunning, Ready: ccv1.ReasonJobRunning, Reconciling: ccv1.ReasonJobRunning,
				Message: "The conversion Job is running.", RequeueAt: brussels(3, 7)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := schedule.Parse(tc.cc.Spec.Schedule)
			if err != nil {
				t.Fatal(err)
			}
			p := Decide(Input{Now: brussels(2, 19), Conversion: tc.cc, SpecHash: "h1", Schedule: s, SlotFree: true,
				Job: &Job{Name: "acme-g1", Generation: 1, SpecHash: "h1"}, PodProblem: tc.problem, PodCheckAt: tc.checkAt})
			conds := ccv1.Conditions{List: &p.Status.Conditions}
			got := outcome{Phase: p.Status.Phase, Ready: conds.Reason(ccv1.ConditionReady), Reconciling: conds.Reason(ccv1.ConditionReconciling),
				Stalled: conds.Reason(ccv1.ConditionStalled), Message: conds.Message(ccv1.ConditionReady), Events: p.Events, RequeueAt: p.RequeueAt}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// The last success survives the next run's start, so "no good run for days"
// can be told from the status alone.
func TestLastSuccessTimeOutlivesTheNextRun(t *testing.T) {
	cc := conv(func(c *ccv1.ContactConversion) { c.Spec.Schedule.Windows = nil })
	done := decide(t, cc, brussels(3, 2), &Job{Name: "acme-g1", Generation: 1, SpecHash: "h1", Finished: true, Succeeded: true, CompletionTime: brussels(3, 1)}, true)
	if got := done.Status.LastSuccessTime; got == nil || !got.Time.Equal(brussels(3, 1)) {
		t.Fatalf("lastSuccessTime after a success = %v, want %v", got, brussels(3, 1))
	}
	cc.Status = done.Status
	cc.Annotations = map[string]string{ccv1.RunRequestedAtAnnotation: "again"}
	next := decide(t, cc, brussels(3, 12), &Job{Name: "acme-g1", Generation: 1, SpecHash: "h1", Finished: true, Succeeded: true, CompletionTime: brussels(3, 1)}, true)
	if next.Action != CreateJob || next.Status.LastSuccessTime == nil || !next.Status.LastSuccessTime.Time.Equal(brussels(3, 1)) {
		t.Errorf("a new run: action %s, lastSuccessTime %v", next.Action, next.Status.LastSuccessTime)
	}
	cc.Status = next.Status
	failed := decide(t, cc, brussels(3, 14), &Job{Name: "acme-g1-x", Generation: 1, SpecHash: "h1", RunRequest: "again", Finished: true, CompletionTime: brussels(3, 13)}, true)
	if failed.Status.Phase != ccv1.PhaseFailed || !failed.Status.LastSuccessTime.Time.Equal(brussels(3, 1)) {
		t.Errorf("after a failure: phase %s, lastSuccessTime %v", failed.Status.Phase, failed.Status.LastSuccessTime)
	}
}

// A queued conversion says since when it waits, kept while it waits and
// dropped once it runs.
func TestQueueSince(t *testing.T) {
	cc := conv()
	first := decide(t, cc, brussels(2, 19), nil, false)
	want := &ccv1.QueueStatus{Reason: ccv1.QueueReasonClusterCap, Since: metav1.NewTime(brussels(2, 19).UTC())}
	if diff := cmp.Diff(want, first.Status.Queue); diff != "" {
		t.Fatalf("queue (-want +got):\n%s", diff)
	}
	cc.Status = first.Status
	later := decide(t, cc, brussels(2, 21), nil, false)
	if diff := cmp.Diff(want, later.Status.Queue); diff != "" {
		t.Errorf("queue two hours later (-want +got):\n%s", diff)
	}
	cc.Status = later.Status
	if admitted := decide(t, cc, brussels(2, 22), nil, true); admitted.Action != CreateJob || admitted.Status.Queue != nil {
		t.Errorf("admitted: action %s, queue %+v", admitted.Action, admitted.Status.Queue)
	}
}

// The queue's place and cap are in the status and the Ready message, and an
// admission after waiting is an Event.
func TestQueuePlaceAndAdmission(t *testing.T) {
	cc := conv()
	s, err := schedule.Parse(cc.Spec.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Now: brussels(2, 19), Conversion: cc, SpecHash: "h1", Schedule: s,
		Wait: Wait{Position: 3, Reason: ccv1.QueueReasonNamespaceCap}}
	queued := Decide(in)
	want := &ccv1.QueueStatus{Reason: ccv1.QueueReasonNamespaceCap, Since: metav1.NewTime(brussels(2, 19).UTC()), Position: 3}
	if diff := cmp.Diff(want, queued.Status.Queue); diff != "" {
		t.Errorf("queue (-want +got):\n%s", diff)
	}
	msg := ccv1.Conditions{List: &queued.Status.Conditions}.Message(ccv1.ConditionReady)
	if msg != "Waiting for a free slot: number 3 in the queue; this namespace's cap on running conversions (--max-concurrent-conversions-per-namespace) is reached." {
		t.Errorf("Ready message %q", msg)
	}
	cc.Status = queued.Status
	in.Now, in.SlotFree, in.Wait = brussels(2, 19).Add(95*time.Second), true, Wait{}
	admitted := Decide(in)
	wantEvents := []Event{
		{Reason: EventAdmitted, Message: "Admitted after waiting 1m35s in the queue (NamespaceCap): Starting the conversion of generation 1 at the window start."},
	}
	if diff := cmp.Diff(wantEvents, admitted.Events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
