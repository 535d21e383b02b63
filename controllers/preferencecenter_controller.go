package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// PreferenceCenterReconciler keeps a tenant's preference page running.
type PreferenceCenterReconciler struct {
	client.Client
	// APIReader reads Secrets directly, so the manager does not cache every
	// Secret of the cluster.
	APIReader client.Reader
	// Metadata reads cached object metadata (the manager's cache), which the
	// reference watches fill anyway.
	Metadata client.Reader
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
}

// +kubebuilder:rbac:groups=contacts.contactconverter.io,resources=preferencecenters,verbs=get;list;watch
// +kubebuilder:rbac:groups=contacts.contactconverter.io,resources=preferencecenters/status,verbs=get;update;patch

// Reconcile validates the preference center and records its state.
func (r *PreferenceCenterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pc ccv1.PreferenceCenter
	if err := r.Get(ctx, req.NamespacedName, &pc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	orig := pc.DeepCopy()

	problem, err := checkReferences(ctx, r.Metadata, r.APIReader, pc.Namespace, pc.Spec.References())
	if err != nil {
		return ctrl.Result{}, err
	}
	conds := pc.Conditions()
	if problem != nil {
		conds.Stalled(problem.Reason, problem.Message)
		if stalledChanged(orig.Status.Conditions, pc.Status.Conditions) {
			r.Recorder.Eventf(&pc, nil, corev1.EventTypeWarning, problem.Reason, "Validate", "%s", problem.Message)
		}
	} else {
		conds.Ready(ccv1.ReasonValid, "The preference center is valid.")
	}
	pc.Status.ObservedGeneration = pc.Generation
	if statusEqual(&orig.Status, &pc.Status) {
		return ctrl.Result{}, nil
	}
	err = r.Status().Patch(ctx, &pc, client.MergeFrom(orig))
	if apierrors.IsNotFound(err) {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, err
}

// SetupWithManager registers the reconciler.
func (r *PreferenceCenterReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &ccv1.PreferenceCenter{}, referenceIndex, func(o client.Object) []string {
		return referenceKeys(o.(*ccv1.PreferenceCenter).Spec.References())
	}); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&ccv1.PreferenceCenter{}).
		Named("preferencecenter")
	b = watchReferences(b, mgr.GetClient(), func() client.ObjectList { return &ccv1.PreferenceCenterList{} })
	return b.Complete(r)
}
