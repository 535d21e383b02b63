package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// ContactConversionReconciler turns a ContactConversion into a merge Job run
// inside its windows.
type ContactConversionReconciler struct {
	client.Client
	// APIReader reads Secrets and ConfigMaps directly, so the manager does
	// not cache every Secret of the cluster.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// Image runs the merge Jobs: the operator's own image.
	Image string
	// MaxConcurrent caps the conversions running at once, cluster-wide.
	MaxConcurrent int
}

// +kubebuilder:rbac:groups=contacts.contactconverter.io,resources=contactconversions,verbs=get;list;watch
// +kubebuilder:rbac:groups=contacts.contactconverter.io,resources=contactconversions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets;configmaps;persistentvolumeclaims,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile validates the conversion and records its state.
func (r *ContactConversionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var cc ccv1.ContactConversion
	if err := r.Get(ctx, req.NamespacedName, &cc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	orig := cc.DeepCopy()

	problem, err := r.validate(ctx, &cc)
	if err != nil {
		return ctrl.Result{}, err
	}
	conds := cc.Conditions()
	if problem != nil {
		conds.Stalled(problem.Reason, problem.Message)
		if cc.Status.Phase == "" {
			cc.Status.Phase = ccv1.PhasePending
		}
	} else {
		cc.Status.Phase = ccv1.PhasePending
		conds.Ready(ccv1.ReasonValid, "The conversion is valid.")
	}
	cc.Status.ObservedGeneration = cc.Generation
	return ctrl.Result{}, r.writeStatus(ctx, orig, &cc, problem)
}

// validate runs the checks the API server cannot: the time zone and the
// referenced objects.
func (r *ContactConversionReconciler) validate(ctx context.Context, cc *ccv1.ContactConversion) (*referenceProblem, error) {
	if p := validateSpec(&cc.Spec); p != nil {
		return p, nil
	}
	return checkReferences(ctx, r.APIReader, cc.Namespace, cc.Spec.References())
}

// writeStatus patches the status when it changed, and emits a Warning event
// when the conversion becomes Stalled or its reason changes.
func (r *ContactConversionReconciler) writeStatus(ctx context.Context, orig, cc *ccv1.ContactConversion, problem *referenceProblem) error {
	if problem != nil && stalledChanged(orig.Status.Conditions, cc.Status.Conditions) {
		r.Recorder.Eventf(cc, nil, corev1.EventTypeWarning, problem.Reason, "Validate", "%s", problem.Message)
	}
	if statusEqual(&orig.Status, &cc.Status) {
		return nil
	}
	err := r.Status().Patch(ctx, cc, client.MergeFrom(orig))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		log.FromContext(ctx).V(1).Info("status written", "phase", cc.Status.Phase)
	}
	return err
}

// SetupWithManager registers the reconciler.
func (r *ContactConversionReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &ccv1.ContactConversion{}, referenceIndex, func(o client.Object) []string {
		return referenceKeys(o.(*ccv1.ContactConversion).Spec.References())
	}); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&ccv1.ContactConversion{}).
		Named("contactconversion")
	b = watchReferences(b, mgr.GetClient(), func() client.ObjectList { return &ccv1.ContactConversionList{} })
	return b.Complete(r)
}
