package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tw "github.com/contactconverter/contact-converter/internal/testwrap"
	"github.com/contactconverter/contact-converter/test/cluster"
)

// A Job with the operator image runs the binary in a Pod, with its
// environment, volumes and user, and ends Complete; another image fails.
func TestLocalNodeRunsJobs(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "smoke"}}
	if err := c.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	job := tw.MakeJob("version", "smoke").Container("main", cluster.Image, "--version").Obj()
	if err := c.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "job complete", func() string {
		if err := get(t, c.Client, job); err != nil {
			return err.Error()
		}
		if job.Status.Succeeded == 1 {
			return ""
		}
		return "not yet: " + strings.TrimSpace(job.Status.String())
	})

	// Any other image cannot be pulled: as on a kubelet, the Pod stays
	// Pending with its container waiting, and says why.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "smoke", Name: "nginx"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
	}
	if err := c.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	var waiting *corev1.ContainerStateWaiting
	eventually(t, 30*time.Second, "the foreign image's Pod waits", func() string {
		if err := get(t, c.Client, pod); err != nil {
			return err.Error()
		}
		if len(pod.Status.ContainerStatuses) == 1 {
			waiting = pod.Status.ContainerStatuses[0].State.Waiting
		}
		if pod.Status.Phase != corev1.PodPending || waiting == nil || waiting.Reason != "ErrImageNeverPull" || !strings.Contains(waiting.Message, "nginx:1.27") {
			return "phase " + string(pod.Status.Phase) + ": " + pod.Status.String()
		}
		return ""
	})
	t.Logf("foreign image: %s: %s", waiting.Reason, waiting.Message)
}
