// Package lifecycle decides, as a pure function, what a ContactConversion
// needs next: its status, and whether its Job must be created, suspended,
// resumed or replaced. The reconciler fetches the inputs and carries out the
// plan.
package lifecycle

import (
	"cmp"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/podstart"
	"github.com/contactconverter/contact-converter/internal/schedule"
)

// Job is what the decision needs to know of a conversion's newest Job.
type Job struct {
	Name       string
	Generation int64
	// SpecHash identifies the merge-relevant spec the Job runs.
	SpecHash string
	// RunRequest is the run-requested-at value the Job serves; such a Job
	// ignores windows.
	RunRequest     string
	Suspended      bool
	Finished       bool
	Succeeded      bool
	FailureMessage string
	CompletionTime time.Time
}

// Input is everything the decision depends on.
type Input struct {
	Now        time.Time
	Conversion *ccv1.ContactConversion
	// SpecHash identifies the conversion's merge-relevant spec: a Job with
	// another hash runs an outdated spec.
	SpecHash string
	Schedule *schedule.Schedule
	// Job is the conversion's newest Job, or nil.
	Job *Job
	// SlotFree tells whether a run may start or resume without exceeding
	// the caps.
	SlotFree bool
	// Wait is where the conversion stands in the queue when no slot is
	// free: its position and the cap it waits on.
	Wait Wait
	// PodProblem says why the running Job's pod has not started within
	// spec.job.podStartTimeout, or is nil.
	PodProblem *podstart.Problem
	// PodCheckAt is when a pod still starting reaches that timeout; zero:
	// none is starting.
	PodCheckAt time.Time
}

// Wait is a place in the admission queue.
type Wait struct {
	// Position is 1 for the next to be admitted; 0: unknown.
	Position int
	// Reason is the cap that binds; empty is the cluster's.
	Reason ccv1.QueueReason
}

// Action is what to do to the Job.
type Action string

// Actions.
const (
	None       Action = ""
	CreateJob  Action = "CreateJob"
	SuspendJob Action = "SuspendJob"
	ResumeJob  Action = "ResumeJob"
	DeleteJob  Action = "DeleteJob"
)

// Event is a Kubernetes Event to record.
type Event struct {
	Warning bool
	Reason  string
	Message string
}

// Plan is the decision.
type Plan struct {
	Action Action
	// RunRequest is served by the Job to create ("" for a scheduled run).
	RunRequest string
	// Status is the conversion's new status.
	Status ccv1.ContactConversionStatus
	// RequeueAt is when to look again even if nothing changes; zero: never.
	RequeueAt time.Time
	Events    []Event
}

// Event reasons beyond the condition reasons.
const (
	EventStarted    = "Started"
	EventPaused     = "Paused"
	EventResumed    = "Resumed"
	EventSuperseded = "Superseded"
	EventAdmitted   = "Admitted"
)

// Decide computes the plan.
func Decide(in Input) Plan {
	d := decider{in: in, cc: in.Conversion, st: in.Schedule.At(in.Now)}
	d.plan.Status = *in.Conversion.Status.DeepCopy()
	d.plan.Status.ObservedGeneration = d.cc.Generation
	d.plan.Status.Queue = nil // set again by queued() while still waiting
	d.decide()
	d.setWindow()
	d.events()
	return d.plan
}

type decider struct {
	in   Input
	cc   *ccv1.ContactConversion
	st   schedule.State
	plan Plan
}

func (d *decider) conds() ccv1.Conditions {
	return ccv1.Conditions{List: &d.plan.Status.Conditions, Generation: d.cc.Generation, Now: d.in.Now}
}

// newRunRequest is a run-requested-at value not yet acted upon.
func (d *decider) newRunRequest() string {
	req := d.cc.Annotations[ccv1.RunRequestedAtAnnotation]
	if req == "" || req == d.cc.Status.LastHandledRunRequest {
		return ""
	}
	return req
}

func (d *decider) decide() {
	job := d.in.Job
	active := job != nil && !job.Finished
	current := job != nil && job.SpecHash == d.in.SpecHash
	switch {
	case active && !current:
		d.supersede(job)
	case !active && current && d.newRunRequest() == "":
		d.finished(job)
	case d.cc.Spec.Suspend:
		d.suspendedByUser(job, active)
	case active:
		d.activeJob(job)
	default:
		d.needRun()
	}
}

