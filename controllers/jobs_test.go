package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
)

// These helpers play the Job controller, which envtest does not run.

func (h *harness) jobs(t *testing.T, ns, conversion string) []batchv1.Job {
	t.Helper()
	var list batchv1.JobList
	if err := h.c.List(context.Background(), &list, client.InNamespace(ns),
		client.MatchingLabels{desired.LabelConversion: conversion}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// waitJobs waits until the conversion has n Jobs and returns the newest.
func (h *harness) waitJobs(t *testing.T, ns, conversion string, n int) *batchv1.Job {
	t.Helper()
	var newest *batchv1.Job
	eventually(t, "Jobs of "+conversion, func() string {
		jobs := h.jobs(t, ns, conversion)
		if len(jobs) != n {
			return "have " + itoa(len(jobs)) + " Jobs, want " + itoa(n)
		}
		newest = nil
		for i := range jobs {
			if newest == nil || newerJob(&jobs[i], newest) {
				newest = &jobs[i]
			}
		}
		return ""
	})
	return newest
}

// waitSuspended waits until the Job's spec.suspend is want.
func (h *harness) waitSuspended(t *testing.T, job *batchv1.Job, want bool) {
	t.Helper()
	eventually(t, "Job "+job.Name+" suspend", func() string {
		if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(job), job); err != nil {
			return err.Error()
		}
		if got := job.Spec.Suspend != nil && *job.Spec.Suspend; got != want {
			return "suspend is " + map[bool]string{true: "true", false: "false"}[got]
		}
		return ""
	})
}

// finishJob sets a Job's status as the Job controller would on success or
// failure.
func (h *harness) finishJob(t *testing.T, job *batchv1.Job, succeeded bool) {
	t.Helper()
	ctx := context.Background()
	if err := h.c.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
		t.Fatal(err)
	}
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	start := metav1.NewTime(now.Add(-time.Minute))
	job.Status.StartTime = &start
	cond := func(t batchv1.JobConditionType, reason string) batchv1.JobCondition {
		return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, LastProbeTime: now, LastTransitionTime: now}
	}
	if succeeded {
		job.Status.Succeeded = 1
		job.Status.CompletionTime = &now
		job.Status.Conditions = []batchv1.JobCondition{
			cond(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached),
			cond(batchv1.JobComplete, batchv1.JobReasonCompletionsReached),
		}
	} else {
		job.Status.Failed = 1
		job.Status.Conditions = []batchv1.JobCondition{
			cond(batchv1.JobFailureTarget, batchv1.JobReasonPodFailurePolicy),
			cond(batchv1.JobFailed, batchv1.JobReasonPodFailurePolicy),
		}
	}
	if err := h.c.Status().Update(ctx, job); err != nil {
		t.Fatalf("finishing Job %s: %v", job.Name, err)
	}
}

// poke touches a conversion so it is reconciled after the fake clock moved,
// as the real requeue timer would.
func (h *harness) poke(t *testing.T, cc *ccv1.ContactConversion) {
	t.Helper()
	patch := []byte(`{"metadata":{"annotations":{"test/poke":"` + time.Now().Format(time.RFC3339Nano) + `"}}}`)
	if err := h.c.Patch(context.Background(), cc, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) setTime(t *testing.T, when time.Time, ccs ...*ccv1.ContactConversion) {
	t.Helper()
	h.clock.SetTime(when)
	for _, cc := range ccs {
		h.poke(t, cc)
	}
}

func (h *harness) waitPhase(t *testing.T, cc *ccv1.ContactConversion, phase ccv1.Phase) {
	t.Helper()
	eventually(t, cc.Name+" phase", func() string {
		if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(cc), cc); err != nil {
			return err.Error()
		}
		if cc.Status.Phase != phase || cc.Status.ObservedGeneration != cc.Generation {
			return "phase " + string(cc.Status.Phase) + " at generation " + itoa(int(cc.Status.ObservedGeneration)) + ": " +
				cc.Conditions().Message(ccv1.ConditionReady)
		}
		return ""
	})
}

// The ConfigMap an earlier version wrote the conflict report into holds
// personal data: the conversion's next start deletes it, if it is its own.
func TestTheOldConflictReportConfigMapGoes(t *testing.T) {
	h := startHarness(t)
	ns := h.namespace(t, "old-report")
	h.create(t, claim(ns, "contacts"))
	h.create(t, configMap(ns, "lists", map[string]string{"fair.csv": "email\n"}))
	cc := tw.MakeConversion("acme", ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").Suspend(true).Obj()
	h.create(t, cc)
	old := configMap(ns, cc.ConflictsSecretName(), map[string]string{"conflicts.csv": "key,field\n"})
	if err := controllerutil.SetControllerReference(cc, old, h.c.Scheme()); err != nil {
		t.Fatal(err)
	}
	h.create(t, old)
	patchSuspend(t, h, cc, false)
	h.waitJobs(t, ns, cc.Name, 1)
	eventually(t, "the old report ConfigMap deleted", func() string {
		err := h.c.Get(context.Background(), client.ObjectKeyFromObject(old), &corev1.ConfigMap{})
		if !apierrors.IsNotFound(err) {
			return fmt.Sprintf("still there: %v", err)
		}
		return ""
	})
}
