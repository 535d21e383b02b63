package controllers

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	tw "github.com/contactconverter/contact-converter/internal/testwrap"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
)

var brussels, _ = time.LoadLocation("Europe/Brussels")

var weekdays = []ccv1.Weekday{"Mon", "Tue", "Wed", "Thu", "Fri"}

// kstatusOf computes what Flux, kpt and kubectl's kstatus read.
func kstatusOf(t *testing.T, o client.Object) status.Status {
	t.Helper()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

func wantKstatus(t *testing.T, cc *ccv1.ContactConversion, want status.Status) {
	t.Helper()
	if got := kstatusOf(t, cc); got != want {
		t.Errorf("kstatus in phase %s = %s, want %s", cc.Status.Phase, got, want)
	}
}

func wantCondition(t *testing.T, cc *ccv1.ContactConversion, typ string, st metav1.ConditionStatus, reason string) {
	t.Helper()
	c := meta.FindStatusCondition(cc.Status.Conditions, typ)
	if c == nil || c.Status != st || c.Reason != reason {
		t.Errorf("condition %s = %+v, want %s/%s", typ, c, st, reason)
	}
}

func (h *harness) patchSpec(t *testing.T, cc *ccv1.ContactConversion, mutate func(*ccv1.ContactConversion)) {
	t.Helper()
	ctx := context.Background()
	if err := h.c.Get(ctx, client.ObjectKeyFromObject(cc), cc); err != nil {
		t.Fatal(err)
	}
	orig := cc.DeepCopy()
	mutate(cc)
	if err := h.c.Patch(ctx, cc, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
}

// reportConflicts writes status.conflicts as the engine does at the end of a
// run.
func (h *harness) reportConflicts(t *testing.T, cc *ccv1.ContactConversion, total, unresolved int64) {
	t.Helper()
	patch := &ccv1.ContactConversion{TypeMeta: metav1.TypeMeta{APIVersion: ccv1.GroupVersion.String(), Kind: "ContactConversion"},
		ObjectMeta: metav1.ObjectMeta{Namespace: cc.Namespace, Name: cc.Name}}
	patch.Status.Conflicts = &ccv1.ConflictsStatus{Total: total, Unresolved: unresolved,
		ReportSecret: cc.ConflictsSecretName()}
	if unresolved > 0 {
		patch.Status.Conflicts.Sample = []ccv1.ConflictSample{{Key: "j•••@example.be", Field: "firstName", Values: 2}}
	}
	patch.Status.Progress = &ccv1.Progress{SourcesTotal: 1, SourcesDone: 1, RowsRead: 10, Contacts: 8, DuplicatesMerged: 2, Percent: 100}
	obj, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(patch)
	u := &unstructured.Unstructured{Object: obj}
	unstructured.RemoveNestedField(u.Object, "spec")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	if err := h.c.Status().Apply(context.Background(), client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner("contact-converter-engine"), client.ForceOwnership); err != nil {
		t.Fatalf("engine status apply: %v", err)
	}
}

// TestBrusselsEvening follows a conversion created at 16:00 Brussels time with
// a 19:00-07:00 weekday window through waiting, running, pausing at 07:00,
// resuming the next evening, a user suspension, completion and a run-now.
func TestBrusselsEvening(t *testing.T) {
	h := startHarness(t)
	ns := h.namespace(t, "tenant-evening")
	h.create(t, claim(ns, "contacts"))
	h.create(t, configMap(ns, "lists", map[string]string{"fair.csv": "email\na@b.be\n"}))
	h.clock.SetTime(time.Date(2026, 11, 2, 16, 0, 0, 0, brussels)) // a Monday

	cc := tw.MakeConversion("acme", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").
		TimeZone("Europe/Brussels").DailyWindow(weekdays, "19:00", "07:00").Obj()
	h.create(t, cc)

	// 16:00: waiting for 19:00, no Job, Ready=True Scheduled.
	h.waitPhase(t, cc, ccv1.PhaseWaiting)
	wantCondition(t, cc, ccv1.ConditionReady, metav1.ConditionTrue, ccv1.ReasonScheduled)
	if got := cc.Status.NextWindowStart; got == nil || !got.Equal(&metav1.Time{Time: time.Date(2026, 11, 2, 19, 0, 0, 0, brussels)}) {
		t.Errorf("nextWindowStart = %v, want 19:00 Brussels", got)
	}
	wantKstatus(t, cc, status.CurrentStatus)
	h.waitEvent(t, ns, "acme", ccv1.ReasonScheduled)
	if n := len(h.jobs(t, ns, "acme")); n != 0 {
		t.Fatalf("%d Jobs before the window", n)
	}

	// An idle conversion causes no status write: reconciled again an hour
	// later, its status is unchanged.
	before := cc.Status.DeepCopy()
	h.setTime(t, time.Date(2026, 11, 2, 17, 0, 0, 0, brussels), cc)
	time.Sleep(500 * time.Millisecond)
	if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(cc), cc); err != nil {
		t.Fatal(err)
	}
	if !statusEqual(before, &cc.Status) {
		t.Errorf("status rewritten while idle:\n%+v\n%+v", before, cc.Status)
	}

	// 19:00: the Job starts.
	h.setTime(t, time.Date(2026, 11, 2, 19, 0, 0, 0, brussels), cc)
	job := h.waitJobs(t, ns, "acme", 1)
	h.waitPhase(t, cc, ccv1.PhaseRunning)
	wantKstatus(t, cc, status.InProgressStatus)
	wantCondition(t, cc, ccv1.ConditionRunning, metav1.ConditionTrue, ccv1.ReasonJobRunning)
	if cc.Status.JobName != job.Name || cc.Status.StartTime == nil {
		t.Errorf("jobName %q startTime %v, want %q and a start time", cc.Status.JobName, cc.Status.StartTime, job.Name)
	}
	if !metav1.IsControlledBy(job, cc) || job.Labels[desired.LabelTenant] != ns || job.Labels[desired.LabelGeneration] != "1" {
		t.Errorf("Job %s lacks owner or labels: %v", job.Name, job.Labels)
	}
	h.waitEvent(t, ns, "acme", "Started")
	var role rbacv1.Role
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme-converter"}, &role); err != nil {
		t.Errorf("converter Role: %v", err)
	}
	var sa corev1.ServiceAccount
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "acme-converter"}, &sa); err != nil {
		t.Errorf("converter ServiceAccount: %v", err)
	}

	// 07:00 Tuesday: the window closes and the Job is suspended.
	h.setTime(t, time.Date(2026, 11, 3, 7, 0, 0, 0, brussels), cc)
	h.waitSuspended(t, job, true)
	h.waitPhase(t, cc, ccv1.PhasePaused)
	wantCondition(t, cc, ccv1.ConditionSuspended, metav1.ConditionTrue, ccv1.ReasonOutsideWindow)
	wantKstatus(t, cc, status.CurrentStatus)
	if got := cc.Status.NextWindowStart; got == nil || !got.Equal(&metav1.Time{Time: time.Date(2026, 11, 3, 19, 0, 0, 0, brussels)}) {
		t.Errorf("paused nextWindowStart = %v, want Tuesday 19:00", got)
	}
	h.waitEvent(t, ns, "acme", "Paused")

	// 19:00 Tuesday: the same Job resumes.
	h.setTime(t, time.Date(2026, 11, 3, 19, 0, 0, 0, brussels), cc)
	h.waitSuspended(t, job, false)
	h.waitPhase(t, cc, ccv1.PhaseRunning)
	h.waitEvent(t, ns, "acme", "Resumed")

	// spec.suspend pauses it; the Job keeps its identity (no second Job).
	h.patchSpec(t, cc, func(c *ccv1.ContactConversion) { c.Spec.Suspend = true })
	h.waitSuspended(t, job, true)
	h.waitPhase(t, cc, ccv1.PhasePaused)
	wantCondition(t, cc, ccv1.ConditionSuspended, metav1.ConditionTrue, ccv1.ReasonSuspendedByUser)
	h.patchSpec(t, cc, func(c *ccv1.ContactConversion) { c.Spec.Suspend = false })
	h.waitSuspended(t, job, false)
	h.waitPhase(t, cc, ccv1.PhaseRunning)
	if n := len(h.jobs(t, ns, "acme")); n != 1 {
		t.Fatalf("%d Jobs after suspend and resume, want 1", n)
	}

	// The Job completes.
	h.reportConflicts(t, cc, 0, 0)
	h.finishJob(t, job, true)
	h.waitPhase(t, cc, ccv1.PhaseSucceeded)
	wantCondition(t, cc, ccv1.ConditionComplete, metav1.ConditionTrue, ccv1.ReasonSucceeded)
	wantKstatus(t, cc, status.CurrentStatus)
	if cc.Status.CompletionTime == nil || cc.Status.Progress == nil || cc.Status.Progress.Contacts != 8 {
		t.Errorf("completionTime %v progress %+v: want both, with the engine's counts kept", cc.Status.CompletionTime, cc.Status.Progress)
	}
	h.waitEvent(t, ns, "acme", ccv1.ReasonSucceeded)
	kubectlWaitComplete(t, h, cc)

	// Run now, at noon outside the window: a second Job, echoed once.
	h.setTime(t, time.Date(2026, 11, 4, 12, 0, 0, 0, brussels))
	h.patchSpec(t, cc, func(c *ccv1.ContactConversion) {
		c.Annotations = map[string]string{ccv1.RunRequestedAtAnnotation: "2026-11-04T12:00:00+01:00"}
	})
	second := h.waitJobs(t, ns, "acme", 2)
	h.waitPhase(t, cc, ccv1.PhaseRunning)
	if cc.Status.LastHandledRunRequest != "2026-11-04T12:00:00+01:00" || cc.Status.JobName != second.Name {
		t.Errorf("lastHandledRunRequest %q jobName %q", cc.Status.LastHandledRunRequest, cc.Status.JobName)
	}
	h.finishJob(t, second, true)
	h.waitPhase(t, cc, ccv1.PhaseSucceeded)
	h.poke(t, cc)
	time.Sleep(300 * time.Millisecond)
	if n := len(h.jobs(t, ns, "acme")); n != 2 {
		t.Fatalf("the same run request ran again: %d Jobs", n)
	}
}

