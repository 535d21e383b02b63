package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contactconverter/contact-converter/internal/engine"
	"github.com/contactconverter/contact-converter/internal/pgtest"
	"github.com/contactconverter/contact-converter/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden export")

const tenant = "../../config/samples/tenant"

// run executes the command line and returns its standard output.
func run(t testing.TB, args ...string) (string, error) {
	t.Helper()
	out, errOut, err := runBoth(args...)
	if err != nil {
		t.Logf("stderr:\n%s", errOut)
	}
	return out, err
}

// runBoth executes the command line and returns its standard output and
// standard error.
func runBoth(args ...string) (stdout, stderr string, err error) {
	cmd := NewRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestConvertGoldenTenant(t *testing.T) {
	dir := t.TempDir()
	testGoldenTenant(t, "sqlite:"+filepath.Join(dir, "contacts.db"))
}

// PostgreSQL ends in the same export as SQLite.
func TestConvertGoldenTenantPostgres(t *testing.T) {
	server := pgtest.Start(t)
	testGoldenTenant(t, pgtest.NewDatabase(t, server, "acme"))
}

func testGoldenTenant(t *testing.T, db string) {
	dir := t.TempDir()
	report := filepath.Join(dir, "report.json")
	if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", db, "--report", report); err != nil {
		t.Fatal(err)
	}
	got, err := run(t, "export", "--database", db)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join(tenant, "expected-export.jsonl")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("export differs from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", golden, got, want)
	}

	var rep engine.Report
	data, _ := os.ReadFile(report)
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.RowsRead() != 21 || rep.RowsRejected() != 3 || rep.Contacts != 10 || rep.Unresolved != 1 || rep.LanguageDefault != 4 {
		t.Errorf("report: read %d rejected %d contacts %d unresolved %d default language %d",
			rep.RowsRead(), rep.RowsRejected(), rep.Contacts, rep.Unresolved, rep.LanguageDefault)
	}
	for _, s := range rep.Sources {
		if s.RowsRead != s.RowsMerged+s.RowsRejected+s.RowsSuppressed {
			t.Errorf("source %s: %d read != %d merged + %d rejected + %d suppressed", s.Name, s.RowsRead, s.RowsMerged, s.RowsRejected, s.RowsSuppressed)
		}
	}
	if s := rep.Sources[2]; s.Format != "CSV, utf-16le, delimiter tab" {
		t.Errorf("webshop read as %q", s.Format)
	}
	if s := rep.Sources[0]; s.Format != `CSV, windows-1252, delimiter ';'` || !strings.Contains(strings.Join(s.Mapping, ","), `firstName <- "Voornaam" (recognised header)`) {
		t.Errorf("salon read as %q with mapping %q", s.Format, s.Mapping)
	}

	// Re-running the same conversion gives an identical database.
	if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", db); err != nil {
		t.Fatal(err)
	}
	again, _ := run(t, "export", "--database", db)
	if again != got {
		t.Errorf("a second run changed the export")
	}

	// A run with fewer partitions than the last leaves nothing behind.
	if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", db, "--partitions", "512"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", db); err != nil {
		t.Fatal(err)
	}
	if again, _ := run(t, "export", "--database", db); again != got {
		t.Errorf("changing the partition count changed the export")
	}

	// An erased contact is never imported again, and each skipped row counts.
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Suppress(context.Background(), "kim@example.nl", "test"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", db, "--report", report); err != nil {
		t.Fatal(err)
	}
	after, _ := run(t, "export", "--database", db)
	data, _ = os.ReadFile(report)
	rep = engine.Report{}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	suppressed := int64(0)
	for _, s := range rep.Sources {
		suppressed += s.RowsSuppressed
	}
	if strings.Contains(after, "kim@example.nl") || rep.Contacts != 9 || suppressed != 2 {
		t.Errorf("after erasure: kim exported=%v, contacts %d, suppressed rows %d (want absent, 9, 2)",
			strings.Contains(after, "kim@example.nl"), rep.Contacts, suppressed)
	}
}

func TestConvertDryRunWritesNothing(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "contacts.db")
	if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", "sqlite:"+db, "--dry-run"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("dry run created %s", db)
	}
}

func TestConvertBadInputExitsWithTheFinalCode(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(filepath.Join(dir, "list.csv"), []byte("Naam;Taal\nJan;nl\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeErr := os.WriteFile(manifest, []byte(`apiVersion: contacts.contactconverter.io/v1alpha1
kind: ContactConversion
metadata: {name: x}
spec:
  defaultLanguage: nl
  sources: [{name: l, csv: {path: list.csv}}]
  database: {sqlite: {persistentVolumeClaim: x}}
`), 0o644)
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	_, err := run(t, "convert", "-f", manifest, "--database", "sqlite:"+filepath.Join(dir, "db"))
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), `spec.sources[0] (l): no column holds the unique key "email"`) {
		t.Errorf("err %v (exit %d), want a key-column error with exit code 2", err, exitCode(err))
	}
}

func TestConflictsCommand(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "contacts.db")
	if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", db); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "conflicts", "--database", db)
	if err != nil {
		t.Fatal(err)
	}
	want := "key,field,values,resolved\nmarie.dubois@example.fr,firstName,Marie | Marie-Claire,false\n"
	if out != want {
		t.Errorf("conflicts:\n%s\nwant\n%s", out, want)
	}
	all, _ := run(t, "conflicts", "--database", db, "--all")
	if !strings.Contains(all, "luc.janssens@example.be,firstName,Luc | Lucas,true") {
		t.Errorf("--all lacks the resolved conflict:\n%s", all)
	}
}
