package controllers

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// The per-object series (phase, conditions, progress, queue...) are read
// from the cache at scrape time by internal/objectmetrics; these record
// events the objects do not keep.
var (
	contactsMerged = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "contact_converter_contacts_merged_total",
		Help: "Contacts in the databases of succeeded runs.",
	})
	rowsRejected = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "contact_converter_rows_rejected_total",
		Help: "Rows rejected by succeeded or conflicting runs.",
	})
	runDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "contact_converter_conversion_run_duration_seconds",
		Help:    "Time from a run's start to its end, pauses included, by conversion.",
		Buckets: prometheus.ExponentialBuckets(10, 3, 10), // 10 s to about 2 days
	}, []string{"namespace", "name"})
)

func init() {
	metrics.Registry.MustRegister(contactsMerged, rowsRejected, runDuration)
}

// forgetConversion drops a deleted conversion's series.
func forgetConversion(key types.NamespacedName) {
	runDuration.DeleteLabelValues(key.Namespace, key.Name)
}

// observeConversion records a run's totals once, on the transition that
// ends it.
func observeConversion(before, after *ccv1.ContactConversion) {
	ended := after.Status.Phase == ccv1.PhaseSucceeded || after.Status.Phase == ccv1.PhaseConflictsPending
	if !ended || before.Status.Phase == after.Status.Phase {
		return
	}
	if p := after.Status.Progress; p != nil {
		contactsMerged.Add(float64(p.Contacts))
		rowsRejected.Add(float64(p.RowsRejected))
	}
	if s, c := after.Status.StartTime, after.Status.CompletionTime; s != nil && c != nil {
		runDuration.WithLabelValues(after.Namespace, after.Name).Observe(c.Sub(s.Time).Seconds())
	}
}

// ObjectLister lists conversions and preference centers from the manager's
// cache, for internal/objectmetrics.
type ObjectLister struct{ Reader client.Reader }

// Conversions lists every ContactConversion the cache holds.
func (l ObjectLister) Conversions(ctx context.Context) ([]ccv1.ContactConversion, error) {
	var list ccv1.ContactConversionList
	// Read only: the cache's own objects, not ten thousand copies.
	err := l.Reader.List(ctx, &list, client.UnsafeDisableDeepCopy)
	return list.Items, err
}

// Centers lists every PreferenceCenter the cache holds.
func (l ObjectLister) Centers(ctx context.Context) ([]ccv1.PreferenceCenter, error) {
	var list ccv1.PreferenceCenterList
	err := l.Reader.List(ctx, &list, client.UnsafeDisableDeepCopy)
	return list.Items, err
}
