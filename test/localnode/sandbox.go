package localnode

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// SandboxArg is the first argument that makes the node's binary act as the
// sandbox of one container instead of the node: see RunSandbox.
const SandboxArg = "__localnode_sandbox"

// sandbox is what a container's process needs set up before it starts.
type sandbox struct {
	// Mounts are bind mounts, made in the process's own mount namespace.
	Mounts []mount `json:"mounts"`
	// ReadOnlyRoot makes / read-only for the process.
	ReadOnlyRoot bool     `json:"readOnlyRoot"`
	UID          *int64   `json:"uid,omitempty"`
	GID          *int64   `json:"gid,omitempty"`
	Groups       []int64  `json:"groups,omitempty"`
	Binary       string   `json:"binary"`
	Args         []string `json:"args"`
	Env          []string `json:"env"`
	Dir          string   `json:"dir,omitempty"`
}

type mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly"`
	File     bool   `json:"file"`
}

// RunSandbox is the sandbox: started by the node in a new mount namespace
// (CLONE_NEWNS), it makes the mounts private, creates the mount points,
// bind-mounts the volumes, makes / read-only if asked, drops to the pod's
// user, and becomes the container's process. It returns only on failure.
func RunSandbox(specFile string) error {
	data, err := os.ReadFile(specFile)
	if err != nil {
		return err
	}
	var s sandbox
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	// Nothing mounted here is seen outside this process.
	if err := syscall.Mount("none", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	// Sources and the binary are opened first: a volume mounted on /tmp
	// must not hide what lives under /tmp.
	binFD, err := unix.Open(s.Binary, unix.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", s.Binary, err)
	}
	binary := fmt.Sprintf("/proc/self/fd/%d", binFD)
	sources := make([]string, len(s.Mounts))
	for i, m := range s.Mounts {
		fd, err := unix.Open(m.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening %s: %w", m.Source, err)
		}
		sources[i] = fmt.Sprintf("/proc/self/fd/%d", fd)
		if err := mountPoint(m); err != nil {
			return err
		}
	}
	for i, m := range s.Mounts {
		if err := syscall.Mount(sources[i], m.Target, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fmt.Errorf("mounting %s at %s: %w", m.Source, m.Target, err)
		}
		if m.ReadOnly {
			if err := syscall.Mount("", m.Target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
				return fmt.Errorf("read-only %s: %w", m.Target, err)
			}
		}
	}
	// Last, / becomes read-only; the volumes, mounted already, stay
	// writable (a bind mount takes its flags from its source's mount).
	if s.ReadOnlyRoot {
		if err := syscall.Mount("/", "/", "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("read-only root: %w", err)
		}
	}
	if len(s.Groups) > 0 {
		groups := make([]int, len(s.Groups))
		for i, g := range s.Groups {
			groups[i] = int(g)
		}
		if err := syscall.Setgroups(groups); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
	}
	if s.GID != nil {
		if err := syscall.Setgid(int(*s.GID)); err != nil {
			return fmt.Errorf("setgid: %w", err)
		}
	}
	if s.UID != nil {
		if err := syscall.Setuid(int(*s.UID)); err != nil {
			return fmt.Errorf("setuid: %w", err)
		}
	}
	if s.Dir != "" {
		if err := os.Chdir(s.Dir); err != nil {
			return err
		}
	}
	return syscall.Exec(binary, append([]string{s.Binary}, s.Args...), s.Env)
}

// mountPoint creates the folder, or the empty file, a volume is mounted on.
func mountPoint(m mount) error {
	if !m.File {
		return os.MkdirAll(m.Target, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(m.Target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(m.Target, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return f.Close()
}
