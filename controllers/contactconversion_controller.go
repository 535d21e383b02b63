package controllers

import (
	"context"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/admission"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/lifecycle"
	"github.com/contactconverter/contact-converter/internal/schedule"
)

// ContactConversionReconciler turns a ContactConversion into a merge Job run
// inside its windows. The decisions are made by internal/lifecycle; this
// reconciler fetches their inputs and carries them out.
type ContactConversionReconciler struct {
	client.Client
	// APIReader reads Secrets, ConfigMaps and Pods directly, so the manager
	// does not cache every one of the cluster.
	APIReader client.Reader
	// Metadata reads cached object metadata (the manager's cache), which the
	// reference watches fill anyway.
	Metadata client.Reader
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// Image runs the merge Jobs: the operator's own image.
	Image string
	// AllowURLCIDRs lists the internal networks csv.url may read from.
	AllowURLCIDRs string
	// Caps bound the conversions running at once: cluster-wide and per
	// namespace.
	Caps admission.Caps

	// slots is the admission queue, fed by the cache.
	slots *slots
	// written is the last status written, not written again from a stale
	// cache.
	written statusMemo
}

// cacheLag is how soon a conversion is looked at again when the cache did
// not show its last status write yet.
const cacheLag = 250 * time.Millisecond

// workers is how many conversions are reconciled at once.
const workers = 4