// kubectlWaitComplete proves `kubectl wait --for=condition=Complete` works.
func kubectlWaitComplete(t *testing.T, h *harness, cc *ccv1.ContactConversion) {
	t.Helper()
	user, err := h.env.Env.ControlPlane.AddUser(envtest.User{Name: "waiter", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubectl, err := user.Kubectl()
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := kubectl.Run("wait", "--for=condition=Complete", "--timeout=10s", "-n", cc.Namespace, "contactconversion/"+cc.Name)
	if err != nil {
		e, _ := io.ReadAll(stderr)
		t.Fatalf("kubectl wait: %v: %s", err, e)
	}
	out, _ := io.ReadAll(stdout)
	if !strings.Contains(string(out), "condition met") {
		t.Errorf("kubectl wait said %q", out)
	}
}

func TestConflictsPendingThenResolved(t *testing.T) {
	h := startHarness(t)
	ns := h.namespace(t, "tenant-conflicts")
	h.create(t, claim(ns, "contacts"))
	h.create(t, configMap(ns, "lists", map[string]string{"fair.csv": "email\na@b.be\n"}))
	cc := tw.MakeConversion("acme", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").Obj()
	h.create(t, cc)

	job := h.waitJobs(t, ns, "acme", 1)
	h.waitPhase(t, cc, ccv1.PhaseRunning)
	h.reportConflicts(t, cc, 3, 2)
	h.finishJob(t, job, true)
	h.waitPhase(t, cc, ccv1.PhaseConflictsPending)
	wantCondition(t, cc, ccv1.ConditionConflictsResolved, metav1.ConditionFalse, ccv1.ReasonConflictsPending)
	wantCondition(t, cc, ccv1.ConditionComplete, metav1.ConditionFalse, ccv1.ReasonConflictsPending)
	wantKstatus(t, cc, status.CurrentStatus)
	if msg := cc.Conditions().Message(ccv1.ConditionReady); !strings.Contains(msg, "2 conflicts") || !strings.Contains(msg, "acme-conflicts") {
		t.Errorf("Ready message %q should count the conflicts and name the report", msg)
	}
	h.waitEvent(t, ns, "acme", ccv1.ReasonConflictsPending)

	// Resolving changes the spec: a new run applies the resolutions.
	h.patchSpec(t, cc, func(c *ccv1.ContactConversion) {
		c.Spec.Conflicts.Resolutions = []ccv1.Resolution{{Key: "jan@example.be", Field: "firstName", Value: "Jan"}}
	})
	second := h.waitJobs(t, ns, "acme", 2)
	if second.Labels[desired.LabelGeneration] != "2" {
		t.Errorf("second Job generation %q, want 2", second.Labels[desired.LabelGeneration])
	}
	h.waitPhase(t, cc, ccv1.PhaseRunning)
	if cc.Status.Conflicts != nil {
		t.Errorf("the previous run's conflicts were kept at the new start: %+v", cc.Status.Conflicts)
	}
	h.reportConflicts(t, cc, 3, 0)
	h.finishJob(t, second, true)
	h.waitPhase(t, cc, ccv1.PhaseSucceeded)
	wantCondition(t, cc, ccv1.ConditionConflictsResolved, metav1.ConditionTrue, ccv1.ReasonResolved)
}

// The engine writes the conflicts into the status before its Job ends, but
// the cache may show the Job's end first: the conflicts, arriving after,
// still turn the run to ConflictsPending.
func TestConflictsSeenAfterTheJobsEndStillCount(t *testing.T) {
	h := startHarness(t)
	ns := h.namespace(t, "tenant-late-conflicts")
	h.create(t, claim(ns, "contacts"))
	h.create(t, configMap(ns, "lists", map[string]string{"fair.csv": "email\na@b.be\n"}))
	cc := tw.MakeConversion("acme", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").Obj()
	h.create(t, cc)

	job := h.waitJobs(t, ns, "acme", 1)
	h.waitPhase(t, cc, ccv1.PhaseRunning)
	h.finishJob(t, job, true)
	h.waitPhase(t, cc, ccv1.PhaseSucceeded)
	h.reportConflicts(t, cc, 3, 2)
	h.waitPhase(t, cc, ccv1.PhaseConflictsPending)
}

func TestSpecChangeReplacesRunningJob(t *testing.T) {
	h := startHarness(t)
	ns := h.namespace(t, "tenant-change")
	h.create(t, claim(ns, "contacts"))
	h.create(t, configMap(ns, "lists", map[string]string{"fair.csv": "email\n", "shop.csv": "email\n"}))
	cc := tw.MakeConversion("acme", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").Obj()
	h.create(t, cc)
	first := h.waitJobs(t, ns, "acme", 1)

	h.patchSpec(t, cc, func(c *ccv1.ContactConversion) {
		c.Spec.Sources = append(c.Spec.Sources, ccv1.Source{Name: "shop",
			CSV: &ccv1.CSVSource{ConfigMapKeyRef: &ccv1.KeySelector{Name: "lists", Key: "shop.csv"}}})
	})
	h.waitEvent(t, ns, "acme", "Superseded")
	eventually(t, "the generation-2 Job replaces the first", func() string {
		jobs := h.jobs(t, ns, "acme")
		for _, j := range jobs {
			if j.Name == first.Name && j.DeletionTimestamp == nil {
				return "the first Job still exists"
			}
		}
		if len(jobs) != 1 || jobs[0].Labels[desired.LabelGeneration] != "2" {
			return "have " + itoa(len(jobs)) + " Jobs"
		}
		return ""
	})
	h.waitPhase(t, cc, ccv1.PhaseRunning)
}

func TestFailedJobStalls(t *testing.T) {
	h := startHarness(t)
	ns := h.namespace(t, "tenant-fail")
	h.create(t, claim(ns, "contacts"))
	h.create(t, configMap(ns, "lists", map[string]string{"fair.csv": "email\n"}))
	cc := tw.MakeConversion("acme", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").Obj()
	h.create(t, cc)
	job := h.waitJobs(t, ns, "acme", 1)

	// The pod the Job controller would have run, terminated by the converter.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: job.Name + "-x", Labels: map[string]string{"batch.kubernetes.io/job-name": job.Name}},
		Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "convert", Image: "contact-converter:test"}}},
	}
	h.create(t, pod)
	pod.Status.Phase = corev1.PodFailed
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "convert", Image: "contact-converter:test", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error",
			Message: "reading sources[0] (fair): line 7: bare \" in non-quoted field"}}}}
	if err := h.c.Status().Update(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	h.finishJob(t, job, false)
	h.waitPhase(t, cc, ccv1.PhaseFailed)
	wantCondition(t, cc, ccv1.ConditionStalled, metav1.ConditionTrue, ccv1.ReasonJobFailed)
	wantKstatus(t, cc, status.FailedStatus)
	if msg := cc.Conditions().Message(ccv1.ConditionStalled); !strings.Contains(msg, "sources[0] (fair): line 7") {
		t.Errorf("Stalled message %q should carry the pod's termination message", msg)
	}
	ev := h.waitEvent(t, ns, "acme", ccv1.ReasonJobFailed)
	if ev.Type != corev1.EventTypeWarning {
		t.Errorf("JobFailed event type %s", ev.Type)
	}
}

