package source

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// filesOf makes a source's files from name → bytes, read as a stream (no
// random access), as from an object store.
func filesOf(named ...any) []File {
	var out []File
	for i := 0; i < len(named); i += 2 {
		data := named[i+1].([]byte)
		out = append(out, File{Name: named[i].(string), Size: int64(len(data)), Open: func() (io.ReadCloser, error) {
			return io.NopCloser(struct{ io.Reader }{bytes.NewReader(data)}), nil
		}})
	}
	return out
}

func sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Several files are one list: read in the order given, under one header,
// each whatever its bytes show, with line numbers that run on and a count,
// size and checksum per file.
func TestFilesAreReadAsOneList(t *testing.T) {
	first := []byte("email;first\njan@example.be;Jan\nels@example.be;Els\n")
	second := gz(t, []byte("email;first\nan@example.be;An\n"))
	third := zipOf(t, "export/members.csv", "email;first\npiet@example.be;Piet\nbad\"quote;x\nlast@example.be;Last\n")
	spool := t.TempDir()
	tb, err := OpenFiles(filesOf("2024-01.csv", first, "2024-02.csv.gz", second, "2024-03.zip", third), CSVOptions{Delimiter: ';', SpoolDir: spool})
	if err != nil {
		t.Fatal(err)
	}
	rows, rowErrs, err := readAll(t, tb)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"02:jan@example.be|Jan", "03:els@example.be|Els", "05:an@example.be|An", "07:piet@example.be|Piet", "09:last@example.be|Last"}, rows); d != "" {
		t.Errorf("rows (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]int{8}, rowErrs); d != "" {
		t.Errorf("malformed rows (-want +got):\n%s", d)
	}
	want := []FileCount{
		{Name: "2024-01.csv", Bytes: int64(len(first)), SHA256: sum(first), FirstLine: 1, Rows: 2},
		{Name: "2024-02.csv.gz", Bytes: int64(len(second)), SHA256: sum(second), FirstLine: 4, Rows: 1},
		{Name: "2024-03.zip", Bytes: int64(len(third)), SHA256: sum(third), FirstLine: 6, Rows: 3},
	}
	if d := cmp.Diff(want, tb.Counts()); d != "" {
		t.Errorf("counts (-want +got):\n%s", d)
	}
	if got := tb.Describe(); !strings.HasPrefix(got, "3 files, ") {
		t.Errorf("Describe() = %q", got)
	}
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Errorf("the spooled archive is left behind: %v", left)
	}
}

func TestFilesNeedTheSameColumns(t *testing.T) {
	tb, err := OpenFiles(filesOf("a.csv", []byte("email;first\njan@example.be;Jan\n"), "b.csv", []byte("email;voornaam\nan@example.be;An\n")), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	_, _, err = readAll(t, tb)
	var fatal *FatalError
	if !errors.As(err, &fatal) || fatal.Line != 3 || !strings.Contains(err.Error(), "b.csv: its columns (email, voornaam) differ from a.csv's (email, first)") {
		t.Errorf("err = %v, want a fatal error at line 3 naming both files' columns", err)
	}
}

// Reading through Files costs no allocation per record beyond the format's
// own: a list of millions of rows goes through it.
func TestFilesAddNoAllocationPerRecord(t *testing.T) {
	var b strings.Builder
	b.WriteString("email;first\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "contact%d@example.be;Name%d\n", i, i)
	}
	data := []byte(b.String())
	perRecord := func(open func() (Table, error)) float64 {
		tb, err := open()
		if err != nil {
			t.Fatal(err)
		}
		defer tb.Close()
		return testing.AllocsPerRun(2000, func() {
			if _, _, err := tb.Next(); err != nil {
				t.Fatal(err)
			}
		})
	}
	csvAlone := perRecord(func() (Table, error) { return Open(bytes.NewReader(data), CSVOptions{Delimiter: ';'}) })
	files := perRecord(func() (Table, error) { return OpenFiles(filesOf("list.csv", data), CSVOptions{Delimiter: ';'}) })
	if files > csvAlone {
		t.Errorf("a record through Files costs %.1f allocations, %.1f more than the CSV reader's own", files, files-csvAlone)
	}
}
