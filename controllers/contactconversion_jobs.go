package controllers

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/lifecycle"
)

// prepareRun puts in place what a conversion's Job needs before it starts:
// its ServiceAccount, Role and RoleBinding, the empty conflict report and
// inventory it fills, and the database's erasure salt. Each is read from
// the cache first and written only when missing or changed: a conversion's
// first run creates them, and a later run starts with its Job alone.
func (r *ContactConversionReconciler) prepareRun(ctx context.Context, cc *ccv1.ContactConversion) error {
	if err := r.ensureConverterObjects(ctx, cc); err != nil {
		return err
	}
	if err := r.ensureConflictReport(ctx, cc); err != nil {
		return err
	}
	return ensureErasureSalt(ctx, r.Metadata, r.Client, cc.Namespace, &cc.Spec.Database)
}

// ensureConverterObjects keeps the Jobs' ServiceAccount, Role and
// RoleBinding in place, owned by the conversion.
func (r *ContactConversionReconciler) ensureConverterObjects(ctx context.Context, cc *ccv1.ContactConversion) error {
	sa, withSA := desired.ConverterServiceAccount(cc)
	role, withRole := desired.ConverterRole(cc)
	binding, withBinding := desired.ConverterRoleBinding(cc)
	for _, o := range []struct {
		obj, current client.Object
		wanted       bool
	}{{sa, &corev1.ServiceAccount{}, withSA}, {role, &rbacv1.Role{}, withRole}, {binding, &rbacv1.RoleBinding{}, withBinding}} {
		if !o.wanted {
			continue // the spec names its own ServiceAccount, which the user manages
		}
		err := r.Get(ctx, client.ObjectKeyFromObject(o.obj), o.current)
		if err == nil && metav1.IsControlledBy(o.current, cc) && desired.InPlace(o.current, o.obj) {
			continue
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err := applyOwned(ctx, r.Client, cc, o.obj); err != nil {
			return err
		}
	}
	return nil
}

// ensureConflictReport creates the empty conflict-report Secret and
// inventory ConfigMap the Job fills; existing ones are never overwritten.
// The ConfigMap an earlier version wrote the report into holds personal
// data: it is deleted.
func (r *ContactConversionReconciler) ensureConflictReport(ctx context.Context, cc *ccv1.ContactConversion) error {
	for _, obj := range []client.Object{desired.ConflictsSecret(cc), desired.InventoryConfigMap(cc)} {
		existing, err := r.cachedMetadata(ctx, obj)
		if err != nil {
			return err
		}
		if existing != nil {
			continue
		}
		if err := controllerutil.SetControllerReference(cc, obj, r.Scheme()); err != nil {
			return err
		}
		if err := r.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
	}
	old := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: cc.Namespace, Name: cc.ConflictsSecretName()}}
	existing, err := r.cachedMetadata(ctx, old)
	if err != nil || existing == nil || !metav1.IsControlledBy(existing, cc) {
		return err
	}
	if err := r.Delete(ctx, old); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting the old conflict report ConfigMap %s: %w", old.Name, err)
	}
	return nil
}

// cachedMetadata is the metadata the cache holds of obj's namesake, or nil.
func (r *ContactConversionReconciler) cachedMetadata(ctx context.Context, obj client.Object) (*metav1.PartialObjectMetadata, error) {
	gvk, err := apiutil.GVKForObject(obj, r.Scheme())
	if err != nil {
		return nil, err
	}
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(gvk)
	if err := r.Metadata.Get(ctx, client.ObjectKeyFromObject(obj), m); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return m, nil
}

// newestJob is the conversion's most recent Job, or nil.
func (r *ContactConversionReconciler) newestJob(ctx context.Context, cc *ccv1.ContactConversion) (*batchv1.Job, error) {
	var jobs batchv1.JobList
	if err := r.List(ctx, &jobs, client.InNamespace(cc.Namespace), client.MatchingLabels{
		desired.LabelManagedBy: desired.ManagedBy, desired.LabelConversion: cc.Name,
	}); err != nil {
		return nil, err
	}
	var newest *batchv1.Job
	for i := range jobs.Items {
		j := &jobs.Items[i]
		if !metav1.IsControlledBy(j, cc) || j.DeletionTimestamp != nil && jobFinished(j) {
			continue
		}
		if newest == nil || newerJob(j, newest) {
			newest = j
		}
	}
	return newest, nil
}

func newerJob(a, b *batchv1.Job) bool {
	ga, _ := strconv.ParseInt(a.Labels[desired.LabelGeneration], 10, 64)
	gb, _ := strconv.ParseInt(b.Labels[desired.LabelGeneration], 10, 64)
	if ga != gb {
		return ga > gb
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	}
	return a.Name > b.Name
}

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if c := &j.Status.Conditions[i]; c.Type == t && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

func jobFinished(j *batchv1.Job) bool {
	return jobCondition(j, batchv1.JobComplete) != nil || jobCondition(j, batchv1.JobFailed) != nil
}

// jobRunning tells whether a Job holds a slot: not finished, not suspended.
func jobRunning(j *batchv1.Job) bool {
	return !jobFinished(j) && (j.Spec.Suspend == nil || !*j.Spec.Suspend)
}

