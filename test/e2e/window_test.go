package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/linktoken"
)

// nextMinute is the start of the minute after now, at least 15 s away, so
// the conversion is seen waiting.
func nextMinute() time.Time {
	m := time.Now().UTC().Truncate(time.Minute).Add(time.Minute)
	if time.Until(m) < 15*time.Second {
		m = m.Add(time.Minute)
	}
	return m
}

func window(start, end time.Time) string {
	return fmt.Sprintf(`{"spec":{"schedule":{"timeZone":"UTC","windows":[{"start":%q,"end":%q}]}}}`, start.Format("15:04"), end.Format("15:04"))
}

// Off-peak windows with the real clock: the conversion waits for a window
// opening a minute ahead, starts, is suspended when the window closes
// mid-run (the Pod gets SIGTERM), and resumes at the next window; the
// database is the one an uninterrupted run gives.
func TestOffPeakWindow(t *testing.T) {
	start := time.Now()
	c := startCluster(t)
	want := referenceExport(t, c.Binary)
	create(t, c, namespace("window"), claim("window", "contacts"))
	open := nextMinute()
	cc := bigConversion(t, "window", "big", sqliteOn("contacts"))
	cc.Spec.Schedule = ccv1.ScheduleSpec{TimeZone: "UTC", Windows: []ccv1.Window{{Start: open.Format("15:04"), End: open.Add(time.Minute).Format("15:04")}}}
	// The lists arrive slowly, so the run outlasts its one-minute window.
	big.slowRate.Store(120 << 10)
	defer big.slowRate.Store(0)
	create(t, c, cc)
	waitPhase(t, c, cc, ccv1.PhaseWaiting, 30*time.Second)
	if cc.Status.NextWindowStart == nil || !cc.Status.NextWindowStart.Time.Equal(open) {
		t.Errorf("next window %v, want %v", cc.Status.NextWindowStart, open)
	}
	waitPhase(t, c, cc, ccv1.PhaseRunning, time.Until(open)+30*time.Second)
	if early := time.Until(open); early > time.Second {
		t.Errorf("started %s before the window opened", early)
	}
	waitPhase(t, c, cc, ccv1.PhasePaused, time.Until(open.Add(time.Minute))+40*time.Second)
	eventually(t, 60*time.Second, "the Pod stopped on SIGTERM", func() string {
		if !anyContains(convertLogs(t, c), "context canceled") {
			return "no convert container stopped yet"
		}
		return ""
	})
	var job batchv1.Job
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: "window", Name: cc.Status.JobName}, &job); err != nil || job.Spec.Suspend == nil || !*job.Spec.Suspend {
		t.Errorf("the Job is not suspended outside the window (%v)", err)
	}
	big.slowRate.Store(0)
	next := nextMinute()
	patchMerge(t, c, "window", "big", window(next, next.Add(2*time.Hour)))
	waitPhase(t, c, cc, ccv1.PhaseSucceeded, time.Until(next)+3*time.Minute)
	if got := exportClaim(t, c, "window", "contacts"); got != want {
		t.Errorf("after the window closed mid-run the database differs from an uninterrupted run (%d vs %d bytes)", len(got), len(want))
	}
	t.Logf("off-peak window scenario in %s", time.Since(start).Round(time.Second))
}

// The operator restarts mid-run: the new one adopts the running Job; no
// second Job, and the status carries on.
func TestOperatorRestart(t *testing.T) {
	start := time.Now()
	c := startCluster(t)
	create(t, c, namespace("restart"), claim("restart", "contacts"))
	big.slowRate.Store(600 << 10)
	defer big.slowRate.Store(0)
	cc := bigConversion(t, "restart", "big", sqliteOn("contacts"))
	create(t, c, cc)
	waitPhase(t, c, cc, ccv1.PhaseRunning, 60*time.Second)
	job := cc.Status.JobName
	if err := c.StopOperator(true); err != nil {
		t.Fatal(err)
	}
	t.Log("operator killed mid-run")
	time.Sleep(2 * time.Second)
	if err := c.StartOperator(); err != nil {
		t.Fatal(err)
	}
	big.slowRate.Store(0)
	waitPhase(t, c, cc, ccv1.PhaseSucceeded, 3*time.Minute)
	var jobs batchv1.JobList
	if err := c.Client.List(context.Background(), &jobs, client.InNamespace("restart")); err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items) != 1 || jobs.Items[0].Name != job || cc.Status.JobName != job {
		t.Errorf("jobs after the restart: %d (%s), status names %s; want the one Job %s", len(jobs.Items), jobNames(jobs), cc.Status.JobName, job)
	}
	if cc.Status.Progress == nil || cc.Status.Progress.Contacts == 0 || cc.Status.ObservedGeneration != cc.Generation {
		t.Errorf("status after the restart: %+v", cc.Status)
	}
	t.Logf("operator restart scenario in %s", time.Since(start).Round(time.Second))
}