func TestConcurrencyCap(t *testing.T) {
	h := startHarnessWithCap(t, 4)
	var ccs []*ccv1.ContactConversion
	for i := range 10 {
		ns := h.namespace(t, "tenant-cap-"+itoa(i))
		h.create(t, claim(ns, "contacts"))
		h.create(t, configMap(ns, "lists", map[string]string{"fair.csv": "email\n"}))
		cc := tw.MakeConversion("acme", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").Obj()
		h.create(t, cc)
		ccs = append(ccs, cc)
	}
	count := func() (running, queued int) {
		for _, cc := range ccs {
			if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(cc), cc); err != nil {
				t.Fatal(err)
			}
			switch {
			case cc.Status.Phase == ccv1.PhaseRunning:
				running++
			case cc.Status.QueuedForCapacity():
				queued++
			}
		}
		return
	}
	eventually(t, "4 running and 6 queued", func() string {
		if r, q := count(); r != 4 || q != 6 {
			return "running " + itoa(r) + ", queued " + itoa(q)
		}
		return ""
	})
	// Finishing two runs lets two queued conversions start.
	done := 0
	for _, cc := range ccs {
		if cc.Status.Phase == ccv1.PhaseRunning && done < 2 {
			h.finishJob(t, h.waitJobs(t, cc.Namespace, cc.Name, 1), true)
			done++
		}
	}
	eventually(t, "4 running and 4 queued after two finished", func() string {
		if r, q := count(); r != 4 || q != 4 {
			return "running " + itoa(r) + ", queued " + itoa(q)
		}
		return ""
	})
}

