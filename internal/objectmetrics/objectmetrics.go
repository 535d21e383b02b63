// Package objectmetrics exposes one set of Prometheus series per
// ContactConversion and PreferenceCenter, computed from the objects at
// scrape time (as kube-state-metrics does): a deleted object's series go
// with it, and nothing is kept between scrapes.
package objectmetrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// Sample is one series of an object: a metric, the values of its labels
// beyond namespace and name, and its value.
type Sample struct {
	Metric string
	Labels []string
	Value  float64
}

// Metric names.
const (
	ConversionPhase         = "contact_converter_conversion_phase"
	ConversionCondition     = "contact_converter_conversion_condition"
	ConversionPercent       = "contact_converter_conversion_progress_percent"
	ConversionRowsRead      = "contact_converter_conversion_rows_read"
	ConversionRowsRejected  = "contact_converter_conversion_rows_rejected"
	ConversionContacts      = "contact_converter_conversion_contacts"
	ConversionConflicts     = "contact_converter_conversion_conflicts_unresolved"
	ConversionLastSuccess   = "contact_converter_conversion_last_success_timestamp_seconds"
	ConversionNextWindow    = "contact_converter_conversion_next_window_start_timestamp_seconds"
	ConversionQueued        = "contact_converter_conversion_queued"
	ConversionQueuedSeconds = "contact_converter_conversion_queued_seconds"
	CenterReplicas          = "contact_converter_preference_center_replicas"
	CenterReadyReplicas     = "contact_converter_preference_center_ready_replicas"
	CenterCondition         = "contact_converter_preference_center_condition"
)

type spec struct {
	help   string
	labels []string
}

// Specs describes every series: its help and its labels beyond namespace
// and name.
var Specs = map[string]spec{
	ConversionPhase:         {"1, for the conversion's current phase only.", []string{"phase"}},
	ConversionCondition:     {"1 when the condition is True, 0 when False; absent when the status does not have it.", []string{"type"}},
	ConversionPercent:       {"Progress of the current or last run, 0 to 100; absent before the first run reports.", nil},
	ConversionRowsRead:      {"Rows read by the current or last run.", nil},
	ConversionRowsRejected:  {"Rows rejected by the current or last run.", nil},
	ConversionContacts:      {"Contacts in the database after the current or last run.", nil},
	ConversionConflicts:     {"Conflicts waiting for a resolution (policy Manual); absent before the first run reports.", nil},
	ConversionLastSuccess:   {"When a run last succeeded, as a Unix time; absent before the first.", nil},
	ConversionNextWindow:    {"When the next window opens (or the one waited in opened), as a Unix time.", nil},
	ConversionQueued:        {"1 while the conversion waits for a free slot under the concurrency cap.", nil},
	ConversionQueuedSeconds: {"How long the conversion has waited for a free slot; 0 when not waiting.", nil},
	CenterReplicas:          {"Replicas the preference center asks for.", nil},
	CenterReadyReplicas:     {"Ready replicas of the preference center.", nil},
	CenterCondition:         {"1 when the condition is True, 0 when False or absent.", []string{"type"}},
}

var (
	conversionConditions = []string{ccv1.ConditionReady, ccv1.ConditionReconciling, ccv1.ConditionStalled, ccv1.ConditionRunning,
		ccv1.ConditionSuspended, ccv1.ConditionConflictsResolved, ccv1.ConditionComplete}
	centerConditions = []string{ccv1.ConditionReady, ccv1.ConditionReconciling, ccv1.ConditionStalled}
)

// ConversionSamples are the series of one conversion at now: only those
// that say something, so that ten thousand conversions stay a light
// scrape. The current phase alone (1), the conditions present (1 when
// True), a run's counts once a run reported them, the times once known,
// and whether it waits for a slot.
func ConversionSamples(cc *ccv1.ContactConversion, now time.Time) []Sample {
	out := make([]Sample, 0, 16)
	add := func(metric string, v float64, labels ...string) {
		out = append(out, Sample{Metric: metric, Labels: labels, Value: v})
	}
	st := &cc.Status
	if st.Phase != "" {
		add(ConversionPhase, 1, string(st.Phase))
	}
	for _, t := range conversionConditions {
		if c := meta.FindStatusCondition(st.Conditions, t); c != nil {
			add(ConversionCondition, boolValue(c.Status == metav1.ConditionTrue), t)
		}
	}
	if p := st.Progress; p != nil {
		add(ConversionPercent, float64(p.Percent))
		add(ConversionRowsRead, float64(p.RowsRead))
		add(ConversionRowsRejected, float64(p.RowsRejected))
		add(ConversionContacts, float64(p.Contacts))
	}
	if c := st.Conflicts; c != nil && cc.Spec.ConflictPolicyOrDefault() == ccv1.ConflictPolicyManual {
		add(ConversionConflicts, float64(c.Unresolved))
	}
	if t := st.LastSuccessTime; t != nil {
		add(ConversionLastSuccess, float64(t.Unix()))
	}
	if t := st.NextWindowStart; t != nil {
		add(ConversionNextWindow, float64(t.Unix()))
	}
	queued := st.Queue != nil
	var waited float64
	if queued {
		waited = max(0, now.Sub(st.Queue.Since.Time).Seconds())
	}
	add(ConversionQueued, boolValue(queued))
	add(ConversionQueuedSeconds, waited)
	return out
}

// CenterSamples are the series of one preference center.
func CenterSamples(pc *ccv1.PreferenceCenter) []Sample {
	out := []Sample{
		{Metric: CenterReplicas, Value: float64(ptr.Deref(pc.Spec.Replicas, 1))},
		{Metric: CenterReadyReplicas, Value: float64(pc.Status.ReadyReplicas)},
	}
	for _, t := range centerConditions {
		out = append(out, Sample{Metric: CenterCondition, Labels: []string{t}, Value: boolValue(meta.IsStatusConditionTrue(pc.Status.Conditions, t))})
	}
	return out
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Lister reads the objects to expose, from a cache.
type Lister interface {
	Conversions(ctx context.Context) ([]ccv1.ContactConversion, error)
	Centers(ctx context.Context) ([]ccv1.PreferenceCenter, error)
}

// Collector is a prometheus.Collector over the objects a Lister returns.
type Collector struct {
	Lister Lister
	Now    func() time.Time
	descs  map[string]*prometheus.Desc
}

// NewCollector builds the Collector.
func NewCollector(l Lister, now func() time.Time) *Collector {
	c := &Collector{Lister: l, Now: now, descs: map[string]*prometheus.Desc{}}
	for name, s := range Specs {
		c.descs[name] = prometheus.NewDesc(name, s.help, append([]string{"namespace", "name"}, s.labels...), nil)
	}
	return c
}

// Describe sends every series' description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect reads the objects and sends their series. A failed read sends
// an invalid metric, so the scrape reports the error.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ccs, err := c.Lister.Conversions(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.descs[ConversionPhase], err)
		return
	}
	now := c.Now()
	for i := range ccs {
		c.send(ch, ccs[i].Namespace, ccs[i].Name, ConversionSamples(&ccs[i], now))
	}
	pcs, err := c.Lister.Centers(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.descs[CenterReplicas], err)
		return
	}
	for i := range pcs {
		c.send(ch, pcs[i].Namespace, pcs[i].Name, CenterSamples(&pcs[i]))
	}
}

func (c *Collector) send(ch chan<- prometheus.Metric, ns, name string, samples []Sample) {
	for _, s := range samples {
		ch <- prometheus.MustNewConstMetric(c.descs[s.Metric], prometheus.GaugeValue, s.Value, append([]string{ns, name}, s.Labels...)...)
	}
}
