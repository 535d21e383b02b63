package objectmetrics

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
	pc := &ccv1.PreferenceCenter{Spec: ccv1.PreferenceCenterSpec{Replicas: ptr.To[int32](2)},
		Status: ccv1.PreferenceCenterStatus{ReadyReplicas: 0, Conditions: []metav1.Condition{
			{Type: ccv1.ConditionReady, Status: metav1.ConditionFalse}, {Type: ccv1.ConditionReconciling, Status: metav1.ConditionTrue}}}}
	want := []Sample{{CenterReplicas, nil, 2}, {CenterReadyReplicas, nil, 0},
		{CenterConditionMetricName, []string{ccv1.ConditionReady}, 0},
		{CenterConditionMetricName, []string{ccv1.ConditionReconciling}, 1},
		{CenterConditionMetricName, []string{ccv1.ConditionStalled}, 0}}
	if diff := cmp.Diff(want, CenterSamples(pc)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
