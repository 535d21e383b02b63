package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// The operator restarts mid-run: the new one adopts the running Job; no
// second Job, and the status carries on.
func TestOperatorRestart(t *testing.T) {
	start := time.Now()
	c := startCluster(t)
	create(t, c, namespace("restart"), claim("restart", "contacts"))
	big.slowRate.Store(600 << 10)
	defer big.slowRate.Store(0)
	cc := bigConversion(t, "restart", "big", sqliteOn("contacts"))
	create(t, c, cc)
	waitPhase(t, c, cc, ccv1.PhaseRunning, 60*time.Second)
	job := cc.Status.JobName
	if err := c.StopOperator(true); err != nil {
		t.Fatal(err)
	}
	t.Log("operator killed mid-run")
	time.Sleep(2 * time.Second)
	if err := c.StartOperator(); err != nil {
		t.Fatal(err)
	}
	big.slowRate.Store(0)
	waitPhase(t, c, cc, ccv1.PhaseSucceeded, 3*time.Minute)
	var jobs batchv1.JobList
	if err := c.Client.List(context.Background(), &jobs, client.InNamespace("restart")); err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items) != 1 || jobs.Items[0].Name != job || cc.Status.JobName != job {
		t.Errorf("jobs after the restart: %d (%s), status names %s; want the one Job %s", len(jobs.Items), jobNames(jobs), cc.Status.JobName, job)
	}
	if cc.Status.Progress == nil || cc.Status.Progress.Contacts == 0 || cc.Status.ObservedGeneration != cc.Generation {
		t.Errorf("status after the restart: %+v", cc.Status)
	}
	t.Logf("operator restart scenario in %s", time.Since(start).Round(time.Second))
}

func jobNames(l batchv1.JobList) string {
	var names []string
	for _, j := range l.Items {
		names = append(names, j.Name)
	}
	return strings.Join(names, ",")
}
