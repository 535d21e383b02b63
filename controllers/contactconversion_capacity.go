package controllers

import (
	"context"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
)

// slotFree tells whether cc may start or resume a run without exceeding the
// cluster-wide cap. Running Jobs are counted from the cluster, not from
// memory; queued conversions are served oldest window first.
func (r *ContactConversionReconciler) slotFree(ctx context.Context, cc *ccv1.ContactConversion, windowStart time.Time) (bool, error) {
	var jobs batchv1.JobList
	if err := r.List(ctx, &jobs, client.MatchingLabels{desired.LabelManagedBy: desired.ManagedBy}); err != nil {
		return false, err
	}
	running := 0
	started := map[string]bool{} // conversions holding a slot, by namespace/name
	for i := range jobs.Items {
		j := &jobs.Items[i]
		own := j.Namespace == cc.Namespace && j.Labels[desired.LabelConversion] == cc.Name
		if !own && jobRunning(j) {
			running++
			started[j.Namespace+"/"+j.Labels[desired.LabelConversion]] = true
		}
	}
	free := r.MaxConcurrent - running
	if free <= 0 {
		return false, nil
	}
	var all ccv1.ContactConversionList
	if err := r.List(ctx, &all); err != nil {
		return false, err
	}
	mine := queueKey{windowStart, cc.CreationTimestamp.Time, cc.Namespace + "/" + cc.Name}
	ahead := 0
	for i := range all.Items {
		o := &all.Items[i]
		// Skip ourselves, the unqueued, and those whose status still says
		// queued though their Job has just started.
		if o.Namespace == cc.Namespace && o.Name == cc.Name || !isQueued(o) || started[o.Namespace+"/"+o.Name] {
			continue
		}
		var start time.Time
		if o.Status.NextWindowStart != nil {
			start = o.Status.NextWindowStart.Time
		}
		if (queueKey{start, o.CreationTimestamp.Time, o.Namespace + "/" + o.Name}).before(mine) {
			ahead++
		}
	}
	return ahead < free, nil
}

type queueKey struct {
	windowStart, created time.Time
	name                 string
}

func (a queueKey) before(b queueKey) bool {
	if !a.windowStart.Equal(b.windowStart) {
		return a.windowStart.Before(b.windowStart)
	}
	if !a.created.Equal(b.created) {
		return a.created.Before(b.created)
	}
	return a.name < b.name
}

func isQueued(cc *ccv1.ContactConversion) bool {
	return cc.Conditions().Reason(ccv1.ConditionReady) == ccv1.ReasonQueuedForCapacity
}

// queuedConversions wakes every queued conversion when a Job changes, since
// it may have freed a slot.
func (r *ContactConversionReconciler) queuedConversions(ctx context.Context, _ client.Object) []reconcile.Request {
	var all ccv1.ContactConversionList
	if err := r.List(ctx, &all); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for i := range all.Items {
		if isQueued(&all.Items[i]) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&all.Items[i])})
		}
	}
	return reqs
}
