package podstart

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	tw "github.com/contactconverter/contact-converter/internal/testwrap"
)

var t0 = time.Date(2026, 11, 29, 19, 0, 0, 0, time.UTC)

const timeout = 10 * time.Minute

func TestOverdue(t *testing.T) {
	for _, tc := range []struct {
		name        string
		pods        []corev1.Pod
		now         time.Time
		wantPod     string
		wantRecheck time.Time
	}{
		{name: "no pods", now: t0},
		{name: "pending within the timeout: look again when it ends",
			pods: []corev1.Pod{*tw.MakePod("a", "ns").Created(t0).Obj()}, now: t0.Add(time.Minute),
			wantRecheck: t0.Add(timeout)},
		{name: "pending past the timeout",
			pods: []corev1.Pod{*tw.MakePod("a", "ns").Created(t0).Obj()}, now: t0.Add(timeout), wantPod: "a"},
		{name: "a running pod has started",
			pods: []corev1.Pod{*tw.MakePod("a", "ns").Created(t0).Phase(corev1.PodRunning).Obj()}, now: t0.Add(time.Hour)},
		{name: "a pod being deleted is not waited for",
			pods: []corev1.Pod{*tw.MakePod("a", "ns").Created(t0).Deleting(t0).Obj()}, now: t0.Add(time.Hour)},
		{name: "the oldest overdue pod is named; the next deadline is kept",
			pods: []corev1.Pod{
				*tw.MakePod("b", "ns").Created(t0.Add(time.Minute)).Obj(),
				*tw.MakePod("a", "ns").Created(t0).Obj(),
				*tw.MakePod("c", "ns").Created(t0.Add(20 * time.Minute)).Obj(),
			}, now: t0.Add(15 * time.Minute), wantPod: "a", wantRecheck: t0.Add(30 * time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod, recheck := Overdue(tc.pods, tc.now, timeout)
			got := ""
			if pod != nil {
				got = pod.Name
			}
			if got != tc.wantPod || !recheck.Equal(tc.wantRecheck) {
				t.Errorf("Overdue = %q, recheck %v; want %q, %v", got, recheck, tc.wantPod, tc.wantRecheck)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	pending := func() *tw.PodWrapper { return tw.MakePod("acme-g1-x7k2p", "tenant").Created(t0) }
	creating := func() *corev1.Pod { return pending().Scheduled("node-b").Waiting("ContainerCreating", "").Obj() }
	for _, tc := range []struct {
		name       string
		pod        *corev1.Pod
		events     []corev1.Event
		wantEvents bool
		want       Problem
	}{
		{name: "the scheduler finds no node",
			pod: pending().Unschedulable("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.").Obj(),
			want: Problem{Pod: "acme-g1-x7k2p", Reason: ccv1.ReasonPodUnschedulable, Message: "Pod acme-g1-x7k2p has not started within spec.job.podStartTimeout (10m0s): " +
				"no node can run it: 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. " +
				"Check spec.job.nodeSelector, spec.job.tolerations and spec.job.resources against the cluster's nodes."}},
		{name: "the image cannot be pulled",
			pod: pending().Scheduled("node-a").Waiting("ImagePullBackOff", `Back-off pulling image "registry.example/contact-converter:v9"`).Obj(),
			want: Problem{Pod: "acme-g1-x7k2p", Reason: ccv1.ReasonImagePullFailed, Stalled: true, Message: "Pod acme-g1-x7k2p has not started within spec.job.podStartTimeout (10m0s): " +
				`container convert: ImagePullBackOff: Back-off pulling image "registry.example/contact-converter:v9". ` +
				"Check the operator's image (--image, or the chart's image values) and that the nodes may pull it."}},
		{name: "an image the node never pulls",
			pod: pending().Scheduled("node-a").Waiting("ErrImageNeverPull", "image is not present").Obj(),
			want: Problem{Pod: "acme-g1-x7k2p", Reason: ccv1.ReasonImagePullFailed, Stalled: true, Message: "Pod acme-g1-x7k2p has not started within spec.job.podStartTimeout (10m0s): " +
				"container convert: ErrImageNeverPull: image is not present. " +
				"Check the operator's image (--image, or the chart's image values) and that the nodes may pull it."}},
		{name: "a Secret the pod mounts is missing",
			pod: pending().Scheduled("node-a").Waiting("CreateContainerConfigError", `secret "contacts-erasure-salt" not found`).Obj(),
			want: Problem{Pod: "acme-g1-x7k2p", Reason: ccv1.ReasonPodConfigError, Stalled: true, Message: "Pod acme-g1-x7k2p has not started within spec.job.podStartTimeout (10m0s): " +
				`container convert: CreateContainerConfigError: secret "contacts-erasure-salt" not found. ` +
				"A Secret, ConfigMap or key the pod needs is missing."}},
		{name: "the claim is attached to another node", pod: creating(), wantEvents: true,
			events: []corev1.Event{
				tw.PodEvent(creating(), corev1.EventTypeNormal, "Scheduled", "Successfully assigned tenant/acme-g1-x7k2p to node-b", t0),
				tw.PodEvent(creating(), corev1.EventTypeWarning, "FailedAttachVolume",
					`Multi-Attach error for volume "pvc-5f1c" Volume is already used by pod(s) prefs-preference-center-7d9c`, t0.Add(time.Second)),
				tw.PodEvent(creating(), corev1.EventTypeWarning, "FailedMount", "Unable to attach or mount volumes: timed out waiting for the condition", t0.Add(2*time.Minute)),
			},
			want: Problem{Pod: "acme-g1-x7k2p", Reason: ccv1.ReasonVolumeNotReady, Stalled: true, Message: "Pod acme-g1-x7k2p has not started within spec.job.podStartTimeout (10m0s): " +
				`FailedAttachVolume: Multi-Attach error for volume "pvc-5f1c" Volume is already used by pod(s) prefs-preference-center-7d9c. ` +
				"A ReadWriteOnce volume attaches to one node at a time: run the pods that share an SQLite claim on one node (the operator does so for a PreferenceCenter on the same claim), stop the pod that holds it, or use spec.database.postgres."}},
		{name: "another warning", pod: creating(), wantEvents: true,
			events: []corev1.Event{tw.PodEvent(creating(), corev1.EventTypeWarning, "FailedCreatePodSandBox", "failed to set up the network", t0)},
			want: Problem{Pod: "acme-g1-x7k2p", Reason: ccv1.ReasonPodNotStarting, Message: "Pod acme-g1-x7k2p has not started within spec.job.podStartTimeout (10m0s): " +
				"FailedCreatePodSandBox: failed to set up the network. See kubectl describe pod acme-g1-x7k2p."}},
		{name: "nothing says why", pod: creating(), wantEvents: true,
			want: Problem{Pod: "acme-g1-x7k2p", Reason: ccv1.ReasonPodNotStarting, Message: "Pod acme-g1-x7k2p has not started within spec.job.podStartTimeout (10m0s): " +
				"no cause reported yet. See kubectl describe pod acme-g1-x7k2p."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NeedsEvents(tc.pod); got != tc.wantEvents {
				t.Errorf("NeedsEvents = %v, want %v", got, tc.wantEvents)
			}
			if diff := cmp.Diff(tc.want, Explain(tc.pod, tc.events, timeout)); diff != "" {
				t.Errorf("Explain (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExplainKeepsMessagesShort(t *testing.T) {
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'x'
	}
	p := Explain(tw.MakePod("p", "ns").Unschedulable(string(long)).Obj(), nil, timeout)
	if len(p.Message) > 1024 {
		t.Errorf("message of %d bytes", len(p.Message))
	}
}
