package controllers

import (
	"context"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/podstart"
)

// eventRecheck is how often a pod whose cause only Events tell is looked at
// again: new Events do not wake the reconciler.
const eventRecheck = time.Minute

// podStart looks at the pods of a running Job, from the cache: the oldest
// one that has not started within spec.job.podStartTimeout and why, and
// when to look again. Its Events are read only when its status does not
// tell why, which is rare.
func (r *ContactConversionReconciler) podStart(ctx context.Context, cc *ccv1.ContactConversion, job *batchv1.Job, now time.Time) (*podstart.Problem, time.Time, error) {
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(job.Namespace), client.MatchingLabels{batchv1.JobNameLabel: job.Name}); err != nil {
		return nil, time.Time{}, err
	}
	timeout := cc.Spec.Job.PodStartTimeoutOrDefault()
	pod, recheck := podstart.Overdue(pods.Items, now, timeout)
	if pod == nil {
		return nil, recheck, nil
	}
	var events []corev1.Event
	if podstart.NeedsEvents(pod) {
		var list corev1.EventList
		if err := r.APIReader.List(ctx, &list, client.InNamespace(pod.Namespace),
			client.MatchingFields{"involvedObject.kind": "Pod", "involvedObject.name": pod.Name}); err != nil {
			return nil, time.Time{}, err
		}
		for _, e := range list.Items {
			if e.InvolvedObject.UID == "" || e.InvolvedObject.UID == pod.UID {
				events = append(events, e)
			}
		}
		if next := now.Add(eventRecheck); recheck.IsZero() || next.Before(recheck) {
			recheck = next
		}
	}
	p := podstart.Explain(pod, events, timeout)
	return &p, recheck, nil
}

// podConversion maps a Job's pod to its conversion.
func podConversion(_ context.Context, o client.Object) []reconcile.Request {
	name := o.GetLabels()[desired.LabelConversion]
	if name == "" || o.GetLabels()[batchv1.JobNameLabel] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: name}}}
}
