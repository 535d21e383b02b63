package contactsctl

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/inventory"
	"github.com/contactconverter/contact-converter/internal/testwrap"
)

var now = time.Date(2026, 11, 29, 14, 0, 0, 0, time.UTC)

func running() *testwrap.ConversionWrapper {
	return testwrap.MakeConversion("acme", "tenant-acme").Created(now.Add(-26*time.Hour)).Generation(2, 2).
		Window("Europe/Brussels", "19:00", "07:00").Phase(ccv1.PhaseRunning).Job("acme-run-7c9f").
		NextWindow(time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)).
		Progress(ccv1.Progress{SourcesTotal: 5, SourcesDone: 2, RowsRead: 500000, RowsRejected: 12, Percent: 42,
			OptOutsImported: &ccv1.OptOutCounts{Segment: 4, Global: 2}}).
		Condition(ccv1.ConditionRunning, metav1.ConditionTrue, ccv1.ReasonJobRunning, "Job acme-run-7c9f is running", now.Add(-10*time.Minute)).
		Condition(ccv1.ConditionReady, metav1.ConditionFalse, ccv1.ReasonJobRunning, "Job acme-run-7c9f is running", now.Add(-10*time.Minute))
}

func TestStatusRow(t *testing.T) {
	for _, tc := range []struct {
		name          string
		cc            *ccv1.ContactConversion
		withNamespace bool
		want          []string
	}{
		{"running, in its zone and in UTC", running().Obj(), true,
			[]string{"tenant-acme", "acme", "Running", "2026-11-29 19:00 CET", "2026-11-29 18:00 UTC", "42%", "0", "-", "acme-run-7c9f", "26h"}},
		{"new: nothing reported", testwrap.MakeConversion("fresh", "x").Created(now.Add(-5 * time.Second)).Obj(), false,
			[]string{"fresh", "-", "-", "-", "-", "-", "-", "-", "5s"}},
		{"waiting on conflicts", running().Phase(ccv1.PhaseConflictsPending).Conflicts(4, 3).Obj(), false,
			[]string{"acme", "ConflictsPending", "2026-11-29 19:00 CET", "2026-11-29 18:00 UTC", "42%", "0", "3", "acme-run-7c9f", "26h"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.want) != len(StatusHeader(tc.withNamespace)) {
				t.Fatalf("%d cells for %d columns", len(tc.want), len(StatusHeader(tc.withNamespace)))
			}
			if diff := cmp.Diff(tc.want, StatusRow(tc.cc, tc.withNamespace, now)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	cc := running().Conflicts(4, 3, ccv1.ConflictSample{Key: "m•••@example.fr", Field: "firstName", Values: 2}).Obj()
	job := testwrap.MakeJob("acme-run-7c9f", "tenant-acme").Active(1).Obj()
	pod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "acme-run-7c9f-0-x2k4p"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	pc := *testwrap.MakeCenter("acme", "tenant-acme").
		Condition(ccv1.ConditionReady, metav1.ConditionTrue, ccv1.ReasonAvailable, "1/1 replicas ready at http://acme-preferences.tenant-acme.svc:8080").Obj()
	inv := &inventory.Document{Sources: []inventory.Source{
		{Name: "salon-x-2018", RowsRead: 7, RowsRejected: 2, Contacts: 5},
		{Name: "mailchimp-unsubscribed", RowsRead: 2, Contacts: 2, OptOuts: "2, Global, Unsubscribe"}}}
	want := `ContactConversion: tenant-acme/acme (generation 2, status of generation 2)
Phase:             Running [########------------] 42%
Conditions:
  Ready              False  JobRunning: Job acme-run-7c9f is running (10m ago)
  Running            True   JobRunning: Job acme-run-7c9f is running (10m ago)
Schedule:          every day 19:00-07:00 (Europe/Brussels)
Next window:       2026-11-29 19:00 CET (18:00 UTC), until 2026-11-30 07:00 CET
Last run:          sources 2/5, 500000 rows read, 12 rejected, 0 contacts, 0 duplicate rows merged
Opt-outs imported: 4 for one list, 2 for every list
  SOURCE                         READ   REJECTED   CONTACTS  OPT-OUTS
  salon-x-2018                      7          2          5  -
  mailchimp-unsubscribed            2          0          2  2, Global, Unsubscribe
Conflicts:         4, 3 unresolved; all of them: kubectl contacts conflicts acme
  m•••@example.fr                firstName    2 values
Job:               acme-run-7c9f: 1 active, 0 succeeded, 0 failed
  pod acme-run-7c9f-0-x2k4p: Running
PreferenceCenter:  acme (1/1 replicas ready at http://acme-preferences.tenant-acme.svc:8080)
`
	if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(Describe(cc, Related{Job: job, Pods: []corev1.Pod{pod}, PreferenceCenters: []ccv1.PreferenceCenter{pc}, Inventory: inv}, now), "\n")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestGitOpsManager(t *testing.T) {
	for manager, want := range map[string]string{
		"argocd-controller": "Argo CD", "argocd-application-controller": "Argo CD", "kustomize-controller": "Flux",
		"helm-controller": "Flux", "kubectl-client-side-apply": "", "contact-converter": "",
	} {
		if got := GitOpsManager(testwrap.MakeConversion("a", "b").ManagedBy(manager).Obj()); got != want {
			t.Errorf("manager %s: %q, want %q", manager, got, want)
		}
	}
}

func TestReadConflicts(t *testing.T) {
	report := "key,field,values,resolved\nmarie@example.fr,firstName,Marie | Marie-Claire,false\nluc@example.be,firstName,Luc | Lucas,true\n"
	got, err := ReadConflicts(strings.NewReader(report), true)
	want := []Conflict{{Key: "marie@example.fr", Field: "firstName", Values: "Marie | Marie-Claire"}}
	if diff := cmp.Diff(want, got); diff != "" || err != nil {
		t.Errorf("unresolved (-want +got):\n%s%v", diff, err)
	}
	if all, _ := ReadConflicts(strings.NewReader(report), false); len(all) != 2 {
		t.Errorf("all: %d conflicts, want 2", len(all))
	}
}

// "Why is my conversion not running?": a queued conversion says its place,
// how long it has waited, on which cap, and what would let it start.
func TestDescribeQueued(t *testing.T) {
	for _, tc := range []struct {
		name  string
		queue ccv1.QueueStatus
		want  string
	}{
		{"the cluster's cap", ccv1.QueueStatus{Reason: ccv1.QueueReasonClusterCap, Since: metav1.NewTime(now.Add(-12 * time.Minute)), Position: 3},
			"Queue:             number 3, waiting 12m: the cluster-wide cap on running conversions is reached (the operator's --max-concurrent-conversions, chart value maxConcurrentConversions); a slot frees when a running conversion ends or is suspended\n"},
		{"the namespace's cap", ccv1.QueueStatus{Reason: ccv1.QueueReasonNamespaceCap, Since: metav1.NewTime(now.Add(-90 * time.Second))},
			"Queue:             waiting 90s: this namespace's cap on running conversions is reached (the operator's --max-concurrent-conversions-per-namespace, chart value maxConcurrentConversionsPerNamespace); a slot frees when one of this namespace's running conversions ends or is suspended\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.queue
			cc := running().Phase(ccv1.PhaseWaiting).Edit(func(cc *ccv1.ContactConversion) { cc.Status.Queue = &q }).Obj()
			var got string
			for _, l := range strings.SplitAfter(Describe(cc, Related{}, now), "\n") {
				if strings.HasPrefix(l, "Queue:") {
					got = l
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
