package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/contactconverter/contact-converter/internal/testenv"
	"github.com/contactconverter/contact-converter/test/cluster"
)

// The chart installs the operator as a Pod on the node, and `helm test`
// passes: the CRDs are served and the operator answers its health check.
func TestHelmInstallAndTest(t *testing.T) {
	start := time.Now()
	helm := os.Getenv("HELM")
	if helm == "" {
		helm = filepath.Join(testenv.RepoRoot(), "bin", "helm")
	}
	if _, err := os.Stat(helm); err != nil {
		t.Fatalf("helm not found at %s: run `make test` (it builds bin/helm from its Go module) or set HELM", helm)
	}
	c := newCluster(t)
	image := strings.SplitN(cluster.Image, ":", 2)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(context.Background(), helm, append(args, "--kubeconfig", c.Kubeconfig)...)
		cmd.Dir = testenv.RepoRoot()
		out, err := cmd.CombinedOutput()
		t.Logf("helm %s:\n%s", strings.Join(args, " "), out)
		if err != nil {
			t.Fatalf("helm %s: %v", args[0], err)
		}
		return string(out)
	}
	// The control plane already serves the CRDs (from config/crd).
	run("install", "cc", "charts/contact-converter", "--namespace", "contact-converter-system", "--create-namespace",
		"--set", "crds.enabled=false,image.repository="+image[0]+",image.tag="+image[1], "--wait", "--timeout", "3m")
	out := run("test", "cc", "--namespace", "contact-converter-system", "--logs", "--timeout", "3m")
	for _, want := range []string{"Phase:          Succeeded", "ok: contacts.contactconverter.io/v1alpha1 serves", "ok: the operator answers its health check"} {
		if !strings.Contains(out, want) {
			t.Errorf("helm test output lacks %q", want)
		}
	}
	t.Logf("helm install and test in %s", time.Since(start).Round(time.Second))
}
