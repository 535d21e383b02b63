package source

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/text/encoding/unicode"
)

const plainList = "email;first\njan@example.be;Jan\nels@example.be;Els\n"

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipOf makes an archive of name → content, in order, as a mail tool's
// export does (Mailchimp: one CSV per audience status, and a folder).
func zipOf(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		f, err := w.Create(files[i])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(files[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rowsOf reads a whole table: its header, then its rows as readAll has them.
func rowsOf(t *testing.T, tb Table) string {
	t.Helper()
	defer tb.Close()
	rows, rowErrs, err := readAll(t, tb)
	if err != nil || len(rowErrs) > 0 {
		t.Fatalf("row errors %v, %v", rowErrs, err)
	}
	return strings.Join(tb.Header(), "|") + "\n" + strings.Join(rows, "\n")
}

// Compressed and archived lists are recognised by their first bytes, not
// their names, and read as the list inside.
func TestArchivesAndCompression(t *testing.T) {
	want := "email|first\n02:jan@example.be|Jan\n03:els@example.be|Els"
	mailchimp := zipOf(t,
		"members_export_3f2a/", "",
		"members_export_3f2a/subscribed_members_export_3f2a.csv", "email;first\nana@example.be;Ana\n",
		"members_export_3f2a/unsubscribed_members_export_3f2a.csv", plainList,
		"members_export_3f2a/cleaned_members_export_3f2a.csv", "email;first\nbad@example.be;Bad\n")
	for _, tc := range []struct {
		name string
		data []byte
		opts CSVOptions
	}{
		{"gzip", gz(t, []byte(plainList)), CSVOptions{}},
		{"a zip of one list", zipOf(t, "export.csv", plainList), CSVOptions{}},
		{"a zip of one list, with macOS's resource folder", zipOf(t, "export.csv", plainList, "__MACOSX/._export.csv", "\x00\x05"), CSVOptions{}},
		{"a member by name", mailchimp, CSVOptions{Member: "members_export_3f2a/unsubscribed_members_export_3f2a.csv"}},
		{"a member by glob", mailchimp, CSVOptions{Member: "*/unsubscribed_*.csv"}},
		{"a gzipped zip", gz(t, zipOf(t, "export.csv", plainList)), CSVOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := Open(bytes.NewReader(tc.data), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := rowsOf(t, tb); got != want {
				t.Errorf("read\n%s\nwant\n%s", got, want)
			}
		})
	}
	t.Run("a workbook, gzipped or zipped", func(t *testing.T) {
		book := workbook(t, [][]any{{"email", "first"}, {"jan@example.be", "Jan"}, {"els@example.be", "Els"}})
		for _, data := range [][]byte{gz(t, book), zipOf(t, "export.xlsx", string(book))} {
			tb, err := Open(bytes.NewReader(data), CSVOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := rowsOf(t, tb); got != want {
				t.Errorf("read\n%s\nwant\n%s", got, want)
			}
		}
	})
}

// What cannot be read says what to write in the spec.
func TestArchiveErrors(t *testing.T) {
	mailchimp := zipOf(t, "subscribed.csv", plainList, "unsubscribed.csv", plainList)
	bomb := gz(t, bytes.Repeat([]byte("a"), 1<<20))
	for _, tc := range []struct {
		name string
		data []byte
		opts CSVOptions
		want string
	}{
		{"several members, none named", mailchimp, CSVOptions{},
			`csv.member: the archive holds 2 files (subscribed.csv, unsubscribed.csv): name the one to read`},
		{"a member that is not there", mailchimp, CSVOptions{Member: "cleaned*.csv"},
			`csv.member: no file in the archive matches "cleaned*.csv"; it holds subscribed.csv, unsubscribed.csv`},
		{"a glob matching two", mailchimp, CSVOptions{Member: "*.csv"},
			`csv.member: "*.csv" matches 2 files (subscribed.csv, unsubscribed.csv): name one`},
		{"a member too large for the cap", zipOf(t, "big.csv", strings.Repeat("x", 4096)), CSVOptions{MaxUncompressed: 1024},
			`archive too large: big.csv expands to 4096 bytes, over csv.maxUncompressedSize (1024 bytes)`},
		{"a gzip bomb", bomb, CSVOptions{MaxUncompressed: 64 << 10},
			`archive too large: it expands beyond csv.maxUncompressedSize (65536 bytes)`},
		{"an empty archive", zipOf(t), CSVOptions{}, `the archive holds no file`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := Open(bytes.NewReader(tc.data), tc.opts)
			for err == nil {
				_, _, err = tb.Next() // a stream's cap is met while reading
				if errors.Is(err, io.EOF) {
					t.Fatalf("read to the end, want %q", tc.want)
				}
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
		})
	}
}

// A compressed list counts for more than its bytes when the engine sizes
// its partitions: CSV expands four to eight times.
func TestExpandedSize(t *testing.T) {
	plain, err := Open(strings.NewReader(plainList), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	packed, err := Open(bytes.NewReader(gz(t, []byte(plainList))), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := OpenFiles([]File{{Name: "a.csv.gz", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz(t, []byte(plainList)))), nil
	}}}, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		t    Table
		want int64
	}{
		{"plain", plain, 1000},
		{"gzip", packed, 1000 * CompressedExpansion},
		{"gzip among files", files, 1000 * CompressedExpansion},
		{"fingerprinted gzip", &Fingerprinted{Table: packed}, 1000 * CompressedExpansion},
	} {
		if got := ExpandedSize(tc.t, 1000); got != tc.want {
			t.Errorf("%s: ExpandedSize = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// What a list weighs for the reading work is its text once decoded: a
// UTF-16 file holds half as much text as its bytes, wrapped or not.
func TestTextSize(t *testing.T) {
	open := func(data []byte) Table {
		t.Helper()
		tb, err := Open(bytes.NewReader(data), CSVOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tb
	}
	wide := utf16(unicode.LittleEndian, plainList)
	for _, tc := range []struct {
		name string
		t    Table
		want int64
	}{
		{"utf-8", open([]byte(plainList)), 1000},
		// The byte-order mark is the one character that is not text.
		{"utf-16", open(wide), 1000 * int64(len(plainList)) / int64(len(wide))},
		{"gzip of utf-16", open(gz(t, wide)), 1000 * CompressedExpansion * int64(len(plainList)) / int64(len(wide))},
		{"fingerprinted utf-16", &Fingerprinted{Table: open(wide)}, 1000 * int64(len(plainList)) / int64(len(wide))},
	} {
		if got := TextSize(tc.t, 1000); got != tc.want {
			t.Errorf("%s: TextSize = %d, want %d", tc.name, got, tc.want)
		}
	}
}
