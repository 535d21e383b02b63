package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contactconverter/contact-converter/internal/testenv"
	"github.com/contactconverter/contact-converter/test/cluster"
)

// startCluster runs a whole local cluster for one test, with the operator.
func startCluster(t *testing.T) *cluster.Cluster {
	t.Helper()
	c := newCluster(t)
	if err := c.StartOperator(); err != nil {
		t.Fatal(err)
	}
	return c
}

// newCluster runs a whole local cluster for one test, without the operator.
func newCluster(t *testing.T) *cluster.Cluster {
	t.Helper()
	work, err := os.MkdirTemp("", "e2e-")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.Start(context.Background(), cluster.Options{
		RepoRoot: testenv.RepoRoot(), AssetsDir: testenv.AssetsDir(t), WorkDir: work, Progress: testWriter{t}, Prebuilt: prebuilt,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			for _, name := range []string{"operator", "localnode", "kube-controller-manager"} {
				data, _ := os.ReadFile(c.LogPath(name))
				t.Logf("--- %s log (last lines)\n%s", name, tail(string(data), 60))
			}
			t.Logf("work folder kept: %s", work)
			return
		}
		_ = os.RemoveAll(work)
	})
	return c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// eventually polls cond until it returns "" or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if last = cond(); last == "" {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: still %s after %s", what, last, timeout)
}

func get(t *testing.T, c client.Client, obj client.Object) error {
	t.Helper()
	return c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
}
