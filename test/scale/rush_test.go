package scale

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/testenv"
)

const (
	rushNamespaces  = 100
	rushPerNS       = 10
	rushCap         = 50
	rushCompletions = 200
)

// BenchmarkRush is 19:00: 1,000 conversions in 100 namespaces share one
// window, under a cap of 50. No pod runs here, so the benchmark completes
// Jobs itself, one at a time, and measures how soon the window fills the
// cap, how soon each freed slot is taken, whether namespaces take turns,
// the API writes per admitted conversion and the manager's peak RSS.
func BenchmarkRush(b *testing.B) {
	bin := operatorBinary(b)
	for b.Loop() {
		runRush(b, bin)
	}
}

func runRush(b *testing.B, bin string) {
	env := testenv.Start(b)
	ctx := testenv.Context(b)
	mgr, metricsAddr := manager(b, env, bin, fmt.Sprintf("--max-concurrent-conversions=%d", rushCap))
	c := fastClient(b, env)

	// The window opens at the first whole minute at least 45 s away, once
	// every conversion is created and Waiting.
	opens := time.Now().UTC().Add(45 * time.Second).Truncate(time.Minute).Add(time.Minute)
	win := ccv1.Window{Start: opens.Format("15:04"), End: opens.Add(2 * time.Hour).Format("15:04")}
	createTenants(b, c, rushNamespaces, rushPerNS, win)
	if time.Now().After(opens) {
		b.Fatalf("creating the conversions took past the window's start %s", opens)
	}

	// Watch the Jobs as they are created.
	var mu sync.Mutex
	createdAt := map[string]time.Time{} // Job namespace/name -> first seen
	var order []string                  // namespaces, in admission order
	seen := func() int {
		var jobs batchv1.JobList
		if err := c.List(ctx, &jobs, client.MatchingLabels{desired.LabelManagedBy: desired.ManagedBy}); err != nil {
			b.Fatal(err)
		}
		slices.SortFunc(jobs.Items, func(x, y batchv1.Job) int { return x.CreationTimestamp.Compare(y.CreationTimestamp.Time) })
		mu.Lock()
		defer mu.Unlock()
		for _, j := range jobs.Items {
			key := j.Namespace + "/" + j.Name
			if _, ok := createdAt[key]; !ok {
				createdAt[key] = time.Now()
				order = append(order, j.Namespace)
			}
		}
		return len(createdAt)
	}
	time.Sleep(time.Until(opens))
	for seen() < rushCap {
		if time.Since(opens) > time.Minute {
			b.Fatalf("only %d Jobs a minute after the window opened", seen())
		}
		time.Sleep(20 * time.Millisecond)
	}
	filled := time.Since(opens)
	// The completions start once every conversion without a slot says it
	// is queued: the writes and waits measured are those of admissions,
	// not of the window's opening.
	for {
		var list ccv1.ContactConversionList
		if err := c.List(ctx, &list); err != nil {
			b.Fatal(err)
		}
		queued := 0
		for _, cc := range list.Items {
			if cc.Status.Queue != nil {
				queued++
			}
		}
		if queued == rushNamespaces*rushPerNS-rushCap {
			break
		}
		if time.Since(opens) > 2*time.Minute {
			b.Fatalf("%d conversions queued two minutes after the window opened, want %d", queued, rushNamespaces*rushPerNS-rushCap)
		}
		time.Sleep(100 * time.Millisecond)
	}
	allQueued := time.Since(opens)
	before, apiBefore := scrape(b, metricsAddr), apiServerWrites(b, env)
	admittedBefore := seen()

	// Complete a random running Job, then wait for the next admission.
	rng := rand.New(rand.NewPCG(1, 2))
	var waits []time.Duration
	for range rushCompletions {
		var jobs batchv1.JobList
		if err := c.List(ctx, &jobs, client.MatchingLabels{desired.LabelManagedBy: desired.ManagedBy}); err != nil {
			b.Fatal(err)
		}
		var running []batchv1.Job
		for _, j := range jobs.Items {
			if !finished(&j) {
				running = append(running, j)
			}
		}
		if len(running) != rushCap {
			b.Fatalf("%d Jobs running, want the cap of %d", len(running), rushCap)
		}
		n := seen()
		complete(b, c, &running[rng.IntN(len(running))])
		done := time.Now()
		for seen() == n {
			if time.Since(done) > 30*time.Second {
				b.Fatal("no admission within 30 s of a completion")
			}
			time.Sleep(5 * time.Millisecond)
		}
		waits = append(waits, time.Since(done))
	}
	after, apiAfter := scrape(b, metricsAddr), apiServerWrites(b, env)
	admitted := seen() - admittedBefore
	_, hwm := rssOf(b, mgr.Process.Pid)

	slices.Sort(waits)
	p50, p99 := waits[len(waits)/2], waits[len(waits)*99/100]
	// Fairness: every namespace has ten conversions, so taking turns keeps
	// their admitted counts within one of each other, but for the turns
	// the completions (at random) give back.
	counts := map[string]int{}
	for _, ns := range order {
		counts[ns]++
	}
	lo, hi := len(order), 0
	for n := range rushNamespaces {
		k := counts[fmt.Sprintf("tenant-%04d", n)]
		lo, hi = min(lo, k), max(hi, k)
	}
	// The operator's writes while the completions ran, as the API server
	// counts them: those a conversion's first run makes once (its
	// ServiceAccount, Role, RoleBinding, conflict report, inventory and its
	// database's erasure salt), and those every run makes (its Job, and a
	// status write and an Event on admission and on completion). The
	// benchmark's own writes are the Jobs' status updates that complete them.
	var everyRun, firstRun float64
	for k, v := range apiAfter {
		n := (v - apiBefore[k]) / float64(admitted)
		switch k {
		case "PUT jobs/status", "PUT leases":
		case "APPLY serviceaccounts", "APPLY roles", "APPLY rolebindings", "POST secrets", "POST configmaps":
			firstRun += n
		default:
			everyRun += n
		}
	}
	perAdmission := (writes(after) - writes(before)) / float64(admitted)

	b.ReportMetric(filled.Seconds(), "s-to-fill-the-cap")
	b.ReportMetric(p99.Seconds(), "s-p99-to-next-admission")
	b.ReportMetric(everyRun, "writes/admission+completion")
	b.ReportMetric(float64(hwm)/1024, "peak-RSS-MiB")
	fmt.Printf("\nrush: %d conversions in %d namespaces, one window at %s, cap %d\n", rushNamespaces*rushPerNS, rushNamespaces, opens.Format("15:04:05"), rushCap)
	fmt.Printf("rush: %d Jobs created %.2f s after the window opened; the %d others all queued after %.2f s\n",
		rushCap, filled.Seconds(), rushNamespaces*rushPerNS-rushCap, allQueued.Seconds())
	fmt.Printf("rush: %d completions: next admission p50 %v, p99 %v\n", len(waits), p50.Round(time.Millisecond), p99.Round(time.Millisecond))
	fmt.Printf("rush: admitted per namespace between %d and %d (%d admissions); manager peak RSS %.1f MiB\n", lo, hi, len(order), float64(hwm)/1024)
	fmt.Printf("rush: API writes per completion and admission: %.2f on every run, %.2f more on a conversion's first run (%.2f in all)\n",
		everyRun, firstRun, perAdmission)
	fmt.Printf("rush: the operator's writes by resource (total, per completion and admission):\n")
	for _, k := range slices.Sorted(maps.Keys(apiAfter)) {
		if n := apiAfter[k] - apiBefore[k]; n > 0 && k != "PUT jobs/status" {
			fmt.Printf("rush:   %-36s %6.0f  %.2f\n", k, n, n/float64(admitted))
		}
	}
	if hi-lo > 2 {
		b.Errorf("admitted per namespace between %d and %d: namespaces did not take turns", lo, hi)
	}
	// An admission's own writes are its Job, its status and its Event; the
	// completion before it writes a status and an Event.
	if p99 > 2*time.Second || filled > 5*time.Second || everyRun > 3+2 {
		fmt.Printf("rush: goals not met: cap filled within 5 s (%.2f s), next admission p99 within 2 s (%v), at most 3 writes per admission and 2 per completion (%.2f)\n",
			filled.Seconds(), p99.Round(time.Millisecond), everyRun)
	}
}

func finished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// complete marks a Job succeeded, as the Job controller would once its
// pod ended.
func complete(b *testing.B, c client.Client, j *batchv1.Job) {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	start := metav1.NewTime(now.Add(-time.Minute))
	j.Status.StartTime, j.Status.CompletionTime, j.Status.Succeeded = &start, &now, 1
	j.Status.Conditions = []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, LastProbeTime: now, LastTransitionTime: now},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, LastProbeTime: now, LastTransitionTime: now},
	}
	if err := c.Status().Update(context.Background(), j); err != nil {
		b.Fatalf("completing Job %s: %v", j.Name, err)
	}
}
