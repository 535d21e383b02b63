// Package s3test starts a throwaway S3-compatible server for tests:
// versitygw, built from its Go module by hack/setup-versitygw.sh, serving a
// temporary folder on a free loopback port.
package s3test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Server is a running store. Each folder under Dir is a bucket.
type Server struct {
	Endpoint                     string // http://127.0.0.1:PORT
	AccessKeyID, SecretAccessKey string
	Dir                          string
}

// binary finds versitygw: $VERSITYGW, else the pinned build in bin/.
func binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p
	}
	dir, err := os.Getwd()
	for err == nil {
		if _, e := os.Stat(filepath.Join(dir, "go.mod")); e == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			err = os.ErrNotExist
		}
		dir = parent
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "bin", "versitygw-v*"))
	if err != nil || len(matches) == 0 {
		t.Fatal("the S3-compatible test server is missing: build it with `hack/setup-versitygw.sh` " +
			"(`make tools` does), or set VERSITYGW to a versitygw binary")
	}
	return matches[len(matches)-1]
}

// Start runs a server holding the given buckets, stopped when the test ends.
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	s := &Server{AccessKeyID: "contact-converter-test", SecretAccessKey: "contact-converter-test-secret", Dir: t.TempDir()}
	for _, b := range buckets {
		if err := os.Mkdir(filepath.Join(s.Dir, b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	log, err := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "--access", s.AccessKeyID, "--secret", s.SecretAccessKey,
		"--port", addr, "--quiet", "posix", s.Dir)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = log.Close()
	})
	s.Endpoint = "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return s
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log.Name())
			t.Fatalf("versitygw did not listen on %s: %s", addr, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// String names the server in test logs.
func (s *Server) String() string { return fmt.Sprintf("versitygw at %s", s.Endpoint) }
