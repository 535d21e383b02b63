package controllers

import (
	"context"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/admission"
	"github.com/contactconverter/contact-converter/internal/desired"
)

// slotFree tells whether cc may start or resume a run without exceeding the
// cluster-wide cap. Running Jobs are counted from the cluster, not from
// memory, and only those a ContactConversion owns; the queue is served by
// internal/admission: namespaces take turns, then oldest window first.
func (r *ContactConversionReconciler) slotFree(ctx context.Context, cc *ccv1.ContactConversion, windowStart time.Time) (bool, error) {
	var jobs batchv1.JobList
	if err := r.List(ctx, &jobs, client.MatchingLabels{desired.LabelManagedBy: desired.ManagedBy}); err != nil {
		return false, err
	}
	total := 0
	running := map[string]int{}  // runs by namespace
	started := map[string]bool{} // conversions holding a slot, by namespace/name
	for i := range jobs.Items {
		j := &jobs.Items[i]
		owner := metav1.GetControllerOf(j)
		if owner == nil || owner.Kind != "ContactConversion" || owner.APIVersion != ccv1.GroupVersion.String() {
			continue // not ours, whatever its labels say
		}
		own := j.Namespace == cc.Namespace && owner.Name == cc.Name
		if !own && jobRunning(j) {
			total++
			running[j.Namespace]++
			started[j.Namespace+"/"+owner.Name] = true
		}
	}
	free := r.MaxConcurrent - total
	if free <= 0 {
		return false, nil
	}
	var all ccv1.ContactConversionList
	if err := r.List(ctx, &all); err != nil {
		return false, err
	}
	candidates := []admission.Candidate{{Namespace: cc.Namespace, Name: cc.Name, WindowStart: windowStart, Created: cc.CreationTimestamp.Time}}
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
		candidates = append(candidates, admission.Candidate{Namespace: o.Namespace, Name: o.Name, WindowStart: start, Created: o.CreationTimestamp.Time})
	}
	return slices.Contains(admission.Admit(candidates, running, free), candidates[0]), nil
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
