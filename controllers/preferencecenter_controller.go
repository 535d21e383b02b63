package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/linktoken"
)

// PreferenceCenterReconciler keeps a tenant's preference page running: its
// signing key, configuration, Deployment, Service, Ingress and disruption
// budget.
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
	// Image runs the page: the operator's own image.
	Image string
	// Network names the namespaces the pages' NetworkPolicies admit.
	Network desired.NetworkEnv
}

// +kubebuilder:rbac:groups=contacts.contactconverter.io,resources=preferencecenters,verbs=get;list;watch
// +kubebuilder:rbac:groups=contacts.contactconverter.io,resources=preferencecenters/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses;networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=delete

// Reconcile brings the page's objects and status in line with the spec.
func (r *PreferenceCenterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pc ccv1.PreferenceCenter
	if err := r.Get(ctx, req.NamespacedName, &pc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	orig := pc.DeepCopy()
	conds := pc.Conditions()
	conds.Now = r.Clock.Now()
	pc.Status.ObservedGeneration = pc.Generation

	problem, err := checkReferences(ctx, r.Metadata, r.APIReader, pc.Namespace, pc.Spec.References())
	if err != nil {
		return ctrl.Result{}, err
	}
	pod := field.NewPath("spec", "pod")
	if err := ccv1.ValidatePodMetadata(pc.Spec.Pod.Labels, pc.Spec.Pod.Annotations, pod.Child("labels"), pod.Child("annotations")); err != nil {
		problem = &referenceProblem{Reason: ccv1.ReasonInvalidSpec, Message: err.Error()}
	}
	if problem != nil {
		conds.Stalled(problem.Reason, problem.Message)
		if stalledChanged(orig.Status.Conditions, pc.Status.Conditions) {
			r.Recorder.Eventf(&pc, nil, corev1.EventTypeWarning, problem.Reason, "Validate", "%s", problem.Message)
		}
		return ctrl.Result{}, r.patchStatus(ctx, orig, &pc)
	}

	cc, err := r.conversion(ctx, &pc)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.ensureObjects(ctx, &pc, cc); err != nil {
		return ctrl.Result{}, err
	}
	// The Deployment as the cache has it, with its status; a change to it
	// reconciles again.
	var deployment appsv1.Deployment
	if err := r.Get(ctx, client.ObjectKey{Namespace: pc.Namespace, Name: desired.PreferenceCenterName(&pc)}, &deployment); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}
	r.setStatus(&pc, &deployment)
	return ctrl.Result{}, r.patchStatus(ctx, orig, &pc)
}

// conversion is the referenced ContactConversion, or nil.
func (r *PreferenceCenterReconciler) conversion(ctx context.Context, pc *ccv1.PreferenceCenter) (*ccv1.ContactConversion, error) {
	ref := pc.Spec.ConversionRef
	if ref == nil {
		return nil, nil
	}
	var cc ccv1.ContactConversion
	err := r.Get(ctx, client.ObjectKey{Namespace: pc.Namespace, Name: ref.Name}, &cc)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return &cc, err
}

// ensureObjects creates or corrects every object of the page, and deletes
// those the spec no longer calls for.
func (r *PreferenceCenterReconciler) ensureObjects(ctx context.Context, pc *ccv1.PreferenceCenter, cc *ccv1.ContactConversion) error {
	if err := r.ensureSigningSecret(ctx, pc); err != nil {
		return err
	}
	if err := ensureErasureSalt(ctx, r.Metadata, r.Client, pc.Namespace, &pc.Spec.Database); err != nil {
		return err
	}
	cm, err := desired.PreferenceCenterConfigMap(pc, desired.PreferenceCenterConfig(pc, cc))
	if err != nil {
		return err
	}
	versions, err := r.secretVersions(ctx, pc)
	if err != nil {
		return err
	}
	deployment := desired.PreferenceCenterDeployment(pc, r.Image, desired.ConfigHash(cm, versions...))
	wanted := []client.Object{cm, desired.PreferenceCenterServiceAccount(pc), deployment, desired.PreferenceCenterService(pc)}
	ingress, withIngress := desired.PreferenceCenterIngress(pc)
	pdb, withPDB := desired.PreferenceCenterPDB(pc)
	policy, withPolicy := desired.PreferenceCenterNetworkPolicy(pc, r.Network)
	// The pods read nothing from the API any more: the Role and RoleBinding
	// an earlier version made are deleted.
	meta := metav1.ObjectMeta{Name: desired.PreferenceCenterName(pc), Namespace: pc.Namespace}
	stale := []client.Object{&rbacv1.Role{ObjectMeta: meta}, &rbacv1.RoleBinding{ObjectMeta: meta}}
	for _, o := range []struct {
		obj    client.Object
		wanted bool
	}{{ingress, withIngress}, {pdb, withPDB}, {policy, withPolicy}} {
		if o.wanted {
			wanted = append(wanted, o.obj)
		} else {
			stale = append(stale, o.obj)
		}
	}
	for _, obj := range wanted {
		if err := applyOwned(ctx, r.Client, pc, obj); err != nil {
			return err
		}
	}
	for _, obj := range stale {
		if err := deleteIfPresent(ctx, r.Client, obj); err != nil {
			return err
		}
	}
	return nil
}

