package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
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
