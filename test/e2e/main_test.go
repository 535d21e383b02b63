package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/contactconverter/contact-converter/internal/testenv"
	"github.com/contactconverter/contact-converter/test/cluster"
)

// prebuilt holds contact-converter and the local node, built once for every
// test.
var prebuilt string

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	dir, err := os.MkdirTemp("", "e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = os.Chmod(dir, 0o755)
	fmt.Fprintln(os.Stderr, "e2e: building contact-converter and the local node")
	if err := cluster.Build(context.Background(), testenv.RepoRoot(), dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	prebuilt = dir
	code := m.Run()
	_ = os.RemoveAll(filepath.Clean(dir))
	stopServer()
	os.Exit(code)
}
