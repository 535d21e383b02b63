package localnode

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
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
// makes / read-only if asked, bind-mounts the volumes, drops to the pod's
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
	for _, m := range s.Mounts {
		if err := mountPoint(m); err != nil {
			return err
		}
	}
	if s.ReadOnlyRoot {
		if err := syscall.Mount("/", "/", "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("read-only root: %w", err)
		}
	}
	for _, m := range s.Mounts {
		if err := syscall.Mount(m.Source, m.Target, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fmt.Errorf("mounting %s at %s: %w", m.Source, m.Target, err)
		}
		if m.ReadOnly {
			if err := syscall.Mount("", m.Target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
				return fmt.Errorf("read-only %s: %w", m.Target, err)
			}
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
	return syscall.Exec(s.Binary, append([]string{s.Binary}, s.Args...), s.Env)
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
