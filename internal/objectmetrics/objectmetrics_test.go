package objectmetrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
)

var t0 = time.Date(2026, 11, 29, 19, 0, 0, 0, time.UTC)

func phaseSamples(current ccv1.Phase) []Sample {
	var out []Sample
	for _, p := range phases {
		v := 0.0
		if p == current {
			v = 1
		}
		out = append(out, Sample{ConversionPhase, []string{string(p)}, v})
	}
	return out
}

func conditionSamples(trueOnes ...string) []Sample {
	var out []Sample
	for _, c := range conversionConditions {
		v := 0.0
		for _, t := range trueOnes {
			if t == c {
				v = 1
			}
		}
		out = append(out, Sample{ConversionCondition, []string{c}, v})
	}
	return out
}

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
			want: append(append(phaseSamples(ccv1.PhaseWaiting), conditionSamples(ccv1.ConditionReady)...),
				Sample{ConversionPercent, nil, 100}, Sample{ConversionRowsRead, nil, 1900}, Sample{ConversionRowsRejected, nil, 12},
				Sample{ConversionContacts, nil, 1000}, Sample{ConversionConflicts, nil, 0},
				Sample{ConversionLastSuccess, nil, float64(t0.Add(-24 * time.Hour).Unix())},
				Sample{ConversionNextWindow, nil, float64(t0.Add(-2 * time.Hour).Unix())},
				Sample{ConversionQueued, nil, 1}, Sample{ConversionQueuedSeconds, nil, 7200})},
		{name: "conflicts pending, never succeeded before, no window",
			cc: tw.MakeConversion("acme", "tenant").Phase(ccv1.PhaseConflictsPending).
				Condition(ccv1.ConditionReady, metav1.ConditionTrue, ccv1.ReasonConflictsPending, "3 conflicts.", t0).
				Condition(ccv1.ConditionConflictsResolved, metav1.ConditionFalse, ccv1.ReasonConflictsPending, "3 conflicts.", t0).
				Conflicts(5, 3).Obj(),
			want: append(append(phaseSamples(ccv1.PhaseConflictsPending), conditionSamples(ccv1.ConditionReady)...),
				Sample{ConversionPercent, nil, 0}, Sample{ConversionRowsRead, nil, 0}, Sample{ConversionRowsRejected, nil, 0},
				Sample{ConversionContacts, nil, 0}, Sample{ConversionConflicts, nil, 3},
				Sample{ConversionQueued, nil, 0}, Sample{ConversionQueuedSeconds, nil, 0})},
		{name: "stalled", cc: tw.MakeConversion("acme", "tenant").Phase(ccv1.PhaseFailed).
			Condition(ccv1.ConditionReady, metav1.ConditionFalse, ccv1.ReasonJobFailed, "failed", t0).
			Condition(ccv1.ConditionStalled, metav1.ConditionTrue, ccv1.ReasonJobFailed, "failed", t0).Obj(),
			want: append(append(phaseSamples(ccv1.PhaseFailed), conditionSamples(ccv1.ConditionStalled)...),
				Sample{ConversionPercent, nil, 0}, Sample{ConversionRowsRead, nil, 0}, Sample{ConversionRowsRejected, nil, 0},
				Sample{ConversionContacts, nil, 0}, Sample{ConversionConflicts, nil, 0},
				Sample{ConversionQueued, nil, 0}, Sample{ConversionQueuedSeconds, nil, 0})},
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
