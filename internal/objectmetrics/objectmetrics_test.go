package objectmetrics

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
)

var t0 = time.Date(2026, 11, 29, 19, 0, 0, 0, time.UTC)

// Only the series that say something: the current phase, the conditions
// present, a run's counts once there was a run, the times once known.
func TestConversionSamples(t *testing.T) {
	for _, tc := range []struct {
		name string
		cc   *ccv1.ContactConversion
		want []Sample
	}{
		{name: "queued for two hours, last success known",
			cc: tw.MakeConversion("acme", "tenant").Queued(t0.Add(-2*time.Hour)).
				NextWindow(t0.Add(-2*time.Hour), t0.Add(10*time.Hour)).LastSuccess(t0.Add(-24 * time.Hour)).
				Progress(ccv1.Progress{Percent: 100, RowsRead: 1900, RowsRejected: 12, Contacts: 1000}).Obj(),
			want: []Sample{{ConversionPhase, []string{"Waiting"}, 1}, {ConversionCondition, []string{ccv1.ConditionReady}, 1},
				{ConversionPercent, nil, 100}, {ConversionRowsRead, nil, 1900}, {ConversionRowsRejected, nil, 12},
				{ConversionContacts, nil, 1000},
				{ConversionLastSuccess, nil, float64(t0.Add(-24 * time.Hour).Unix())},
				{ConversionNextWindow, nil, float64(t0.Add(-2 * time.Hour).Unix())},
				{ConversionQueued, nil, 1}, {ConversionQueuedSeconds, nil, 7200}}},
		{name: "conflicts pending, never succeeded before, no window",
			cc: tw.MakeConversion("acme", "tenant").Phase(ccv1.PhaseConflictsPending).
				Condition(ccv1.ConditionReady, metav1.ConditionTrue, ccv1.ReasonConflictsPending, "3 conflicts.", t0).
				Condition(ccv1.ConditionConflictsResolved, metav1.ConditionFalse, ccv1.ReasonConflictsPending, "3 conflicts.", t0).
				Progress(ccv1.Progress{Percent: 100, RowsRead: 10, Contacts: 8}).Conflicts(5, 3).Obj(),
			want: []Sample{{ConversionPhase, []string{"ConflictsPending"}, 1},
				{ConversionCondition, []string{ccv1.ConditionReady}, 1}, {ConversionCondition, []string{ccv1.ConditionConflictsResolved}, 0},
				{ConversionPercent, nil, 100}, {ConversionRowsRead, nil, 10}, {ConversionRowsRejected, nil, 0},
				{ConversionContacts, nil, 8}, {ConversionConflicts, nil, 3},
				{ConversionQueued, nil, 0}, {ConversionQueuedSeconds, nil, 0}}},
		{name: "stalled before any run", cc: tw.MakeConversion("acme", "tenant").Phase(ccv1.PhaseFailed).
			Condition(ccv1.ConditionReady, metav1.ConditionFalse, ccv1.ReasonJobFailed, "failed", t0).
			Condition(ccv1.ConditionStalled, metav1.ConditionTrue, ccv1.ReasonJobFailed, "failed", t0).Obj(),
			want: []Sample{{ConversionPhase, []string{"Failed"}, 1},
				{ConversionCondition, []string{ccv1.ConditionReady}, 0}, {ConversionCondition, []string{ccv1.ConditionStalled}, 1},
				{ConversionQueued, nil, 0}, {ConversionQueuedSeconds, nil, 0}}},
		{name: "just created", cc: tw.MakeConversion("acme", "tenant").Obj(),
			want: []Sample{{ConversionQueued, nil, 0}, {ConversionQueuedSeconds, nil, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ConversionSamples(tc.cc, t0)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCenterSamples(t *testing.T) {
	pc := tw.MakeCenter("prefs", "t").Edit(func(pc *ccv1.PreferenceCenter) { pc.Spec.Replicas = ptr.To[int32](2) }).
		Condition(ccv1.ConditionReady, metav1.ConditionFalse, ccv1.ReasonRollingOut, "").
		Condition(ccv1.ConditionReconciling, metav1.ConditionTrue, ccv1.ReasonRollingOut, "").Obj()
	want := []Sample{{CenterReplicas, nil, 2}, {CenterReadyReplicas, nil, 0},
		{CenterCondition, []string{ccv1.ConditionReady}, 0},
		{CenterCondition, []string{ccv1.ConditionReconciling}, 1},
		{CenterCondition, []string{ccv1.ConditionStalled}, 0}}
	if diff := cmp.Diff(want, CenterSamples(pc)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

type lister struct {
	ccs []ccv1.ContactConversion
	pcs []ccv1.PreferenceCenter
}

func (l *lister) Conversions(context.Context) ([]ccv1.ContactConversion, error) { return l.ccs, nil }
func (l *lister) Centers(context.Context) ([]ccv1.PreferenceCenter, error)      { return l.pcs, nil }

// One set of series per object, gone with the object.
func TestCollectorSeriesFollowTheObjects(t *testing.T) {
	l := &lister{ccs: []ccv1.ContactConversion{*tw.MakeConversion("a", "t").Obj(), *tw.MakeConversion("b", "t").Obj()},
		pcs: []ccv1.PreferenceCenter{*tw.MakeCenter("prefs", "t").Obj()}}
	c := NewCollector(l, func() time.Time { return t0 })
	perConversion := len(ConversionSamples(tw.MakeConversion("a", "t").Obj(), t0))
	perCenter := len(CenterSamples(tw.MakeCenter("prefs", "t").Obj()))
	if got, want := testutil.CollectAndCount(c), 2*perConversion+perCenter; got != want {
		t.Errorf("%d series for two conversions and a center, want %d", got, want)
	}
	l.ccs, l.pcs = l.ccs[:1], nil
	if got := testutil.CollectAndCount(c); got != perConversion {
		t.Errorf("%d series after deletions, want %d", got, perConversion)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP contact_converter_conversion_queued 1 while the conversion waits for a free slot under the concurrency cap.
# TYPE contact_converter_conversion_queued gauge
contact_converter_conversion_queued{name="a",namespace="t"} 0
`), ConversionQueued); err != nil {
		t.Error(err)
	}
}

// BenchmarkScrape is one scrape of 10,000 waiting conversions, as
// Prometheus reads it: its allocations are the manager's memory peak at
// scale.
func BenchmarkScrape(b *testing.B) {
	l := &lister{}
	for i := range 10000 {
		l.ccs = append(l.ccs, *tw.MakeConversion(fmt.Sprintf("conversion-%d", i%10), fmt.Sprintf("tenant-%04d", i/10)).
			Phase(ccv1.PhaseWaiting).NextWindow(t0, t0.Add(2*time.Hour)).
			Condition(ccv1.ConditionReady, metav1.ConditionTrue, ccv1.ReasonScheduled, "Waiting for the next window.", t0).
			Condition(ccv1.ConditionRunning, metav1.ConditionFalse, ccv1.ReasonScheduled, "Waiting for the next window.", t0).
			Condition(ccv1.ConditionComplete, metav1.ConditionFalse, ccv1.ReasonScheduled, "Waiting for the next window.", t0).Obj())
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(l, func() time.Time { return t0 }))
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	b.ReportAllocs()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	for b.Loop() {
		w := &discard{header: http.Header{}}
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK || w.n == 0 {
			b.Fatalf("scrape: %d, %d bytes", w.code, w.n)
		}
	}
}

// discard is a client reading the scrape as it comes, keeping nothing.
type discard struct {
	header http.Header
	code   int
	n      int
}

func (d *discard) Header() http.Header  { return d.header }
func (d *discard) WriteHeader(code int) { d.code = code }
func (d *discard) Write(p []byte) (int, error) {
	if d.code == 0 {
		d.code = http.StatusOK
	}
	d.n += len(p)
	return len(p), nil
}
