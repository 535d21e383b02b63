package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/contactconverter/contact-converter/internal/engine"
	"github.com/contactconverter/contact-converter/internal/listgen"
	"github.com/contactconverter/contact-converter/internal/store/storetest"
)

// generatedTenant writes a tenant large enough to interrupt mid-run.
func generatedTenant(t *testing.T, contacts int) string {
	t.Helper()
	dir := t.TempDir()
	tn := listgen.Tenant{Seed: 7, Contacts: contacts, Lists: listgen.DefaultLists}
	yaml := "apiVersion: contacts.contactconverter.io/v1alpha1\nkind: ContactConversion\nmetadata: {name: gen}\nspec:\n" +
		"  defaultLanguage: nl\n  languages: [nl, fr, en, de]\n  database: {sqlite: {persistentVolumeClaim: x}}\n  sources:\n"
	for _, l := range tn.Lists {
		f, err := os.Create(filepath.Join(dir, l.Name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tn.Write(f, l); err != nil {
			t.Fatal(err)
		}
		f.Close()
		yaml += "    - {name: " + l.Name + ", csv: {path: " + l.Name + ".csv}}\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "conversion.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// converter starts this test binary as `contact-converter convert` into
// the database at url.
func converter(t *testing.T, tenant, url string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", url,
		"--spill-dir", filepath.Join(t.TempDir(), "spill")}, args...)...)
	cmd.Env = append(os.Environ(), "CONTACT_CONVERTER_RUN_CLI=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

// waitCheckpoints waits until the database at url holds n checkpoints.
func waitCheckpoints(t *testing.T, url string, n int, cmd *exec.Cmd) {
	t.Helper()
	waitCount(t, url, `SELECT count(*) FROM checkpoints`, n, cmd)
}

// waitCount waits until query, a count with ? placeholders for args, gives
// n or more while cmd runs.
func waitCount(t *testing.T, url, query string, n int, cmd *exec.Cmd, args ...any) {
	t.Helper()
	db, rebind := storetest.Open(t, url)
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cmd.ProcessState != nil {
			t.Fatal("the converter ended before it could be interrupted")
		}
		var got int
		if db.QueryRow(rebind(query), args...).Scan(&got) == nil && got >= n {
			return
		}
	}
	t.Fatalf("%s %v: under %d after 2 minutes", query, args, n)
}

func exportOf(t *testing.T, db string) string {
	t.Helper()
	out, err := run(t, "export", "--database", "sqlite:"+db)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// An interrupted run (SIGTERM, as a suspended Job's pod gets, or kill -9)
// followed by a re-run ends in the same database as an uninterrupted run.
func TestInterruptedRunsEndIdentical(t *testing.T) {
	tenant := generatedTenant(t, 150_000)
	ref := filepath.Join(t.TempDir(), "ref.db")
	if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", "sqlite:"+ref); err != nil {
		t.Fatal(err)
	}
	want := exportOf(t, ref)
	if len(want) < 1000 {
		t.Fatalf("reference export is only %d bytes", len(want))
	}

	for _, tc := range []struct {
		name   string
		signal syscall.Signal
	}{{"SIGTERM", syscall.SIGTERM}, {"kill -9", syscall.SIGKILL}} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "contacts.db")
			cmd, stderr := converter(t, tenant, "sqlite:"+db)
			waitCheckpoints(t, "sqlite:"+db, 30, cmd)
			sent := time.Now()
			if err := cmd.Process.Signal(tc.signal); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			stopped := time.Since(sent)
			if err == nil {
				t.Fatalf("the run finished before the signal took effect; make the tenant larger\n%s", stderr)
			}
			if tc.signal == syscall.SIGTERM {
				if stopped > 10*time.Second {
					t.Errorf("stopped %v after SIGTERM, want within 10 s", stopped)
				}
				if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
					t.Errorf("exit code %d after SIGTERM, want %d\n%s", code, exitInterrupted, stderr)
				}
			}
			report := filepath.Join(t.TempDir(), "report.json")
			if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", "sqlite:"+db, "--report", report); err != nil {
				t.Fatal(err)
			}
			var rep engine.Report
			data, _ := os.ReadFile(report)
			if err := json.Unmarshal(data, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.PartitionsResumed < 30 {
				t.Errorf("the re-run resumed %d partitions, want the 30+ written before the signal", rep.PartitionsResumed)
			}
			if got := exportOf(t, db); got != want {
				t.Errorf("the resumed database differs from an uninterrupted run (%d vs %d bytes)", len(got), len(want))
			}
		})
	}
}