// supersede stops a Job of an older generation; the new generation runs once
// it is gone, so one conversion never has two Jobs.
func (d *decider) supersede(job *Job) {
	d.plan.Action = DeleteJob
	msg := fmt.Sprintf("Stopping Job %s of generation %d: the spec changed, generation %d runs next.", job.Name, job.Generation, d.cc.Generation)
	d.conds().Reconciling(EventSuperseded, msg)
	d.plan.Events = append(d.plan.Events, Event{Reason: EventSuperseded, Message: msg})
}

func (d *decider) suspendedByUser(job *Job, active bool) {
	if active && !job.Suspended {
		d.plan.Action = SuspendJob
	}
	d.paused(ccv1.ReasonSuspendedByUser, "Suspended by spec.suspend; set it to false to resume.")
}

func (d *decider) activeJob(job *Job) {
	mayRun := job.RunRequest != "" || d.st.Open || !d.cc.Spec.Schedule.PausesOutsideWindow()
	switch {
	case job.Suspended && mayRun && !d.in.SlotFree:
		d.queued()
	case job.Suspended && mayRun:
		d.plan.Action = ResumeJob
		d.running(job.Name)
		d.requeueAtWindowEnd(job.RunRequest)
	case job.Suspended:
		d.paused(ccv1.ReasonOutsideWindow, d.waitMessage("Paused outside the window"))
		d.plan.RequeueAt = d.st.Next.Start
	case !mayRun:
		d.plan.Action = SuspendJob
		d.paused(ccv1.ReasonOutsideWindow, d.waitMessage("Paused outside the window"))
		d.plan.RequeueAt = d.st.Next.Start
	default:
		d.running(job.Name)
		d.podNotStarting()
		d.requeueAtWindowEnd(job.RunRequest)
		d.requeueBy(d.in.PodCheckAt)
	}
}

// podNotStarting reports why the Job's pod has not started: Stalled when
// only a person can help, else Reconciling with the cause.
func (d *decider) podNotStarting() {
	p := d.in.PodProblem
	switch {
	case p == nil:
	case p.Stalled:
		d.conds().Stalled(p.Reason, p.Message)
	default:
		d.conds().Reconciling(p.Reason, p.Message)
	}
}

// requeueBy looks again at t at the latest; zero changes nothing.
func (d *decider) requeueBy(t time.Time) {
	if !t.IsZero() && (d.plan.RequeueAt.IsZero() || t.Before(d.plan.RequeueAt)) {
		d.plan.RequeueAt = t
	}
}

// requeueAtWindowEnd looks again when the window closes, to pause a
// scheduled run; a requested run ignores windows.
func (d *decider) requeueAtWindowEnd(runRequest string) {
	if runRequest == "" && d.cc.Spec.Schedule.PausesOutsideWindow() {
		d.plan.RequeueAt = d.st.OpenUntil
	}
}

func (d *decider) finished(job *Job) {
	s := &d.plan.Status
	if !job.CompletionTime.IsZero() {
		s.CompletionTime = timePtr(job.CompletionTime)
		if job.Succeeded {
			s.LastSuccessTime = s.CompletionTime
		}
	}
	conds := d.conds()
	conds.False(ccv1.ConditionRunning, phaseReason(job), "The run has finished.")
	conds.False(ccv1.ConditionSuspended, ccv1.ReasonNotSuspended, "Not suspended.")
	switch {
	case !job.Succeeded:
		s.Phase = ccv1.PhaseFailed
		msg := fmt.Sprintf("Job %s failed: %s", job.Name, job.FailureMessage)
		conds.Stalled(ccv1.ReasonJobFailed, msg)
		conds.False(ccv1.ConditionComplete, ccv1.ReasonJobFailed, msg)
	case d.unresolvedConflicts() > 0:
		s.Phase = ccv1.PhaseConflictsPending
		msg := fmt.Sprintf("%d conflicts need a resolution in spec.conflicts.resolutions, or a policy; the list is in Secret %s (conflicts.csv).",
			d.unresolvedConflicts(), s.Conflicts.ReportSecret)
		conds.Ready(ccv1.ReasonConflictsPending, msg)
		conds.False(ccv1.ConditionConflictsResolved, ccv1.ReasonConflictsPending, msg)
		conds.False(ccv1.ConditionComplete, ccv1.ReasonConflictsPending, msg)
	default:
		s.Phase = ccv1.PhaseSucceeded
		msg := "The conversion succeeded."
		if p := s.Progress; p != nil {
			msg = fmt.Sprintf("The conversion succeeded: %d contacts from %d rows, %d rejected.", p.Contacts, p.RowsRead, p.RowsRejected)
		}
		conds.Ready(ccv1.ReasonSucceeded, msg)
		conds.True(ccv1.ConditionConflictsResolved, ccv1.ReasonResolved, "No conflict awaits a resolution.")
		conds.True(ccv1.ConditionComplete, ccv1.ReasonSucceeded, msg)
	}
}