// jobView extracts what the lifecycle needs, including why a Job failed.
func (r *ContactConversionReconciler) jobView(ctx context.Context, j *batchv1.Job) (*lifecycle.Job, error) {
	gen, _ := strconv.ParseInt(j.Labels[desired.LabelGeneration], 10, 64)
	v := &lifecycle.Job{
		Name: j.Name, Generation: gen, SpecHash: j.Labels[desired.LabelSpecHash],
		RunRequest: j.Annotations[desired.AnnotationRunRequest],
		Suspended:  j.Spec.Suspend != nil && *j.Spec.Suspend,
	}
	if j.DeletionTimestamp != nil {
		// Being removed: treat as still active, so nothing starts beside it.
		return v, nil
	}
	if c := jobCondition(j, batchv1.JobComplete); c != nil {
		v.Finished, v.Succeeded = true, true
		v.CompletionTime = completionTime(j, c)
	} else if c := jobCondition(j, batchv1.JobFailed); c != nil {
		v.Finished = true
		v.CompletionTime = completionTime(j, c)
		msg, err := r.failureMessage(ctx, j)
		if err != nil {
			return nil, err
		}
		if msg == "" {
			msg = strings.TrimSpace(c.Reason + ": " + c.Message)
		}
		v.FailureMessage = msg
	}
	return v, nil
}

func completionTime(j *batchv1.Job, c *batchv1.JobCondition) time.Time {
	if j.Status.CompletionTime != nil {
		return j.Status.CompletionTime.Time
	}
	return c.LastTransitionTime.Time
}

// failureMessage is the termination message of the Job's newest failed pod:
// the converter writes its error there, or the kubelet falls back to the
// last log lines.
func (r *ContactConversionReconciler) failureMessage(ctx context.Context, j *batchv1.Job) (string, error) {
	var pods corev1.PodList
	if err := r.APIReader.List(ctx, &pods, client.InNamespace(j.Namespace),
		client.MatchingLabels{batchv1.JobNameLabel: j.Name}); err != nil {
		return "", err
	}
	sort.Slice(pods.Items, func(a, b int) bool {
		return pods.Items[b].CreationTimestamp.Before(&pods.Items[a].CreationTimestamp)
	})
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
				msg := strings.TrimSpace(t.Message)
				if msg == "" {
					msg = fmt.Sprintf("container %s exited with code %d (%s)", cs.Name, t.ExitCode, t.Reason)
				}
				return lastLines(msg, 4), nil
			}
		}
	}
	return "", nil
}

// lastLines keeps the end of a long message, where the error is.
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, " | ")
	if len(out) > 1024 {
		out = "..." + out[len(out)-1021:]
	}
	return out
}

// carryOut performs the plan's action on the Job.
func (r *ContactConversionReconciler) carryOut(ctx context.Context, cc *ccv1.ContactConversion, job *batchv1.Job, plan *lifecycle.Plan, env desired.JobEnv) error {
	switch plan.Action {
	case lifecycle.CreateJob:
		j := desired.ConversionJob(cc, env, plan.RunRequest)
		if err := controllerutil.SetControllerReference(cc, j, r.Scheme()); err != nil {
			return err
		}
		if err := r.Create(ctx, j); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Job %s: %w", j.Name, err)
		}
		plan.Status.JobName = j.Name
		return nil // the admission queue holds its slot until the cache shows it
	case lifecycle.SuspendJob, lifecycle.ResumeJob:
		suspend := plan.Action == lifecycle.SuspendJob
		patch := client.MergeFrom(job.DeepCopy())
		job.Spec.Suspend = &suspend
		return client.IgnoreNotFound(r.Patch(ctx, job, patch))
	case lifecycle.DeleteJob:
		if job.DeletionTimestamp != nil {
			return nil
		}
		return client.IgnoreNotFound(r.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground)))
	}
	return nil
}

// claimSharing tells whether a PreferenceCenter mounts the conversion's
// SQLite claim, so the Job must run on its node. A ReadWriteOncePod claim
// cannot be shared at all: that is a problem only the user can fix.
func (r *ContactConversionReconciler) claimSharing(ctx context.Context, cc *ccv1.ContactConversion) (bool, *referenceProblem, error) {
	db := cc.Spec.Database.SQLite
	if db == nil {
		return false, nil, nil
	}
	var centers ccv1.PreferenceCenterList
	if err := r.List(ctx, &centers, client.InNamespace(cc.Namespace)); err != nil {
		return false, nil, err
	}
	var sharing []string
	for _, pc := range centers.Items {
		if s := pc.Spec.Database.SQLite; s != nil && s.PersistentVolumeClaim == db.PersistentVolumeClaim {
			sharing = append(sharing, pc.Name)
		}
	}
	if len(sharing) == 0 {
		return false, nil, nil
	}
	var pvc corev1.PersistentVolumeClaim
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: cc.Namespace, Name: db.PersistentVolumeClaim}, &pvc); err != nil {
		return false, nil, client.IgnoreNotFound(err) // a missing claim is reported by the reference check
	}
	if slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOncePod) {
		return false, &referenceProblem{Reason: ccv1.ReasonClaimNotShareable, Message: fmt.Sprintf(
			"spec.database.sqlite.persistentVolumeClaim: PersistentVolumeClaim %s is ReadWriteOncePod, so the conversion Job cannot mount it while PreferenceCenter %s does. "+
				"Recreate the claim as ReadWriteOnce (the Job then runs on the preference center's node), give the preference center its own claim, or use spec.database.postgres.",
			db.PersistentVolumeClaim, strings.Join(sharing, ", "))}, nil
	}
	return true, nil, nil
}
