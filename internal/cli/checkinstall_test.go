package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/contactconverter/contact-converter/internal/testenv"
)

// Against a real API server: the CRDs are found; a Deployment with no ready
// replica fails the check, naming it; one ready passes.
func TestCheckInstall(t *testing.T) {
	env := testenv.Start(t)
	ctx := testenv.Context(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cc-contact-converter"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cc"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "cc"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "contact-converter:test"}}}},
	}}
	d, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err = checkInstall(ctx, &out, cs, "default", "cc-contact-converter", 3*time.Second)
	if err == nil || !strings.Contains(err.Error(), "(Deployment default/cc-contact-converter) has 0 of 1 replicas ready") {
		t.Errorf("no ready replica: %v", err)
	}
	if !strings.Contains(out.String(), "serves contactconversions and preferencecenters") {
		t.Errorf("output %q", out.String())
	}
	d.Status.Replicas, d.Status.AvailableReplicas, d.Status.ReadyReplicas = 1, 1, 1
	if _, err := cs.AppsV1().Deployments("default").UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := checkInstall(context.Background(), &out, cs, "default", "cc-contact-converter", 10*time.Second); err != nil || !strings.Contains(out.String(), "answers its health check") {
		t.Errorf("ready: %v, %q", err, out.String())
	}
}
