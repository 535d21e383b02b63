// Command genlists writes a generated tenant: messy, overlapping contact
// lists in mixed encodings and delimiters, plus the ContactConversion that
// merges them. Used by `make bench`.
//
//	go run ./hack/genlists -contacts 1000000 -out /tmp/tenant
package main

import (
	"bufio"
	"compress/gzip"
	"errors"
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
	bigBytes := flag.Int64("gzip-bytes", 0, "instead of a tenant, write one gzipped list, big.csv.gz, of this many bytes before compression, repeating the contacts (an export with its history)")
	flag.Parse()
	var err error
	if *bigBytes > 0 {
		err = writeBig(*out, *bigBytes, *contacts)
	} else {
		err = run(*contacts, *seed, *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genlists:", err)
		os.Exit(1)
	}
}

// writeBig writes big.csv.gz: rows of contacts 0..contacts-1 over and over,
// each always the same, until size bytes.
func writeBig(out string, size int64, contacts int) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(out, "big.csv.gz"))
	if err != nil {
		return err
	}
	defer f.Close()
	zw, err := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(zw, 1<<20)
	n, _ := w.WriteString("email,first_name,last_name,language\n")
	written, rows := int64(n), 0
	langs := []string{"nl", "fr", "en", "de"}
	for ; written < size; rows++ {
		i := rows % contacts
		n, _ := fmt.Fprintf(w, "person%d@example.be,First%d,Last%d,%s\n", i, i%997, i%1009, langs[i%len(langs)])
		written += int64(n)
	}
	if err := errors.Join(w.Flush(), zw.Close()); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "genlists: big.csv.gz: %d rows, %d bytes before compression, %d contacts\n", rows, written, min(rows, contacts))
	return nil
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