func phaseReason(job *Job) string {
	if job.Succeeded {
		return ccv1.ReasonSucceeded
	}
	return ccv1.ReasonJobFailed
}

func (d *decider) unresolvedConflicts() int64 {
	c := d.plan.Status.Conflicts
	if c == nil || d.cc.Spec.ConflictPolicyOrDefault() != ccv1.ConflictPolicyManual {
		return 0
	}
	return c.Unresolved
}

func (d *decider) needRun() {
	req := d.newRunRequest()
	switch {
	case (req != "" || d.st.Open) && !d.in.SlotFree:
		d.queued()
	case req != "" || d.st.Open:
		d.plan.Action, d.plan.RunRequest = CreateJob, req
		s := &d.plan.Status
		s.JobName = "" // set by the caller from the created Job
		s.StartTime = timePtr(d.in.Now)
		s.CompletionTime, s.Progress, s.Conflicts, s.Languages = nil, nil, nil, nil
		if req != "" {
			s.LastHandledRunRequest = req
		}
		d.running("")
		d.requeueAtWindowEnd(req)
	default:
		s := &d.plan.Status
		s.Phase = ccv1.PhaseWaiting
		msg := d.waitMessage("Waiting for the window")
		conds := d.conds()
		conds.Ready(ccv1.ReasonScheduled, msg)
		conds.False(ccv1.ConditionRunning, ccv1.ReasonScheduled, msg)
		conds.False(ccv1.ConditionSuspended, ccv1.ReasonNotSuspended, "Not suspended.")
		conds.False(ccv1.ConditionComplete, ccv1.ReasonScheduled, msg)
		d.plan.RequeueAt = d.st.Next.Start
	}
}

func (d *decider) running(jobName string) {
	s := &d.plan.Status
	s.Phase = ccv1.PhaseRunning
	if jobName != "" {
		s.JobName = jobName
	}
	msg := "The conversion Job is running."
	conds := d.conds()
	conds.Reconciling(ccv1.ReasonJobRunning, msg)
	conds.True(ccv1.ConditionRunning, ccv1.ReasonJobRunning, msg)
	conds.False(ccv1.ConditionSuspended, ccv1.ReasonNotSuspended, "Not suspended.")
	conds.False(ccv1.ConditionComplete, ccv1.ReasonJobRunning, msg)
}

func (d *decider) paused(reason, msg string) {
	d.plan.Status.Phase = ccv1.PhasePaused
	conds := d.conds()
	conds.Ready(reason, msg)
	conds.True(ccv1.ConditionSuspended, reason, msg)
	conds.False(ccv1.ConditionRunning, reason, msg)
	conds.False(ccv1.ConditionComplete, reason, msg)
}

