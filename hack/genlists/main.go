// Command genlists writes a generated tenant: messy, overlapping contact
// lists in mixed encodings and delimiters, plus the ContactConversion that
// merges them. Used by `make bench`.
//
//	go run ./hack/genlists -contacts 1000000 -out /tmp/tenant
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/contactconverter/contact-converter/internal/listgen"
)

func main() {
	contacts := flag.Int("contacts", 1_000_000, "people in the population")
	seed := flag.Uint64("seed", 1, "random seed; the same seed writes the same files")
	out := flag.String("out", "bench-tenant", "folder to write")
	flag.Parse()
	if err := run(*contacts, *seed, *out); err != nil {
		fmt.Fprintln(os.Stderr, "genlists:", err)
		os.Exit(1)
	}
}

func run(contacts int, seed uint64, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	t := listgen.Tenant{Seed: seed, Contacts: contacts, Lists: listgen.DefaultLists}
	total := 0
	var sources []string
	for _, l := range t.Lists {
		f, err := os.Create(filepath.Join(out, l.Name+".csv"))
		if err != nil {
			return err
		}
		n, err := t.Write(f, l)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		total += n
		fmt.Fprintf(os.Stderr, "genlists: %s.csv: %d rows (%s, delimiter %q)\n", l.Name, n, l.Encoding, l.Delimiter)
		sources = append(sources, fmt.Sprintf("    - name: %s\n      csv: {path: %s.csv}", l.Name, l.Name))
	}
	manifest := fmt.Sprintf(`apiVersion: contacts.contactconverter.io/v1alpha1
kind: ContactConversion
metadata:
  name: generated
spec:
  defaultLanguage: nl
  languages: [nl, fr, en, de]
  languageAliases: {vlaams: nl}
  sources:
%s
  segments:
    - name: french-speakers
      match: {language: fr}
  conflicts: {policy: Manual}
  database:
    sqlite: {persistentVolumeClaim: contacts}
`, strings.Join(sources, "\n"))
	fmt.Fprintf(os.Stderr, "genlists: %d rows for %d people in %s\n", total, contacts, out)
	return os.WriteFile(filepath.Join(out, "conversion.yaml"), []byte(manifest), 0o644)
}
