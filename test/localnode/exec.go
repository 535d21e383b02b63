package localnode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/types"
	remotecommandconsts "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// serveExec answers `kubectl exec` as the kubelet does: POST
// /exec/NAMESPACE/POD/CONTAINER?command=...&input=1&output=1&error=1,
// upgraded to SPDY streams. The command runs as the container's process
// does (its mounts, user and read-only root), and must be the
// contact-converter binary, the only one the image holds.
func (n *Node) serveExec(w http.ResponseWriter, r *http.Request) {
	pod, container, ok := n.podAt(w, r, "/exec/")
	if !ok {
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	remotecommand.ServeExec(w, r, n, pod.Name, string(pod.UID), container, r.URL.Query()["command"], opts,
		4*time.Hour, 30*time.Second, remotecommandconsts.SupportedStreamingProtocols)
}

// exitError carries a command's exit code back to the client.
type exitError struct{ code int }

func (e exitError) Error() string   { return fmt.Sprintf("exit status %d", e.code) }
func (e exitError) String() string  { return e.Error() }
func (e exitError) Exited() bool    { return true }
func (e exitError) ExitStatus() int { return e.code }

var _ utilexec.ExitError = exitError{}

// ExecInContainer runs cmd in the sandbox of a running container.
func (n *Node) ExecInContainer(ctx context.Context, _, uid, container string, cmd []string, in io.Reader, out, errOut io.WriteCloser, _ bool, _ <-chan remotecommand.TerminalSize, _ time.Duration) error {
	if len(cmd) == 0 || !strings.HasSuffix(cmd[0], "contact-converter") {
		return fmt.Errorf("localnode runs only the contact-converter binary, not %q", cmd)
	}
	n.mu.Lock()
	run := n.pods[types.UID(uid)]
	n.mu.Unlock()
	if run == nil {
		return errors.New("the pod does not run on this node")
	}
	var spec string
	run.mu.Lock()
	for _, c := range run.containers {
		if c.spec.Name == container && c.running {
			spec = c.sandbox
		}
	}
	run.mu.Unlock()
	if spec == "" {
		return fmt.Errorf("container %s is not running", container)
	}
	data, err := os.ReadFile(spec)
	if err != nil {
		return err
	}
	var sb sandbox
	if err := json.Unmarshal(data, &sb); err != nil {
		return err
	}
	sb.Args = cmd[1:]
	f, err := os.CreateTemp(filepath.Dir(spec), "exec-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := json.NewEncoder(f).Encode(&sb); err != nil {
		_ = f.Close()
		return err
	}
	_ = f.Close()
	p := exec.CommandContext(ctx, n.Sandbox, SandboxArg, f.Name())
	p.Stdin, p.Stdout, p.Stderr = in, out, errOut
	p.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Setpgid: true}
	err = p.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exitError{code: exit.ExitCode()}
	}
	return err
}
