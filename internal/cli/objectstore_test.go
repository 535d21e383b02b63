package cli

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/contactconverter/contact-converter/internal/engine"
	"github.com/contactconverter/contact-converter/internal/objectstore"
	"github.com/contactconverter/contact-converter/internal/s3test"
	"github.com/contactconverter/contact-converter/internal/source"
)

func gzipped(t *testing.T, text string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write([]byte(text))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipped(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for name, body := range files {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.Write([]byte(body))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Lists in an S3-compatible store: a glob over a month's exports (one of
// them gzipped) read as one list, and a Mailchimp zip whose members are two
// sources. The report counts each file's rows and shows its checksum.
func TestListsFromAnObjectStore(t *testing.T) {
	s := s3test.Start(t, "exports")
	client, err := objectstore.New(objectstore.Location{Endpoint: s.Endpoint, Bucket: "exports", PathStyle: true},
		&objectstore.Keys{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{
		"2024/01.csv":    []byte("email;voornaam\nan@example.be;An\nbo@example.be;Bo\n"),
		"2024/02.csv.gz": gzipped(t, "email;voornaam\ncy@example.be;Cy\n"),
		"2024/03.csv":    []byte("email;voornaam\ndi@example.be;Di\nan@example.be;An\n"),
		"2023/12.csv":    []byte("email;voornaam\nold@example.be;Old\n"),
		"mailchimp.zip": zipped(t, map[string]string{
			"members_export/subscribed_members_export.csv":   "Email Address,First Name\nev@example.be,Ev\n",
			"members_export/unsubscribed_members_export.csv": "Email Address,First Name\nbo@example.be,Bo\n",
		}),
		"bomb.csv.gz": gzipped(t, "email\n"+strings.Repeat("x", 1<<20)),
	}
	for key, data := range objects {
		if _, err := client.Upload(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	secret := filepath.Join(dir, "keys.yaml")
	writeFile(t, secret, "apiVersion: v1\nkind: Secret\nmetadata: {name: s3-keys}\nstringData:\n  AWS_ACCESS_KEY_ID: "+s.AccessKeyID+"\n  AWS_SECRET_ACCESS_KEY: "+s.SecretAccessKey+"\n")
	at := `endpoint: ` + s.Endpoint + `, bucket: exports, pathStyle: true, secretRef: {name: s3-keys}`
	manifest := filepath.Join(dir, "conversion.yaml")
	writeFile(t, manifest, `apiVersion: contacts.contactconverter.io/v1alpha1
kind: ContactConversion
metadata: {name: from-s3}
spec:
  defaultLanguage: nl
  sources:
    - name: monthly
      csv: {s3: {`+at+`, key: "2024/*"}}
      columns: {firstName: voornaam}
    - name: members
      csv: {s3: {`+at+`, key: mailchimp.zip}, member: "*/subscribed_*.csv"}
    - name: unsubscribed
      csv: {s3: {`+at+`, key: mailchimp.zip}, member: "*/unsubscribed_*.csv"}
      optOuts: {allRows: true, scope: Global}
  database: {sqlite: {persistentVolumeClaim: x}}
`)
	db := "sqlite:" + filepath.Join(dir, "contacts.db")
	report := filepath.Join(dir, "report.json")
	if _, err := run(t, "convert", "-f", manifest, "--objects", secret, "--database", db, "--allow-url-cidrs", "127.0.0.0/8", "--report", report); err != nil {
		t.Fatal(err)
	}
	got := exported(t, db)
	if d := cmp.Diff([]string{"an@example.be", "bo@example.be", "cy@example.be", "di@example.be", "ev@example.be"}, sortedKeys(got)); d != "" {
		t.Errorf("contacts (-want +got):\n%s", d)
	}
	if !got["bo@example.be"].GlobalOptOut || got["an@example.be"].GlobalOptOut {
		t.Error("bo is not opted out by the unsubscribed member, or an is")
	}
	var rep engine.Report
	if err := json.Unmarshal([]byte(mustRead(t, report)), &rep); err != nil {
		t.Fatal(err)
	}
	want := []source.FileCount{
		{Name: "2024/01.csv", Bytes: int64(len(objects["2024/01.csv"])), SHA256: sha(objects["2024/01.csv"]), FirstLine: 1, Rows: 2},
		{Name: "2024/02.csv.gz", Bytes: int64(len(objects["2024/02.csv.gz"])), SHA256: sha(objects["2024/02.csv.gz"]), FirstLine: 4, Rows: 1},
		{Name: "2024/03.csv", Bytes: int64(len(objects["2024/03.csv"])), SHA256: sha(objects["2024/03.csv"]), FirstLine: 6, Rows: 2},
	}
	if d := cmp.Diff(want, rep.Sources[0].Files); d != "" {
		t.Errorf("the glob's files in the report (-want +got):\n%s", d)
	}
	if rep.Sources[0].RowsRead != 5 {
		t.Errorf("monthly: %d rows read, want 5", rep.Sources[0].RowsRead)
	}

	// Run again: the objects' ETags and sizes are the same, so nothing is
	// read; a replaced object, or --reread, reads them again.
	again := func(extra ...string) engine.Report {
		t.Helper()
		args := append([]string{"convert", "-f", manifest, "--objects", secret, "--database", db, "--allow-url-cidrs", "127.0.0.0/8", "--report", report}, extra...)
		if _, err := run(t, args...); err != nil {
			t.Fatal(err)
		}
		var r engine.Report
		if err := json.Unmarshal([]byte(mustRead(t, report)), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := again(); !r.Unchanged || r.Contacts != rep.Contacts || r.InputKey != rep.InputKey || rep.InputKey == "" {
		t.Errorf("an unchanged run: unchanged %v, %d contacts, input key %q (first run: %d, %q)", r.Unchanged, r.Contacts, r.InputKey, rep.Contacts, rep.InputKey)
	}
	if r := again("--reread"); r.Unchanged || r.Sources[0].RowsRead != 5 {
		t.Errorf("--reread: unchanged %v, %d rows read", r.Unchanged, r.Sources[0].RowsRead)
	}
	replaced := []byte("email;voornaam\ndi@example.be;Di\nan@example.be;An\nfe@example.be;Fe\n")
	if _, err := client.Upload(context.Background(), "2024/03.csv", bytes.NewReader(replaced), int64(len(replaced))); err != nil {
		t.Fatal(err)
	}
	if r := again(); r.Unchanged || r.Sources[0].RowsRead != 6 || r.Sources[0].Files[2].SHA256 != sha(replaced) {
		t.Errorf("after an object changed: unchanged %v, %d rows read, want a new read of 6", r.Unchanged, r.Sources[0].RowsRead)
	}

	// What a person must fix stops the run as bad input, naming the field.
	for _, tc := range []struct{ name, from, to, want string }{
		{"a wrong secret key", "AWS_SECRET_ACCESS_KEY: " + s.SecretAccessKey, "AWS_SECRET_ACCESS_KEY: wrong", "csv.s3.secretRef: access denied to bucket \"exports\""},
		{"no such bucket", "bucket: exports", "bucket: archive", "csv.s3.bucket: bucket \"archive\" not found"},
		{"no such key", "key: mailchimp.zip}, member: \"*/subscribed", "key: mailchimp-2.zip}, member: \"*/subscribed", "csv.s3.key: no object \"mailchimp-2.zip\""},
		{"a member not in the archive", "*/subscribed_*.csv", "*/cleaned_*.csv", "csv.member: no file in the archive matches \"*/cleaned_*.csv\""},
		{"a zip bomb", "key: \"2024/*\"}}\n      columns: {firstName: voornaam}", "key: bomb.csv.gz}, maxUncompressedSize: 64Ki}", "archive too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file, m := secret, manifest
			if strings.HasPrefix(tc.from, "AWS_") {
				file = filepath.Join(t.TempDir(), "keys.yaml")
				writeFile(t, file, strings.Replace(mustRead(t, secret), tc.from, tc.to, 1))
			} else {
				m = filepath.Join(t.TempDir(), "conversion.yaml")
				writeFile(t, m, strings.Replace(mustRead(t, manifest), tc.from, tc.to, 1))
			}
			_, err := run(t, "convert", "-f", m, "--objects", file, "--database", db, "--allow-url-cidrs", "127.0.0.0/8")
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v (exit %d), want bad input saying %q", err, exitCode(err), tc.want)
			}
		})
	}
}

// csv.path takes a glob too.
func TestAPathGlobReadsFilesInNameOrder(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"b.csv": "email\nb@example.be\n", "a.csv": "email\na@example.be\n", "notes.txt": "x"} {
		writeFile(t, filepath.Join(dir, "lists", name), body)
	}
	manifest := filepath.Join(dir, "conversion.yaml")
	writeFile(t, manifest, "apiVersion: contacts.contactconverter.io/v1alpha1\nkind: ContactConversion\nmetadata: {name: glob}\nspec:\n  defaultLanguage: nl\n  sources:\n    - name: all\n      csv: {path: \"lists/*.csv\"}\n  database: {sqlite: {persistentVolumeClaim: x}}\n")
	report := filepath.Join(dir, "report.json")
	if _, err := run(t, "convert", "-f", manifest, "--database", "sqlite:"+filepath.Join(dir, "c.db"), "--report", report); err != nil {
		t.Fatal(err)
	}
	var rep engine.Report
	if err := json.Unmarshal([]byte(mustRead(t, report)), &rep); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range rep.Sources[0].Files {
		names = append(names, filepath.Base(f.Name))
	}
	if d := cmp.Diff([]string{"a.csv", "b.csv"}, names); d != "" {
		t.Errorf("files (-want +got):\n%s", d)
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := keys(m)
	slices.Sort(out)
	return out
}
