package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/contactconverter/contact-converter/internal/engine"
)

// Every tool's contact export, as that tool writes it (testdata/exporters),
// converted with no columns mapped: the same three people come out of each,
// with their names, language and opt-out, and nothing is rejected.
func TestEveryToolsExportReadsAsItComes(t *testing.T) {
	const (
		amelie = "amelie.dubois@example.fr"
		jan    = "jan.peeters@example.be"
		noel   = "noel.claes@example.be"
	)
	// want is first|last|language|list status, by key.
	withLanguages := func(noelStatus string) map[string]string {
		return map[string]string{amelie: "Amélie|Dubois|fr|subscribed", jan: "Jan|Peeters|nl|subscribed", noel: "Noël|Claes|nl|" + noelStatus}
	}
	defaultLanguage := func(noelStatus string) map[string]string {
		return map[string]string{amelie: "Amélie|Dubois|nl|subscribed", jan: "Jan|Peeters|nl|subscribed", noel: "Noël|Claes|nl|" + noelStatus}
	}
	for _, tc := range []struct {
		file, csv, columns string
		want               map[string]string
	}{
		{file: "excel-windows-semicolon.csv", want: withLanguages("unsubscribed")},
		{file: "excel-windows-sep.csv", want: withLanguages("unsubscribed")},
		{file: "excel-mac-macintosh.csv", want: withLanguages("subscribed")},
		{file: "excel-msdos.csv", csv: ", encoding: ibm850", want: withLanguages("subscribed")},
		{file: "excel-csv-utf8.csv", want: withLanguages("unsubscribed")},
		{file: "excel-unicode-text.txt", want: withLanguages("subscribed")},
		{file: "libreoffice.csv", want: withLanguages("subscribed")},
		{file: "google-sheets.csv", want: withLanguages("unsubscribed")},
		{file: "numbers-mac.csv", want: withLanguages("subscribed")},
		{file: "outlook.csv", want: withLanguages("subscribed")},
		{file: "gmail.csv", want: defaultLanguage("subscribed")},
		{file: "gmail-legacy.csv", want: withLanguages("subscribed")},
		{file: "mailchimp-subscribed.csv", want: defaultLanguage("subscribed")},
		{file: "hubspot.csv", want: withLanguages("unsubscribed")},
		{file: "brevo.csv", want: withLanguages("unsubscribed")},
		{file: "flexmail.csv", columns: ", columns: {optOut: Status}", want: withLanguages("unsubscribed")},
		{file: "listmonk.csv", columns: ", columns: {optOut: status}", want: defaultLanguage("unsubscribed")},
	} {
		t.Run(tc.file, func(t *testing.T) {
			dir := t.TempDir()
			data, err := os.ReadFile(filepath.Join("testdata/exporters", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			manifest := "apiVersion: contacts.contactconverter.io/v1alpha1\nkind: ContactConversion\nmetadata: {name: tool}\nspec:\n" +
				"  defaultLanguage: nl\n  languages: [nl, fr, en]\n  database: {sqlite: {persistentVolumeClaim: x}}\n  sources:\n" +
				"    - {name: list, csv: {path: " + tc.file + tc.csv + "}" + tc.columns + "}\n"
			for name, content := range map[string][]byte{tc.file: data, "conversion.yaml": []byte(manifest)} {
				if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			db := "sqlite:" + filepath.Join(dir, "contacts.db")
			report := filepath.Join(dir, "report.json")
			if _, err := run(t, "convert", "-f", filepath.Join(dir, "conversion.yaml"), "--database", db, "--report", report); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for key, e := range exported(t, db) {
				got[key] = fmt.Sprintf("%s|%s|%s|%s", e.FirstName, e.LastName, e.Language, e.Segments["list"])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("contacts (-want +got):\n%s", diff)
			}
			var rep engine.Report
			raw, _ := os.ReadFile(report)
			if err := json.Unmarshal(raw, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.RowsRead() != 3 || rep.RowsRejected() != 0 || rep.UnknownOptOutValues != 0 {
				t.Errorf("%d rows read, %d rejected, %d opt-out values not understood; want 3, 0, 0\nmapping %q",
					rep.RowsRead(), rep.RowsRejected(), rep.UnknownOptOutValues, rep.Sources[0].Mapping)
			}
		})
	}
}
