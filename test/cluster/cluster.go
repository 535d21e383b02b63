// Package cluster runs a whole local cluster on loopback for the
// end-to-end tests and the demo: etcd and kube-apiserver (envtest) with
// the CRDs, kube-controller-manager with the Job, ReplicaSet, Deployment,
// disruption, service-account and garbage-collector controllers, the local
// node that runs Pods as processes of the contact-converter binary, and
// the operator itself.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/contactconverter/contact-converter/internal/kubescheme"
)

// Image is the operator image the local node plays with the binary.
const Image = "ghcr.io/contactconverter/contact-converter:local"

// Options configure a cluster.
type Options struct {
	// RepoRoot is the repository, for the CRDs and the sources.
	RepoRoot string
	// AssetsDir holds kube-apiserver, etcd, kube-controller-manager and
	// kubectl.
	AssetsDir string
	// WorkDir receives the kubeconfig, the binaries, the logs and the
	// node's data.
	WorkDir string
	// Progress receives one line per step.
	Progress io.Writer
	// Prebuilt, when set, is a folder holding contact-converter and
	// localnode already built (see Build); otherwise Start builds them.
	Prebuilt string
}

// Build builds contact-converter and the local node into dir.
func Build(ctx context.Context, repoRoot, dir string) error {
	for out, pkg := range map[string]string{filepath.Join(dir, "contact-converter"): ".", filepath.Join(dir, "localnode"): "./hack/localnode"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir = repoRoot
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	return nil
}

// Cluster is a running local cluster.
type Cluster struct {
	o          Options
	Env        *envtest.Environment
	Config     *rest.Config
	Client     client.Client
	Kubeconfig string
	Binary     string
	nodeBinary string
	procs      map[string]*exec.Cmd
	// OperatorMetrics is the operator's metrics address.
	OperatorMetrics string
}

func (o Options) say(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// Start builds the binaries and starts everything but the operator.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	for _, bin := range []string{"kube-apiserver", "etcd", "kube-controller-manager", "kubectl"} {
		if _, err := os.Stat(filepath.Join(o.AssetsDir, bin)); err != nil {
			return nil, fmt.Errorf("%s is missing from %s: run `make envtest` to build the control plane", bin, o.AssetsDir)
		}
	}
	if err := os.MkdirAll(filepath.Join(o.WorkDir, "logs"), 0o755); err != nil {
		return nil, err
	}
	// Pods run as a non-root user, who must reach the binary and volumes.
	if err := os.Chmod(o.WorkDir, 0o755); err != nil {
		return nil, err
	}
	bin := o.Prebuilt
	if bin == "" {
		bin = filepath.Join(o.WorkDir, "bin")
		o.say(">> building contact-converter and the local node")
		if err := Build(ctx, o.RepoRoot, bin); err != nil {
			return nil, err
		}
	}
	c := &Cluster{o: o, procs: map[string]*exec.Cmd{},
		Binary: filepath.Join(bin, "contact-converter"), nodeBinary: filepath.Join(bin, "localnode")}
	c.o.say(">> starting etcd and kube-apiserver on loopback")
	c.Env = &envtest.Environment{
		BinaryAssetsDirectory: o.AssetsDir,
		CRDDirectoryPaths:     []string{filepath.Join(o.RepoRoot, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := c.Env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting the API server: %w", err)
	}
	c.Config = cfg
	if c.Client, err = client.New(cfg, client.Options{Scheme: kubescheme.New()}); err != nil {
		c.Stop()
		return nil, err
	}
	if err := c.writeKubeconfig(); err != nil {
		c.Stop()
		return nil, err
	}
	c.o.say(">> starting kube-controller-manager (Job, ReplicaSet, Deployment, disruption, garbage collector)")
	if err := c.start("kube-controller-manager", filepath.Join(o.AssetsDir, "kube-controller-manager"),
		"--kubeconfig", c.Kubeconfig, "--leader-elect=false", "--secure-port=0", "--use-service-account-credentials=false",
		"--controllers=job-controller,replicaset-controller,deployment-controller,garbage-collector-controller,serviceaccount-controller,disruption-controller",
		"--concurrent-job-syncs=5", "--v=1"); err != nil {
		c.Stop()
		return nil, err
	}
	c.o.say(">> starting the local node")
	if err := c.start("localnode", c.nodeBinary, "--kubeconfig", c.Kubeconfig, "--name", "localnode",
		"--data-dir", filepath.Join(o.WorkDir, "node"), "--binary", c.Binary, "--image", Image); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// writeKubeconfig writes an administrator's kubeconfig for the processes
// and for kubectl.
func (c *Cluster) writeKubeconfig() error {
	user, err := c.Env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	data, err := user.KubeConfig()
	if err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.o.WorkDir, "kubeconfig")
	return os.WriteFile(c.Kubeconfig, data, 0o600)
}

// start runs a process whose output goes to logs/NAME.log.
func (c *Cluster) start(name, bin string, args ...string) error {
	logf, err := os.OpenFile(filepath.Join(c.o.WorkDir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	c.procs[name] = cmd
	go func() { _ = cmd.Wait(); logf.Close() }()
	return nil
}

// StartOperator runs the operator (contact-converter manager) as a process.
func (c *Cluster) StartOperator(extra ...string) error {
	c.o.say(">> starting the operator")
	c.OperatorMetrics = freeAddr()
	// Lists served on this machine are on loopback, which csv.url refuses
	// unless allowed.
	args := append([]string{"manager", "--image", Image, "--metrics-secure=false", "--metrics-bind-address", c.OperatorMetrics,
		"--health-probe-bind-address", freeAddr(), "--allow-url-cidrs", "127.0.0.0/8"}, extra...)
	return c.start("operator", c.Binary, args...)
}

// StopOperator stops the operator: SIGTERM, or SIGKILL when kill is set.
func (c *Cluster) StopOperator(kill bool) error {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	return c.stop("operator", sig)
}

func (c *Cluster) stop(name string, sig syscall.Signal) error {
	cmd := c.procs[name]
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	delete(c.procs, name)
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	done := make(chan struct{})
	go func() {
		for cmd.ProcessState == nil {
			if err := syscall.Kill(cmd.Process.Pid, 0); errors.Is(err, syscall.ESRCH) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return nil
}

// Stop stops everything it started: the node first, so it kills its Pods.
func (c *Cluster) Stop() {
	for _, name := range []string{"operator", "localnode", "kube-controller-manager"} {
		_ = c.stop(name, syscall.SIGTERM)
	}
	if c.Env != nil {
		_ = c.Env.Stop()
	}
}

// Kubectl runs kubectl against the cluster and returns its output.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.o.AssetsDir, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %v: %w\n%s", args, err, out)
	}
	return string(out), nil
}

// KubectlPlugin runs `kubectl contacts ARGS`: kubectl finds the operator's
// binary on the PATH as kubectl-contacts, as a user installs it.
func (c *Cluster) KubectlPlugin(ctx context.Context, args ...string) (string, error) {
	dir := filepath.Join(c.o.WorkDir, "plugins")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	link := filepath.Join(dir, "kubectl-contacts")
	if _, err := os.Lstat(link); err != nil {
		if err := os.Symlink(c.Binary, link); err != nil {
			return "", err
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(c.o.AssetsDir, "kubectl"), append([]string{"contacts"}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECONFIG="+c.Kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl contacts %v: %w\n%s", args, err, out)
	}
	return string(out), nil
}

// LogPath is where a process's output goes.
func (c *Cluster) LogPath(name string) string { return filepath.Join(c.o.WorkDir, "logs", name+".log") }

// NodeDataDir is the local node's data folder (claims, Pod logs).
func (c *Cluster) NodeDataDir() string { return filepath.Join(c.o.WorkDir, "node") }

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
