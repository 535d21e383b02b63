package testwrap

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodWrapper wraps a Pod under construction.
type PodWrapper struct{ corev1.Pod }

// MakePod is a Pending pod of one "convert" container, not yet scheduled.
func MakePod(name, namespace string) *PodWrapper {
	return &PodWrapper{corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "convert", Image: "contact-converter:test"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}}
}

// Obj returns the pod.
func (w *PodWrapper) Obj() *corev1.Pod { return &w.Pod }

// Created sets the creation time.
func (w *PodWrapper) Created(t time.Time) *PodWrapper {
	w.CreationTimestamp = metav1.NewTime(t)
	return w
}

// Label adds a label.
func (w *PodWrapper) Label(key, value string) *PodWrapper {
	if w.Labels == nil {
		w.Labels = map[string]string{}
	}
	w.Labels[key] = value
	return w
}

// Phase sets the pod's phase.
func (w *PodWrapper) Phase(p corev1.PodPhase) *PodWrapper {
	w.Status.Phase = p
	return w
}

// Deleting marks the pod as being deleted.
func (w *PodWrapper) Deleting(at time.Time) *PodWrapper {
	w.DeletionTimestamp = &metav1.Time{Time: at}
	return w
}

// Unschedulable sets PodScheduled=False as the scheduler does.
func (w *PodWrapper) Unschedulable(message string) *PodWrapper {
	return w.condition(corev1.PodScheduled, corev1.ConditionFalse, corev1.PodReasonUnschedulable, message)
}

// Scheduled binds the pod to node.
func (w *PodWrapper) Scheduled(node string) *PodWrapper {
	w.Spec.NodeName = node
	return w.condition(corev1.PodScheduled, corev1.ConditionTrue, "", "")
}

// Waiting sets the first container's waiting state, as the kubelet does.
func (w *PodWrapper) Waiting(reason, message string) *PodWrapper {
	w.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: w.Spec.Containers[0].Name, Image: w.Spec.Containers[0].Image,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}}}
	return w
}

func (w *PodWrapper) condition(typ corev1.PodConditionType, status corev1.ConditionStatus, reason, message string) *PodWrapper {
	for i := range w.Status.Conditions {
		if w.Status.Conditions[i].Type == typ {
			w.Status.Conditions = append(w.Status.Conditions[:i], w.Status.Conditions[i+1:]...)
			break
		}
	}
	w.Status.Conditions = append(w.Status.Conditions, corev1.PodCondition{Type: typ, Status: status, Reason: reason, Message: message})
	return w
}

// PodEvent is an Event about a pod, as the kubelet or a controller records it.
func PodEvent(pod *corev1.Pod, typ, reason, message string, at time.Time) corev1.Event {
	return corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: pod.Name + "." + reason, Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Type:           typ, Reason: reason, Message: message,
		LastTimestamp: metav1.NewTime(at),
	}
}