// The cap counts only Jobs a ContactConversion owns, and queued conversions
// take turns by namespace: a tenant with three conversions does not take
// both slots from a tenant with one.
func TestTheCapIsFair(t *testing.T) {
	h := startHarnessWithCap(t, 2)
	start := func(ns, name string) *ccv1.ContactConversion {
		h.create(t, claim(ns, "contacts-"+name))
		h.create(t, configMap(ns, "lists-"+name, map[string]string{"fair.csv": "email\n"}))
		cc := tw.MakeConversion(name, ns).SQLite("contacts").CSVFromConfigMap("fair", "lists-"+name, "fair.csv").Obj()
		cc.Spec.Database.SQLite.PersistentVolumeClaim = "contacts-" + name
		h.create(t, cc)
		return cc
	}
	blockers := h.namespace(t, "fair-blockers")
	// A Job carrying the operator's label but owned by nobody takes no slot.
	h.create(t, tw.MakeJob("lookalike", blockers).Label(desired.LabelManagedBy, desired.ManagedBy).Obj())
	first, second := start(blockers, "one"), start(blockers, "two")
	for _, cc := range []*ccv1.ContactConversion{first, second} {
		h.waitJobs(t, cc.Namespace, cc.Name, 1)
	}
	greedy, modest := h.namespace(t, "fair-greedy"), h.namespace(t, "fair-modest")
	var queued []*ccv1.ContactConversion
	for _, name := range []string{"a", "b", "c"} {
		queued = append(queued, start(greedy, name))
	}
	queued = append(queued, start(modest, "z"))
	h.waitQueued(t, queued...)
	for _, cc := range []*ccv1.ContactConversion{first, second} {
		h.finishJob(t, h.waitJobs(t, cc.Namespace, cc.Name, 1), true)
	}
	eventually(t, "one conversion of each namespace running", func() string {
		running := []string{}
		for _, cc := range queued {
			if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(cc), cc); err != nil {
				return err.Error()
			}
			if cc.Status.Phase == ccv1.PhaseRunning {
				running = append(running, cc.Namespace+"/"+cc.Name)
			}
		}
		if len(running) != 2 || running[0] != greedy+"/a" || running[1] != modest+"/z" {
			return "running " + strings.Join(running, ", ")
		}
		return ""
	})
}
