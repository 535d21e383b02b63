package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runStderr executes the command line and returns its standard error.
func runStderr(_ *testing.T, args ...string) (string, error) {
	_, stderr, err := runBoth(args...)
	return stderr, err
}

// With --log-format=json every line is a JSON record, the run ends with a
// "finished" record of counts, and no list value is logged.
func TestConvertLogsJSON(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "contacts.db")
	stderr, err := runStderr(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", db, "--log-format", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	msgs := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON record: %q", line)
		}
		msgs[rec["msg"].(string)] = rec
	}
	for _, want := range []string{"progress", "source", "finished"} {
		if msgs[want] == nil {
			t.Errorf("no %q record in:\n%s", want, stderr)
		}
	}
	if c, _ := msgs["finished"]["contacts"].(float64); c == 0 {
		t.Errorf("finished record without contacts: %v", msgs["finished"])
	}
	if strings.Contains(stderr, "@") {
		t.Errorf("an address reached the log:\n%s", stderr)
	}
}

// A failed run in JSON logs the error as a record, and leaves the plain
// error as the container's termination message for the operator to show.
func TestConvertJSONFailureWritesTheTerminationMessage(t *testing.T) {
	dir := t.TempDir()
	terminationLog = filepath.Join(dir, "termination-log")
	t.Cleanup(func() { terminationLog = "/dev/termination-log" })
	if err := os.WriteFile(terminationLog, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	conv := filepath.Join(dir, "conversion.yaml")
	if err := os.WriteFile(conv, []byte("apiVersion: contacts.contactconverter.io/v1alpha1\nkind: ContactConversion\nmetadata: {name: x}\nspec:\n  defaultLanguage: nl\n  sources:\n    - name: gone\n      csv: {path: missing.csv}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr, err := runStderr(t, "convert", "-f", conv, "--database", "sqlite:"+filepath.Join(dir, "c.db"), "--log-format", "json")
	if err == nil || !isLogged(err) {
		t.Fatalf("error %v, want one already logged", err)
	}
	var rec map[string]any
	last := strings.Split(strings.TrimSpace(stderr), "\n")
	if json.Unmarshal([]byte(last[len(last)-1]), &rec) != nil || rec["level"] != "ERROR" || !strings.Contains(rec["error"].(string), "missing.csv") {
		t.Errorf("last record %q", last[len(last)-1])
	}
	msg, _ := os.ReadFile(terminationLog)
	if !strings.Contains(string(msg), "missing.csv") || strings.HasPrefix(string(msg), "{") {
		t.Errorf("termination message %q, want the plain error", msg)
	}
	if _, err := runStderr(t, "convert", "-f", conv, "--log-format", "yaml"); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("an unknown format: %v", err)
	}
}

func TestPreferenceCenterRefusesAnUnknownLogLevel(t *testing.T) {
	_, err := runStderr(t, "preference-center", "--log-level", "loud")
	if err == nil || !strings.Contains(err.Error(), "--log-level") {
		t.Errorf("error %v, want one naming --log-level", err)
	}
}