// ensureSigningSecret generates the signing key once. An existing Secret is
// never overwritten: the user may have added keys to rotate.
func (r *PreferenceCenterReconciler) ensureSigningSecret(ctx context.Context, pc *ccv1.PreferenceCenter) error {
	if pc.Spec.SigningKeySecretRef != nil {
		return nil
	}
	name := desired.SigningSecretName(pc)
	err := r.Metadata.Get(ctx, client.ObjectKey{Namespace: pc.Namespace, Name: name}, secretMetadata())
	if err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	secret := desired.SigningSecret(pc, linktoken.NewKey(), r.Clock.Now())
	if err := ctrl.SetControllerReference(pc, secret, r.Scheme()); err != nil {
		return err
	}
	if err := r.Create(ctx, secret); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil // the cache had not seen it yet
		}
		return fmt.Errorf("creating the signing Secret %s: %w", name, err)
	}
	r.Recorder.Eventf(pc, secret, corev1.EventTypeNormal, "SigningKeyCreated", "Create", "Generated the link signing key in Secret %s", name)
	return nil
}

// secretVersions are the resource versions of the Secrets the pods mount
// as files, so a rotated key or token rolls the pods.
func (r *PreferenceCenterReconciler) secretVersions(ctx context.Context, pc *ccv1.PreferenceCenter) ([]string, error) {
	names := []string{desired.SigningSecretName(pc)}
	if ref := pc.Spec.APITokenSecretRef; ref != nil {
		names = append(names, ref.Name)
	}
	versions := make([]string, 0, len(names))
	for _, name := range names {
		m := secretMetadata()
		key := client.ObjectKey{Namespace: pc.Namespace, Name: name}
		err := r.Metadata.Get(ctx, key, m)
		if apierrors.IsNotFound(err) {
			// Just created: the cache has not seen it yet. Asking the API
			// server avoids rolling the pods twice.
			err = r.APIReader.Get(ctx, key, m)
		}
		if err != nil {
			if apierrors.IsNotFound(err) {
				versions = append(versions, "")
				continue
			}
			return nil, err
		}
		versions = append(versions, m.ResourceVersion)
	}
	return versions, nil
}

func secretMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}

// patchStatus writes the status when it changed.
func (r *PreferenceCenterReconciler) patchStatus(ctx context.Context, orig, pc *ccv1.PreferenceCenter) error {
	if statusEqual(&orig.Status, &pc.Status) {
		return nil
	}
	err := r.Status().Patch(ctx, pc, client.MergeFrom(orig))
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// SetupWithManager registers the reconciler.
func (r *PreferenceCenterReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &ccv1.PreferenceCenter{}, referenceIndex, func(o client.Object) []string {
		pc := o.(*ccv1.PreferenceCenter)
		refs := pc.Spec.References()
		// The generated signing Secret: recreated when deleted.
		refs = append(refs, ccv1.Reference{Kind: ccv1.KindSecret, Name: desired.SigningSecretName(pc)})
		return referenceKeys(refs)
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &ccv1.PreferenceCenter{}, conversionRefIndex, func(o client.Object) []string {
		if ref := o.(*ccv1.PreferenceCenter).Spec.ConversionRef; ref != nil {
			return []string{ref.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&ccv1.PreferenceCenter{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// ConfigMaps are watched by metadata only, as the reference watches
		// already do: a hand edit changes the resource version.
		Owns(&corev1.ConfigMap{}, builder.OnlyMetadata).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.Service{}).
		Owns(&appsv1.Deployment{}).
		Owns(&networkingv1.Ingress{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		// The conversion's unique key shapes the configuration.
		Watches(&ccv1.ContactConversion{}, handler.EnqueueRequestsFromMapFunc(r.followers)).
		Named("preferencecenter")
	b = watchReferences(b, mgr.GetClient(), func() client.ObjectList { return &ccv1.PreferenceCenterList{} })
	return b.Complete(r)
}

// conversionRefIndex indexes preference centers by the conversion they
// follow.
const conversionRefIndex = "spec.conversionRef"

// followers are the preference centers that follow a conversion.
func (r *PreferenceCenterReconciler) followers(ctx context.Context, o client.Object) []reconcile.Request {
	var list ccv1.PreferenceCenterList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{conversionRefIndex: o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, pc := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&pc)})
	}
	return reqs
}
