package controllers

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

var (
	conversionsByPhase = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "contact_converter_conversions",
		Help: "ContactConversions by phase.",
	}, []string{"phase"})
	contactsMerged = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "contact_converter_contacts_merged_total",
		Help: "Contacts in the databases of succeeded runs.",
	})
	rowsRejected = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "contact_converter_rows_rejected_total",
		Help: "Rows rejected by succeeded or conflicting runs.",
	})
	runDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "contact_converter_run_duration_seconds",
		Help:    "Time from a run's start to its end, pauses included.",
		Buckets: prometheus.ExponentialBuckets(10, 3, 10), // 10 s to about 2 days
	})
	lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "contact_converter_last_success_timestamp_seconds",
		Help: "When each conversion last succeeded, as a Unix time.",
	}, []string{"namespace", "name"})
)

func init() {
	metrics.Registry.MustRegister(conversionsByPhase, contactsMerged, rowsRejected, runDuration, lastSuccess)
}

// phases remembers each conversion's phase, so the gauge counts each once.
var phases = struct {
	sync.Mutex
	m map[types.NamespacedName]ccv1.Phase
}{m: map[types.NamespacedName]ccv1.Phase{}}

func setPhase(key types.NamespacedName, phase ccv1.Phase) {
	phases.Lock()
	defer phases.Unlock()
	if old, ok := phases.m[key]; ok {
		if old == phase {
			return
		}
		conversionsByPhase.WithLabelValues(string(old)).Dec()
	}
	phases.m[key] = phase
	conversionsByPhase.WithLabelValues(string(phase)).Inc()
}

// forgetConversion drops a deleted conversion from the metrics.
func forgetConversion(key types.NamespacedName) {
	phases.Lock()
	defer phases.Unlock()
	if old, ok := phases.m[key]; ok {
		conversionsByPhase.WithLabelValues(string(old)).Dec()
		delete(phases.m, key)
	}
	lastSuccess.DeleteLabelValues(key.Namespace, key.Name)
}

// observeConversion records a reconcile's outcome; a run's totals count once,
// on the transition that ends it.
func observeConversion(before, after *ccv1.ContactConversion) {
	key := types.NamespacedName{Namespace: after.Namespace, Name: after.Name}
	setPhase(key, after.Status.Phase)
	ended := after.Status.Phase == ccv1.PhaseSucceeded || after.Status.Phase == ccv1.PhaseConflictsPending
	if !ended {
		return
	}
	if after.Status.CompletionTime != nil {
		lastSuccess.WithLabelValues(key.Namespace, key.Name).Set(float64(after.Status.CompletionTime.Unix()))
	}
	if before.Status.Phase == after.Status.Phase {
		return
	}
	if p := after.Status.Progress; p != nil {
		contactsMerged.Add(float64(p.Contacts))
		rowsRejected.Add(float64(p.RowsRejected))
	}
	if s, c := after.Status.StartTime, after.Status.CompletionTime; s != nil && c != nil {
		runDuration.Observe(c.Sub(s.Time).Seconds())
	}
}
