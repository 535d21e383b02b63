package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
)

// jobPod plays the Job controller and the kubelet: the Job's pod, with the
// status a node reports.
func (h *harness) jobPod(t *testing.T, job *batchv1.Job, status *tw.PodWrapper) *corev1.Pod {
	t.Helper()
	pod := status.Obj()
	pod.Namespace, pod.Name = job.Namespace, job.Name+"-x7k2p"
	for k, v := range job.Spec.Template.Labels {
		status.Label(k, v)
	}
	status.Label(batchv1.JobNameLabel, job.Name)
	st := pod.Status
	h.create(t, pod)
	pod.Status = st
	if err := h.c.Status().Update(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	return pod
}

// A conversion whose pod has not started within spec.job.podStartTimeout
// says which pod and why, from the pod's status or its Events.
func TestPodsThatDoNotStartAreReported(t *testing.T) {
	h := startHarness(t)
	ns := h.namespace(t, "tenant-stuck")
	h.create(t, claim(ns, "contacts"))
	h.create(t, configMap(ns, "lists", map[string]string{"fair.csv": "email\n"}))
	var ccs []*ccv1.ContactConversion
	jobs := map[string]*batchv1.Job{}
	for _, name := range []string{"attach", "image", "nonode"} {
		cc := tw.MakeConversion(name, ns).SQLite("contacts").CSVFromConfigMap("fair", "lists", "fair.csv").Obj()
		h.create(t, cc)
		ccs = append(ccs, cc)
		jobs[name] = h.waitJobs(t, ns, name, 1)
		h.waitPhase(t, cc, ccv1.PhaseRunning)
	}
	// The attach-detach controller could not attach the claim: only an
	// Event says so.
	attach := h.jobPod(t, jobs["attach"], tw.MakePod("", "").Scheduled("node-b").Waiting("ContainerCreating", ""))
	ev := tw.PodEvent(attach, corev1.EventTypeWarning, "FailedAttachVolume",
		`Multi-Attach error for volume "pvc-5f1c" Volume is already used by pod(s) prefs-preference-center-7d9c`, time.Now())
	h.create(t, &ev)
	h.jobPod(t, jobs["image"], tw.MakePod("", "").Scheduled("node-a").Waiting("ImagePullBackOff", `Back-off pulling image "contact-converter:test"`))
	h.jobPod(t, jobs["nonode"], tw.MakePod("", "").Unschedulable("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."))

	// Within the timeout nothing is said; past it, each cause is.
	h.setTime(t, time.Now().Add(time.Minute), ccs...)
	for _, cc := range ccs {
		h.waitCondition(t, cc, ccv1.ConditionReady, metav1.ConditionFalse, ccv1.ReasonJobRunning)
	}
	h.setTime(t, time.Now().Add(time.Hour), ccs...)
	for _, tc := range []struct {
		cc            *ccv1.ContactConversion
		reason, cond  string
		wantInMessage string
	}{
		{ccs[0], ccv1.ReasonVolumeNotReady, ccv1.ConditionStalled, "Multi-Attach error"},
		{ccs[1], ccv1.ReasonImagePullFailed, ccv1.ConditionStalled, "ImagePullBackOff"},
		{ccs[2], ccv1.ReasonPodUnschedulable, ccv1.ConditionReconciling, "didn't match Pod's node affinity/selector"},
	} {
		h.waitCondition(t, tc.cc, tc.cond, metav1.ConditionTrue, tc.reason)
		msg := tc.cc.Conditions().Message(ccv1.ConditionReady)
		pod := jobs[tc.cc.Name].Name + "-x7k2p"
		if !strings.Contains(msg, "Pod "+pod+" ") || !strings.Contains(msg, tc.wantInMessage) {
			t.Errorf("%s: Ready message %q should name pod %s and %q", tc.cc.Name, msg, pod, tc.wantInMessage)
		}
		if tc.cc.Status.Phase != ccv1.PhaseRunning {
			t.Errorf("%s: phase %s", tc.cc.Name, tc.cc.Status.Phase)
		}
		if e := h.waitEvent(t, ns, tc.cc.Name, tc.reason); e.Type != corev1.EventTypeWarning || e.Note != msg {
			t.Errorf("%s: event %s %q, want a warning %q", tc.cc.Name, e.Type, e.Note, msg)
		}
	}

	// The node pulls the image at last: the report clears.
	var pod corev1.Pod
	pod.Namespace, pod.Name = ns, jobs["image"].Name+"-x7k2p"
	if err := h.get(t, &pod); err != nil {
		t.Fatal(err)
	}
	pod.Status = tw.MakePod("", "").Scheduled("node-a").Phase(corev1.PodRunning).Obj().Status
	if err := h.c.Status().Update(context.Background(), &pod); err != nil {
		t.Fatal(err)
	}
	h.waitCondition(t, ccs[1], ccv1.ConditionReconciling, metav1.ConditionTrue, ccv1.ReasonJobRunning)
	if ccs[1].Conditions().Reason(ccv1.ConditionStalled) != "" {
		t.Error("Stalled stays after the pod started")
	}
}
