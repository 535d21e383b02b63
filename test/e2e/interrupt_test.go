package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
	"github.com/contactconverter/contact-converter/internal/pgtest"
	"github.com/contactconverter/contact-converter/test/cluster"
)

func create(t *testing.T, c *cluster.Cluster, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func claim(ns, name string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
	}
}

func sqliteOn(claimName string) ccv1.DatabaseSpec {
	return ccv1.DatabaseSpec{SQLite: &ccv1.SQLiteDatabase{PersistentVolumeClaim: claimName}}
}

// anyMatches tells whether a log matches the regular expression.
func anyMatches(logs []string, expr string) bool {
	re := regexp.MustCompile(expr)
	for _, l := range logs {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

// convertLogs are the logs of every convert container the node ran.
func convertLogs(t *testing.T, c *cluster.Cluster) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(c.NodeDataDir(), "pods", "*", "containers", "convert", "log"))
	var logs []string
	for _, f := range files {
		data, _ := os.ReadFile(f)
		logs = append(logs, string(data))
	}
	return logs
}

func anyContains(logs []string, s string) bool {
	for _, l := range logs {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func patchMerge(t *testing.T, c *cluster.Cluster, ns, name, patch string) {
	t.Helper()
	kubectl(t, c, "-n", ns, "patch", "contactconversion", name, "--type", "merge", "-p", patch)
}

// runningConvertPid is the process of the running convert container.
func runningConvertPid(t *testing.T, c *cluster.Cluster, ns string) int {
	t.Helper()
	var pods corev1.PodList
	if err := c.Client.List(context.Background(), &pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name == "convert" && cs.State.Running != nil {
				pid, err := strconv.Atoi(strings.TrimPrefix(cs.ContainerID, "localnode://"))
				if err == nil {
					return pid
				}
			}
		}
	}
	t.Fatal("no running convert container")
	return 0
}

// spec.suspend set mid-run, through kubectl patch: the Pod stops on SIGTERM
// keeping its checkpoint, and after the resume the database is the one an
// uninterrupted run gives.
func TestSuspendAndResume(t *testing.T) {
	start := time.Now()
	c := startCluster(t)
	want := referenceExport(t, c.Binary)
	create(t, c, namespace("suspend"), claim("suspend", "contacts"))
	create(t, c, bigConversion(t, "suspend", "big", sqliteOn("contacts")))
	db := filepath.Join(c.NodeDataDir(), "claims", "suspend", "contacts", "contacts.db")
	eventually(t, 3*time.Minute, "partitions written", func() string {
		if sqliteCheckpoints(db) == 0 {
			return "no partition written yet"
		}
		return ""
	})
	patchMerge(t, c, "suspend", "big", `{"spec":{"suspend":true}}`)
	cc := conversion("suspend", "big")
	waitPhase(t, c, cc, ccv1.PhasePaused, 60*time.Second)
	eventually(t, 60*time.Second, "the Pod stopped", func() string {
		if !anyContains(convertLogs(t, c), "context canceled") {
			return "no convert container stopped on SIGTERM yet"
		}
		return ""
	})
	kept := sqliteCheckpoints(db)
	t.Logf("paused with %d partitions written", kept)
	patchMerge(t, c, "suspend", "big", `{"spec":{"suspend":false}}`)
	waitPhase(t, c, cc, ccv1.PhaseSucceeded, 3*time.Minute)
	if !anyMatches(convertLogs(t, c), `"partitionsResumed":[1-9]`) {
		t.Error("the resumed run did not start from the checkpoint")
	}
	if got := exportClaim(t, c, "suspend", "contacts"); got != want {
		t.Errorf("after suspend and resume the database differs from an uninterrupted run (%d vs %d bytes)", len(got), len(want))
	}
	t.Logf("suspend and resume in %s", time.Since(start).Round(time.Second))
}

// kill -9 of the converter mid-run: the Job's retry resumes, and the
// PostgreSQL database is the one an uninterrupted run gives.
func TestCrashResumes(t *testing.T) {
	start := time.Now()
	c := startCluster(t)
	want := referenceExport(t, c.Binary)
	url := pgtest.NewDatabase(t, pgtest.Start(t), "crash")
	create(t, c, namespace("crash"), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "crash", Name: "db"},
		StringData: map[string]string{"uri": url}})
	create(t, c, bigConversion(t, "crash", "big", ccv1.DatabaseSpec{Postgres: &ccv1.PostgresDatabase{SecretRef: ccv1.SecretKeyReference{Name: "db"}}}))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	eventually(t, 3*time.Minute, "partitions written", func() string {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM checkpoints`).Scan(&n); err != nil || n == 0 {
			return "no partition written yet"
		}
		return ""
	})
	pid := runningConvertPid(t, c, "crash")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the converter (pid %d) with SIGKILL", pid)
	cc := conversion("crash", "big")
	waitPhase(t, c, cc, ccv1.PhaseSucceeded, 4*time.Minute)
	var job batchv1.Job
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "crash", Name: desired.JobName(cc, "")}, &job); err != nil {
		t.Fatal(err)
	}
	if job.Status.Failed < 1 {
		t.Errorf("the Job counts %d failed Pods, want the killed one", job.Status.Failed)
	}
	if !anyMatches(convertLogs(t, c), `"partitionsResumed":[1-9]`) {
		t.Error("the retry did not resume from the checkpoint")
	}
	out, err := execOutput(c.Binary, "export", "--database", url)
	if err != nil {
		t.Fatal(err)
	}
	if out != want {
		t.Errorf("after kill -9 the database differs from an uninterrupted run (%d vs %d bytes)", len(out), len(want))
	}
	t.Logf("crash and resume in %s", time.Since(start).Round(time.Second))
}
