// Package podstart tells, from a pod's status and Events, why a pod has not
// started: no node for it, an image that cannot be pulled, a volume that
// does not attach, or a missing Secret. The reconciler reports the answer
// in the conversion's conditions. Pure functions: the caller reads the pods
// and Events.
package podstart

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// Problem says why a pod has not started.
type Problem struct {
	Pod string
	// Reason is the conditions' reason (ccv1.ReasonPod*, ccv1.ReasonImagePullFailed,
	// ccv1.ReasonVolumeNotReady).
	Reason  string
	Message string
	// Stalled tells that waiting will not help: a person must act.
	Stalled bool
}

// maxDetail bounds what is quoted from the cluster's own messages.
const maxDetail = 512

// Overdue returns the oldest pod still waiting to start after timeout, or
// nil, and when the next waiting pod reaches its timeout (zero: none).
func Overdue(pods []corev1.Pod, now time.Time, timeout time.Duration) (*corev1.Pod, time.Time) {
	var overdue *corev1.Pod
	var recheck time.Time
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodPending {
			continue
		}
		deadline := p.CreationTimestamp.Add(timeout)
		if now.Before(deadline) {
			if recheck.IsZero() || deadline.Before(recheck) {
				recheck = deadline
			}
			continue
		}
		if overdue == nil || older(p, overdue) {
			overdue = p
		}
	}
	return overdue, recheck
}

func older(a, b *corev1.Pod) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// Waiting reasons the kubelet gives while an image cannot be pulled, and
// while a container cannot be created from what the pod names.
var (
	imageReasons  = []string{"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable", "SignatureValidationFailed"}
	configReasons = []string{"CreateContainerConfigError", "CreateContainerError"}
	// volumeEvents are the reasons of the Events the attach-detach
	// controller and the kubelet record when a volume is not ready.
	volumeEvents = []string{"FailedAttachVolume", "FailedMount"}
)

// NeedsEvents tells whether only the pod's Events can say why it waits: it
// is on a node, and its containers are still being created.
func NeedsEvents(pod *corev1.Pod) bool {
	if unschedulable(pod) != nil {
		return false
	}
	if _, _, ok := waitingContainer(pod); ok {
		return false
	}
	return pod.Spec.NodeName != ""
}

// Explain says why pod has not started, from its status and, when the
// status does not tell, the newest warning among its Events.
func Explain(pod *corev1.Pod, events []corev1.Event, timeout time.Duration) Problem {
	p := Problem{Pod: pod.Name}
	lead := fmt.Sprintf("Pod %s has not started within spec.job.podStartTimeout (%s): ", pod.Name, timeout)
	if c := unschedulable(pod); c != nil {
		p.Reason = ccv1.ReasonPodUnschedulable
		detail := "no node can run it."
		if m := sentence(c.Message); m != "" {
			detail = "no node can run it: " + m
		}
		p.Message = lead + detail +
			" Check spec.job.nodeSelector, spec.job.tolerations and spec.job.resources against the cluster's nodes."
		return p
	}
	if name, w, ok := waitingContainer(pod); ok {
		detail := fmt.Sprintf("container %s: %s: %s", name, w.Reason, sentence(w.Message))
		if slices.Contains(imageReasons, w.Reason) {
			p.Reason, p.Stalled = ccv1.ReasonImagePullFailed, true
			p.Message = lead + detail + " Check the operator's image (--image, or the chart's image values) and that the nodes may pull it."
		} else {
			p.Reason, p.Stalled = ccv1.ReasonPodConfigError, true
			p.Message = lead + detail + " A Secret, ConfigMap or key the pod needs is missing."
		}
		return p
	}
	if e := volumeWarning(events); e != nil {
		p.Reason, p.Stalled = ccv1.ReasonVolumeNotReady, true
		p.Message = lead + e.Reason + ": " + sentence(e.Message) +
			" A ReadWriteOnce volume attaches to one node at a time: run the pods that share an SQLite claim on one node" +
			" (the operator does so for a PreferenceCenter on the same claim), stop the pod that holds it, or use spec.database.postgres."
		return p
	}
	p.Reason = ccv1.ReasonPodNotStarting
	if e := newestWarning(events); e != nil {
		p.Message = lead + e.Reason + ": " + sentence(e.Message)
	} else {
		p.Message = lead + "no cause reported yet."
	}
	p.Message += " See kubectl describe pod " + pod.Name + "."
	return p
}

func unschedulable(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return c
		}
	}
	return nil
}

// waitingContainer is the first container, init containers first, waiting
// for a reason that is not plain progress.
func waitingContainer(pod *corev1.Pod) (string, *corev1.ContainerStateWaiting, bool) {
	for _, statuses := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for i := range statuses {
			w := statuses[i].State.Waiting
			if w != nil && (slices.Contains(imageReasons, w.Reason) || slices.Contains(configReasons, w.Reason)) {
				return statuses[i].Name, w, true
			}
		}
	}
	return "", nil, false
}

// volumeWarning is the newest Event of the first volume reason found: the
// attach failure names the cause (a Multi-Attach error), the mount timeout
// only its consequence.
func volumeWarning(events []corev1.Event) *corev1.Event {
	for _, reason := range volumeEvents {
		var newest *corev1.Event
		for i := range events {
			e := &events[i]
			if e.Type == corev1.EventTypeWarning && e.Reason == reason && (newest == nil || eventTime(e).After(eventTime(newest))) {
				newest = e
			}
		}
		if newest != nil {
			return newest
		}
	}
	return nil
}

func newestWarning(events []corev1.Event) *corev1.Event {
	var newest *corev1.Event
	for i := range events {
		e := &events[i]
		if e.Type == corev1.EventTypeWarning && (newest == nil || eventTime(e).After(eventTime(newest))) {
			newest = e
		}
	}
	return newest
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil:
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// sentence quotes a cluster message, bounded, ending with a full stop.
func sentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxDetail {
		s = strings.ToValidUTF8(s[:maxDetail], "") + "…"
	}
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}
