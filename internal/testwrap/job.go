package testwrap

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// JobWrapper wraps a Job under construction.
type JobWrapper struct{ batchv1.Job }

// MakeJob is a Job of one "convert" container running the operator's test
// image, never restarted.
func MakeJob(name, namespace string) *JobWrapper {
	return &JobWrapper{batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "convert", Image: "contact-converter:test"}},
		}}},
	}}
}

// Obj returns the Job.
func (w *JobWrapper) Obj() *batchv1.Job { return &w.Job }

// Label adds a label to the Job.
func (w *JobWrapper) Label(key, value string) *JobWrapper {
	if w.Labels == nil {
		w.Labels = map[string]string{}
	}
	w.Labels[key] = value
	return w
}

// Container replaces the container: its name, image and arguments.
func (w *JobWrapper) Container(name, image string, args ...string) *JobWrapper {
	w.Spec.Template.Spec.Containers = []corev1.Container{{Name: name, Image: image, Args: args}}
	return w
}

// Env sets the container's environment.
func (w *JobWrapper) Env(env ...corev1.EnvVar) *JobWrapper {
	w.Spec.Template.Spec.Containers[0].Env = env
	return w
}

// Active sets how many of its pods run, as the Job controller reports.
func (w *JobWrapper) Active(n int32) *JobWrapper {
	w.Status.Active = n
	return w
}
