package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A Mailchimp audience export arrives as one zip of several CSVs: each
// source picks its member with csv.member, the unsubscribed one as a global
// suppression list. Another list arrives gzipped, with a .csv name. Names
// never decide: the first bytes do.
func TestZippedAndGzippedExports(t *testing.T) {
	dir := t.TempDir()
	archive := zipped(t, map[string]string{
		"members_export_3f2a/subscribed_members_export_3f2a.csv":   "Email Address,First Name\nana@example.be,Ana\nbo@example.be,Bo\n",
		"members_export_3f2a/unsubscribed_members_export_3f2a.csv": "Email Address,First Name,UNSUB_TIME\nbo@example.be,Bo,2024-03-01 10:00:00\n",
		"members_export_3f2a/cleaned_members_export_3f2a.csv":      "Email Address,First Name\n",
	})
	for name, data := range map[string][]byte{"mailchimp-export.zip": archive, "shop.csv": gzipped(t, "email;voornaam\ncy@example.be;Cy\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := filepath.Join(dir, "conversion.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: contacts.contactconverter.io/v1alpha1
kind: ContactConversion
metadata: {name: zipped}
spec:
  defaultLanguage: nl
  sources:
    - name: members
      csv: {path: mailchimp-export.zip, member: "*/subscribed_*.csv"}
    - name: unsubscribed
      csv: {path: mailchimp-export.zip, member: "*/unsubscribed_*.csv"}
      optOuts: {allRows: true, scope: Global}
    - name: shop
      csv: {path: shop.csv}
  database: {sqlite: {persistentVolumeClaim: x}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	db := "sqlite:" + filepath.Join(dir, "contacts.db")
	if _, err := run(t, "convert", "-f", manifest, "--database", db); err != nil {
		t.Fatal(err)
	}
	got := exported(t, db)
	if len(got) != 3 || got["bo@example.be"] == nil || !got["bo@example.be"].GlobalOptOut || got["ana@example.be"].GlobalOptOut || got["cy@example.be"] == nil {
		t.Errorf("contacts %v: want ana and cy, and bo opted out by the unsubscribed member", keys(got))
	}

	// Without csv.member, the run stops at once, naming the field and the
	// archive's files.
	bad := strings.Replace(mustRead(t, manifest), `, member: "*/subscribed_*.csv"`, "", 1)
	if err := os.WriteFile(manifest, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, "convert", "-f", manifest, "--database", db)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "spec.sources[0] (members)") ||
		!strings.Contains(err.Error(), "csv.member: the archive holds 3 files") {
		t.Errorf("err %v (exit %d), want csv.member named, as bad input", err, exitCode(err))
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
