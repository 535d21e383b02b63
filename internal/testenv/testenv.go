// Package testenv starts a real kube-apiserver and etcd (envtest) with this
// project's CRDs installed, for tests.
package testenv

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/contactconverter/contact-converter/internal/kubescheme"
)

// Env is a running control plane.
type Env struct {
	Env    *envtest.Environment
	Config *rest.Config
	Client client.Client
}

// RepoRoot is the repository's top folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// AssetsDir returns the folder of kube-apiserver, etcd, kubectl and
// kube-controller-manager, or fails the test saying how to build them.
func AssetsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set. Run the tests with `make test`, or build the control plane " +
			"with `make envtest` and `export KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh | tail -1)`")
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			t.Fatalf("%s is missing from KUBEBUILDER_ASSETS=%s: run `make envtest` to build it", bin, dir)
		}
	}
	return dir
}

// Start runs a control plane with the CRDs, and those in crdDirs, for the
// duration of the test.
func Start(t testing.TB, crdDirs ...string) *Env {
	t.Helper()
	env := &envtest.Environment{
		BinaryAssetsDirectory: AssetsDir(t),
		CRDDirectoryPaths:     append([]string{filepath.Join(RepoRoot(), "config", "crd", "bases")}, crdDirs...),
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("stopping envtest: %v", err)
		}
	})
	c, err := client.New(cfg, client.Options{Scheme: kubescheme.New()})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return &Env{Env: env, Config: cfg, Client: c}
}

// Context is a context cancelled when the test ends.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

// Kubeconfig writes a kubeconfig of an administrator of the control plane
// and returns its path, for commands that connect as a user would.
func (e *Env) Kubeconfig(t testing.TB) string {
	t.Helper()
	user, err := e.Env.ControlPlane.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