func jobNames(l batchv1.JobList) string {
	var names []string
	for _, j := range l.Items {
		names = append(names, j.Name)
	}
	return strings.Join(names, ",")
}

// One-click unsubscribes sent while the conversion runs are all in the
// database afterwards.
func TestUnsubscribesDuringConversion(t *testing.T) {
	start := time.Now()
	c := startCluster(t)
	ref := referenceExport(t, c.Binary)
	create(t, c, namespace("unsub"), claim("unsub", "contacts"))
	pc := &ccv1.PreferenceCenter{
		ObjectMeta: metav1.ObjectMeta{Namespace: "unsub", Name: "prefs"},
		Spec: ccv1.PreferenceCenterSpec{
			Database:      sqliteOn("contacts"),
			ConversionRef: &ccv1.LocalObjectReference{Name: "big"},
			Organization:  ccv1.Organization{Name: "ACME", PrivacyPolicyURL: "https://acme.example/privacy"},
			Topics:        []ccv1.Topic{{Name: "fairs", Segment: "salon-2018", Title: map[string]string{"en": "Fairs"}}},
		},
	}
	create(t, c, pc)
	pageAddress(t, c, pc)
	big.slowRate.Store(600 << 10)
	defer big.slowRate.Store(0)
	cc := bigConversion(t, "unsub", "big", sqliteOn("contacts"))
	create(t, c, cc)
	waitPhase(t, c, cc, ccv1.PhaseRunning, 60*time.Second)
	time.Sleep(3 * time.Second) // the page polls the conversion every 2 s

	keys := keysOf(ref, 200)
	sg := signer(t, c, pc)
	addr := pageAddress(t, c, pc)
	var wg sync.WaitGroup
	codes := make([]int, len(keys))
	errs := make([]error, len(keys))
	slots := make(chan struct{}, 8) // as a mailing system's workers would
	for i, key := range keys {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			tok, err := sg.Mint(key, linktoken.PurposeUnsubscribe, time.Now().Add(time.Hour))
			if err != nil {
				errs[i] = err
				return
			}
			res, err := http.Post(addr+"/u/"+tok, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
			if err != nil {
				errs[i] = err
				return
			}
			codes[i] = res.StatusCode
			res.Body.Close()
		})
	}
	wg.Wait()
	queued := 0
	for i, code := range codes {
		switch code {
		case http.StatusAccepted:
			queued++
		case http.StatusOK:
		default:
			t.Fatalf("unsubscribe of %s: %d %v", keys[i], code, errs[i])
		}
	}
	if err := get(t, c.Client, cc); err != nil || cc.Status.Phase != ccv1.PhaseRunning || queued == 0 {
		t.Fatalf("the unsubscribes did not arrive during the run (phase %s, %d queued)", cc.Status.Phase, queued)
	}
	big.slowRate.Store(0)
	waitPhase(t, c, cc, ccv1.PhaseSucceeded, 3*time.Minute)
	eventually(t, 30*time.Second, "every unsubscribe in the database", func() string {
		export := exportClaim(t, c, "unsub", "contacts")
		missing := 0
		for _, key := range keys {
			if !strings.Contains(lineOf(export, key), `"globalOptOut":true`) {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Sprintf("%d of %d unsubscribes missing", missing, len(keys))
		}
		return ""
	})
	t.Logf("%d one-click unsubscribes during the run (%d queued), all applied; scenario in %s", len(keys), queued, time.Since(start).Round(time.Second))
}

// keysOf returns the keys of the first n contacts of an export that have
// not opted out.
func keysOf(export string, n int) []string {
	var keys []string
	for _, line := range strings.Split(export, "\n") {
		if len(keys) == n {
			break
		}
		if !strings.Contains(line, `"globalOptOut":false`) {
			continue
		}
		_, rest, ok := strings.Cut(line, `"key":"`)
		if !ok {
			continue
		}
		key, _, _ := strings.Cut(rest, `"`)
		keys = append(keys, key)
	}
	return keys
}