// +kubebuilder:rbac:groups=contacts.contactconverter.io,resources=contactconversions,verbs=get;list;watch
// +kubebuilder:rbac:groups=contacts.contactconverter.io,resources=contactconversions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch
// +kubebuilder:rbac:groups=contacts.contactconverter.io,resources=preferencecenters,verbs=get;list;watch
// The conflict report is a Secret the Job patches: the operator holds what
// the Job's Role grants.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=list
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves a conversion one step along its lifecycle.
func (r *ContactConversionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var cc ccv1.ContactConversion
	if err := r.Get(ctx, req.NamespacedName, &cc); err != nil {
		if apierrors.IsNotFound(err) {
			forgetConversion(req.NamespacedName)
			r.written.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.Clock.Now()
	if r.written.behind(req.NamespacedName, cc.ResourceVersion, now) {
		// The cache does not show the last status written yet: whatever
		// woke this conversion is looked at once it does.
		return ctrl.Result{RequeueAfter: cacheLag}, nil
	}
	orig := cc.DeepCopy()

	sched, problem := validateSpec(&cc.Spec)
	if problem == nil {
		var err error
		if problem, err = checkReferencesExist(ctx, r.Metadata, cc.Namespace, cc.Spec.References()); err != nil {
			return ctrl.Result{}, err
		}
	}
	if problem != nil {
		return ctrl.Result{}, r.stall(ctx, orig, &cc, problem)
	}

	plan, problem, err := r.decideAndAct(ctx, &cc, sched, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	if problem != nil {
		return ctrl.Result{}, r.stall(ctx, orig, &cc, problem)
	}
	cc.Status = plan.Status
	action := string(plan.Action)
	if action == "" {
		action = "Reconcile"
	}
	for _, e := range plan.Events {
		typ := corev1.EventTypeNormal
		if e.Warning {
			typ = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(&cc, nil, typ, e.Reason, action, "%s", e.Message)
	}
	if err := r.patchStatus(ctx, orig, &cc); err != nil {
		return ctrl.Result{}, err
	}
	observeConversion(orig, &cc)

	var res ctrl.Result
	if !plan.RequeueAt.IsZero() {
		// A second late is harmless; a second early would find the window
		// still closed.
		res.RequeueAfter = max(plan.RequeueAt.Sub(now)+time.Second, time.Second)
	}
	return res, nil
}

// decideAndAct asks the lifecycle what to do and does it to the Job. A
// conversion that wants a slot asks the admission queue, which answers from
// its own state without an API call; a slot given is held until the cache
// shows the Job, and given back when no Job starts with it.
func (r *ContactConversionReconciler) decideAndAct(ctx context.Context, cc *ccv1.ContactConversion, sched *schedule.Schedule, now time.Time) (*lifecycle.Plan, *referenceProblem, error) {
	key := client.ObjectKeyFromObject(cc)
	if r.slots.pending(key) {
		// Its Job was just created or resumed: act again once the cache
		// shows it, which wakes this conversion.
		return &lifecycle.Plan{Status: *cc.Status.DeepCopy(), RequeueAt: now.Add(5 * time.Second)}, nil, nil
	}
	job, err := r.newestJob(ctx, cc)
	if err != nil {
		return nil, nil, err
	}
	in := lifecycle.Input{Now: now, Conversion: cc, SpecHash: cc.Spec.RunHash(), Schedule: sched}
	if job != nil {
		if in.Job, err = r.jobView(ctx, job); err != nil {
			return nil, nil, err
		}
		if job.DeletionTimestamp == nil && jobRunning(job) {
			if in.PodProblem, in.PodCheckAt, err = r.podStart(ctx, cc, job, now); err != nil {
				return nil, nil, err
			}
		}
	}
	plan := lifecycle.Decide(in)
	claimed := false
	if plan.Status.Queue != nil { // it wants a slot
		window := sched.At(now).OpenSince
		if claimed, in.Wait, err = r.slots.claim(cc, window); err != nil {
			return nil, nil, err
		}
		if !claimed && cc.Status.Queue == nil && r.slots.deferQueue(key, window) {
			return &lifecycle.Plan{Status: *cc.Status.DeepCopy(), RequeueAt: now.Add(2 * time.Second)}, nil, nil
		}
		in.SlotFree = claimed
		plan = lifecycle.Decide(in)
	}
	problem, err := r.act(ctx, cc, job, &plan)
	if claimed && (problem != nil || err != nil || (plan.Action != lifecycle.CreateJob && plan.Action != lifecycle.ResumeJob)) {
		r.slots.release(cc)
	}
	return &plan, problem, err
}

// act carries the plan out: before a Job starts, the keys it will read, the
// pods it shares its database with, and its identity.
func (r *ContactConversionReconciler) act(ctx context.Context, cc *ccv1.ContactConversion, job *batchv1.Job, plan *lifecycle.Plan) (*referenceProblem, error) {
	env := desired.JobEnv{Image: r.Image, AllowURLCIDRs: r.AllowURLCIDRs}
	if plan.Action == lifecycle.CreateJob || plan.Action == lifecycle.ResumeJob {
		problem, err := checkReferenceKeys(ctx, r.APIReader, cc.Namespace, cc.Spec.References())
		if problem != nil || err != nil {
			return problem, err
		}
		if env.PreferenceCenterOnClaim, problem, err = r.claimSharing(ctx, cc); problem != nil || err != nil {
			return problem, err
		}
		if err := r.prepareRun(ctx, cc); err != nil {
			return nil, err
		}
	}
	return nil, r.carryOut(ctx, cc, job, plan, env)
}

// stall records a problem only the user can fix: Stalled, with an event
// when it is new.
func (r *ContactConversionReconciler) stall(ctx context.Context, orig, cc *ccv1.ContactConversion, problem *referenceProblem) error {
	conds := ccv1.Conditions{List: &cc.Status.Conditions, Generation: cc.Generation, Now: r.Clock.Now()}
	conds.Stalled(problem.Reason, problem.Message)
	cc.Status.Queue = nil // a stalled conversion waits for a fix, not for a slot
	if cc.Status.Phase == "" {
		cc.Status.Phase = ccv1.PhasePending
	}
	cc.Status.ObservedGeneration = cc.Generation
	if stalledChanged(orig.Status.Conditions, cc.Status.Conditions) {
		r.Recorder.Eventf(cc, nil, corev1.EventTypeWarning, problem.Reason, "Validate", "%s", problem.Message)
	}
	return r.patchStatus(ctx, orig, cc)
}

// patchStatus writes the status when it changed. The merge patch carries
// only what this reconciler changed, so the engine's progress is kept.
func (r *ContactConversionReconciler) patchStatus(ctx context.Context, orig, cc *ccv1.ContactConversion) error {
	if statusEqual(&orig.Status, &cc.Status) {
		return nil
	}
	err := r.Status().Patch(ctx, cc, client.MergeFrom(orig))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		r.written.record(client.ObjectKeyFromObject(cc), orig.ResourceVersion, cc.ResourceVersion, r.Clock.Now())
		log.FromContext(ctx).V(1).Info("status written", "phase", cc.Status.Phase)
	}
	return err
}

// conflictsChanged passes an update that changes status.conflicts.
var conflictsChanged = predicate.TypedFuncs[client.Object]{UpdateFunc: func(e event.TypedUpdateEvent[client.Object]) bool {
	before, ok := e.ObjectOld.(*ccv1.ContactConversion)
	after, ok2 := e.ObjectNew.(*ccv1.ContactConversion)
	return ok && ok2 && !equality.Semantic.DeepEqual(before.Status.Conflicts, after.Status.Conflicts)
}}

// SetupWithManager registers the reconciler.
func (r *ContactConversionReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	r.slots = newSlots(r.Caps, r.Clock)
	if err := r.slots.watch(ctx, mgr.GetCache()); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &ccv1.ContactConversion{}, referenceIndex, func(o client.Object) []string {
		return referenceKeys(o.(*ccv1.ContactConversion).Spec.References())
	}); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		// Status writes (ours, and the engine's progress) need no reconcile;
		// spec and annotation changes (run-requested-at) do, and so do the
		// engine's conflicts, which decide how a finished run ends: the
		// cache may show them only after the Job's end.
		For(&ccv1.ContactConversion{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, conflictsChanged))).
		Owns(&batchv1.Job{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		// A freed slot wakes the conversions the queue gives it to, only.
		WatchesRawSource(source.Channel(r.slots.wake, &handler.EnqueueRequestForObject{})).
		// A Job's pod that starts, or tells why it cannot.
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(podConversion)).
		Named("contactconversion").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers})
	b = watchReferences(b, mgr.GetClient(), func() client.ObjectList { return &ccv1.ContactConversionList{} })
	return b.Complete(r)
}