func (d *decider) queued() {
	reason := cmp.Or(d.in.Wait.Reason, ccv1.QueueReasonClusterCap)
	since := *timePtr(d.in.Now)
	if d.cc.Status.Queue != nil {
		since = d.cc.Status.Queue.Since
	}
	d.plan.Status.Queue = &ccv1.QueueStatus{Reason: reason, Since: since, Position: int32(d.in.Wait.Position)}
	d.plan.Status.Phase = ccv1.PhaseWaiting
	msg := "Waiting for a free slot: "
	if d.in.Wait.Position > 0 {
		msg += fmt.Sprintf("number %d in the queue; ", d.in.Wait.Position)
	}
	if reason == ccv1.QueueReasonNamespaceCap {
		msg += "this namespace's cap on running conversions (--max-concurrent-conversions-per-namespace) is reached."
	} else {
		msg += "the cluster-wide cap on running conversions (--max-concurrent-conversions) is reached."
	}
	conds := d.conds()
	conds.Ready(ccv1.ReasonQueuedForCapacity, msg)
	conds.False(ccv1.ConditionRunning, ccv1.ReasonQueuedForCapacity, msg)
	conds.False(ccv1.ConditionComplete, ccv1.ReasonQueuedForCapacity, msg)
}

// waitMessage names the next window in the schedule's own zone.
func (d *decider) waitMessage(prefix string) string {
	next := d.st.Next.Start
	if next.IsZero() {
		return prefix + "."
	}
	loc := d.in.Schedule.Location
	return fmt.Sprintf("%s opening at %s (%s).", prefix, next.In(loc).Format(time.RFC3339), loc)
}

// setWindow publishes the next window. While a run is queued, it shows the
// window being waited in, so the queue serves the oldest window first.
func (d *decider) setWindow() {
	s := &d.plan.Status
	next := d.st.Next
	if s.QueuedForCapacity() && d.st.Open {
		next = schedule.Interval{Start: d.st.OpenSince, End: d.st.OpenUntil}
	}
	s.NextWindowStart, s.NextWindowEnd = timePtr(next.Start), timePtr(next.End)
}

// events records transitions: a phase or reason change, or a new window.
func (d *decider) events() {
	before, after := &d.cc.Status, &d.plan.Status
	rb := ccv1.Conditions{List: &before.Conditions}.Reason(ccv1.ConditionReady)
	ra := ccv1.Conditions{List: &after.Conditions}.Reason(ccv1.ConditionReady)
	changed := before.Phase != after.Phase || rb != ra
	msg := ccv1.Conditions{List: &after.Conditions}.Message(ccv1.ConditionReady)
	// One Event per start: admitted after waiting, or started at once.
	reason, admitted := EventStarted, ""
	if q := before.Queue; q != nil {
		reason, admitted = EventAdmitted, fmt.Sprintf("Admitted after waiting %s in the queue (%s): ", d.in.Now.Sub(q.Since.Time).Round(time.Second), q.Reason)
	}
	switch {
	case d.plan.Action == CreateJob:
		what := "at the window start"
		if d.plan.RunRequest != "" {
			what = "on request (" + ccv1.RunRequestedAtAnnotation + "=" + d.plan.RunRequest + ")"
		}
		d.add(false, reason, admitted+fmt.Sprintf("Starting the conversion of generation %d %s.", d.cc.Generation, what))
	case d.plan.Action == ResumeJob:
		if reason == EventStarted {
			reason = EventResumed
		}
		d.add(false, reason, admitted+fmt.Sprintf("Resuming Job %s.", after.JobName))
	case d.plan.Action == SuspendJob:
		d.add(false, EventPaused, msg)
	case after.Phase == ccv1.PhaseWaiting && ra == ccv1.ReasonScheduled &&
		(changed || !timeEqual(before.NextWindowStart, after.NextWindowStart)):
		d.add(false, ccv1.ReasonScheduled, msg)
	case !changed:
	case d.in.PodProblem != nil:
		d.add(true, ra, msg)
	case after.Phase == ccv1.PhaseFailed:
		d.add(true, ccv1.ReasonJobFailed, ccv1.Conditions{List: &after.Conditions}.Message(ccv1.ConditionStalled))
	case after.Phase == ccv1.PhaseWaiting, after.Phase == ccv1.PhaseSucceeded, after.Phase == ccv1.PhaseConflictsPending:
		d.add(false, ra, msg)
	}
}

func (d *decider) add(warning bool, reason, msg string) {
	d.plan.Events = append(d.plan.Events, Event{Warning: warning, Reason: reason, Message: msg})
}

func timePtr(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}

func timeEqual(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}
