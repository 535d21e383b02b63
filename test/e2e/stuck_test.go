package e2e

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/test/cluster"
)

// A conversion whose pod cannot start says which pod and why, on a real
// node: no node matching its selector, then an image the node cannot pull.
func TestStuckPodsAreReported(t *testing.T) {
	start := time.Now()
	c := startCluster(t)
	create(t, c, namespace("stuck"), claim("stuck", "contacts"),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "stuck", Name: "lists"},
			Data: map[string]string{"list.csv": "email\nan@example.be\n"}})
	stuck := func(name string, edit func(*ccv1.JobSpec)) *ccv1.ContactConversion {
		cc := csvConversion("stuck", name, ccv1.CSVSource{ConfigMapKeyRef: &ccv1.KeySelector{Name: "lists", Key: "list.csv"}})
		cc.Spec.Job.PodStartTimeout = &metav1.Duration{Duration: 10 * time.Second}
		edit(&cc.Spec.Job)
		create(t, c, cc)
		return cc
	}

	t.Run("no node matches", func(t *testing.T) {
		cc := stuck("nonode", func(j *ccv1.JobSpec) { j.NodeSelector = map[string]string{"disktype": "ssd"} })
		msg := readyReason(t, c, cc, ccv1.ReasonPodUnschedulable)
		if !strings.Contains(msg, "didn't match Pod's node affinity/selector") || !strings.Contains(msg, "spec.job.nodeSelector") {
			t.Errorf("Ready message %q does not say why nor what to check", msg)
		}
		if cc.Status.Phase != ccv1.PhaseRunning || meta.IsStatusConditionTrue(cc.Status.Conditions, ccv1.ConditionStalled) {
			t.Errorf("phase %s, Stalled %v: a node may yet come", cc.Status.Phase, meta.IsStatusConditionTrue(cc.Status.Conditions, ccv1.ConditionStalled))
		}
		if note := waitEvent(t, c, "stuck", "nonode", ccv1.ReasonPodUnschedulable); note != msg {
			t.Errorf("event %q, want the Ready message", note)
		}
		describe(t, c, "nonode", ccv1.ReasonPodUnschedulable)
		kubectl(t, c, "delete", "contactconversion", "-n", "stuck", "nonode", "--wait")
	})

	t.Run("the image cannot be pulled", func(t *testing.T) {
		if err := c.StopOperator(false); err != nil {
			t.Fatal(err)
		}
		if err := c.StartOperator("--image", "registry.invalid/contact-converter:missing"); err != nil {
			t.Fatal(err)
		}
		cc := stuck("noimage", func(*ccv1.JobSpec) {})
		msg := stalled(t, c, cc, ccv1.ReasonImagePullFailed)
		if !strings.Contains(msg, "registry.invalid/contact-converter:missing") || !strings.Contains(msg, "--image") {
			t.Errorf("Stalled message %q does not name the image nor the fix", msg)
		}
		waitEvent(t, c, "stuck", "noimage", ccv1.ReasonImagePullFailed)
		describe(t, c, "noimage", ccv1.ReasonImagePullFailed)
	})
	t.Logf("stuck-pod scenarios in %s", time.Since(start).Round(time.Second))
}

// readyReason waits until the conversion's Ready condition has reason.
func readyReason(t *testing.T, c *cluster.Cluster, cc *ccv1.ContactConversion, reason string) string {
	t.Helper()
	var msg string
	eventually(t, 90*time.Second, cc.Name+" Ready reason "+reason, func() string {
		if err := get(t, c.Client, cc); err != nil {
			return err.Error()
		}
		r := meta.FindStatusCondition(cc.Status.Conditions, ccv1.ConditionReady)
		if r == nil || r.Reason != reason {
			return "not yet"
		}
		msg = r.Message
		return ""
	})
	return msg
}

// describe shows what kubectl describe tells a user of the conversion.
func describe(t *testing.T, c *cluster.Cluster, name, reason string) {
	t.Helper()
	out := kubectl(t, c, "describe", "contactconversion", "-n", "stuck", name)
	t.Logf("kubectl describe contactconversion %s:\n%s", name, out)
	if strings.Count(out, reason) < 2 {
		t.Errorf("kubectl describe shows %s in neither the conditions nor the events", reason)
	}
}
