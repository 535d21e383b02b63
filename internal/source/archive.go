package source

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
)

// DefaultMaxUncompressed caps what a compressed list or an archive member
// may expand to when csv.maxUncompressedSize is not set.
const DefaultMaxUncompressed int64 = 16 << 30

var (
	gzipMagic = []byte{0x1f, 0x8b}
	// emptyZipMagic starts an archive without a file: its end record.
	emptyZipMagic = []byte("PK\x05\x06")
)

func isZip(head []byte) bool {
	return bytes.HasPrefix(head, zipMagic) || bytes.HasPrefix(head, emptyZipMagic)
}

// TooLargeError is a compressed list or archive member expanding beyond the
// cap: a zip bomb, or a cap to raise.
type TooLargeError struct {
	Member string // empty for a gzip stream
	Size   int64  // the member's declared size; 0 when only reading told
	Cap    int64
}

func (e *TooLargeError) Error() string {
	if e.Member != "" && e.Size > 0 {
		return fmt.Sprintf("archive too large: %s expands to %d bytes, over csv.maxUncompressedSize (%d bytes)", e.Member, e.Size, e.Cap)
	}
	return fmt.Sprintf("archive too large: it expands beyond csv.maxUncompressedSize (%d bytes)", e.Cap)
}

// open reads a list in whichever format its first bytes show: gzip, a zip
// archive (an .xlsx workbook, or files such as a Mailchimp export), or
// delimited text. Names never decide. depth bounds nesting.
func open(r io.Reader, opts CSVOptions, depth int) (Table, error) {
	br := bufioReader(r)
	head, _ := br.Peek(len(zipMagic))
	switch {
	case depth > 2 && (bytes.HasPrefix(head, gzipMagic) || isZip(head)):
		return nil, errors.New("archives nested more than twice")
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading the gzip stream: %w", err)
		}
		t, err := open(&capped{r: zr, left: maxUncompressed(opts), cap: maxUncompressed(opts)}, opts, depth+1)
		if err != nil {
			return nil, err
		}
		return &wrapped{Table: t, what: "gzip, " + t.Describe(), closer: zr, compressed: true}, nil
	case isZip(head):
		ra, size, err := randomAccess(r, br, opts.SpoolDir)
		if err != nil {
			return nil, err
		}
		t, err := openZip(ra, size, opts, depth)
		if spool, ok := ra.(*os.File); ok && any(ra) != any(r) {
			if err != nil {
				_ = spool.Close()
				return nil, err
			}
			return &wrapped{Table: t, what: t.Describe(), closer: spool}, nil
		}
		return t, err
	}
	return OpenCSV(br, opts)
}

func openZip(ra io.ReaderAt, size int64, opts CSVOptions, depth int) (Table, error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return nil, fmt.Errorf("reading the zip archive: %w", err)
	}
	if isWorkbook(zr) {
		return OpenXLSX(io.NewSectionReader(ra, 0, size))
	}
	return openMember(zr, opts, depth)
}

func maxUncompressed(opts CSVOptions) int64 {
	if opts.MaxUncompressed > 0 {
		return opts.MaxUncompressed
	}
	return DefaultMaxUncompressed
}

// randomAccess gives a zip's random access: the reader itself when it has
// it (a file, a ConfigMap's bytes), else what buffered holds (a stream from
// a store, a zip inside gzip, a workbook inside a zip), copied into an
// unlinked file in spoolDir, or into memory without one.
func randomAccess(r, buffered io.Reader, spoolDir string) (io.ReaderAt, int64, error) {
	switch v := r.(type) {
	case *os.File:
		st, err := v.Stat()
		if err != nil {
			return nil, 0, err
		}
		return v, st.Size(), nil
	case *bytes.Reader:
		return v, v.Size(), nil
	}
	if spoolDir != "" {
		f, err := os.CreateTemp(spoolDir, "archive-*")
		if err != nil {
			return nil, 0, err
		}
		_ = os.Remove(f.Name()) // unlinked: gone when the process ends
		n, err := io.Copy(f, buffered)
		if err != nil {
			_ = f.Close()
			return nil, 0, err
		}
		return f, n, nil
	}
	data, err := io.ReadAll(buffered)
	if err != nil {
		return nil, 0, err
	}
	return bytes.NewReader(data), int64(len(data)), nil
}

// isWorkbook tells an .xlsx workbook from an archive of files.
func isWorkbook(zr *zip.Reader) bool {
	var types, book bool
	for _, f := range zr.File {
		types = types || f.Name == "[Content_Types].xml"
		book = book || f.Name == "xl/workbook.xml"
	}
	return types && book
}

// openMember opens the archive's file csv.member names (a name or a
// glob), or its only file.
func openMember(zr *zip.Reader, opts CSVOptions, depth int) (Table, error) {
	var files []*zip.File
	var names []string
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || strings.HasPrefix(f.Name, "__MACOSX/") || path.Base(f.Name) == ".DS_Store" {
			continue
		}
		files = append(files, f)
		names = append(names, f.Name)
	}
	var picked []*zip.File
	switch {
	case len(files) == 0:
		return nil, errors.New("the archive holds no file")
	case opts.Member == "" && len(files) == 1:
		picked = files
	case opts.Member == "":
		return nil, fmt.Errorf("csv.member: the archive holds %d files (%s): name the one to read", len(files), strings.Join(names, ", "))
	default:
		for _, f := range files {
			if ok, _ := path.Match(opts.Member, f.Name); ok || f.Name == opts.Member {
				picked = append(picked, f)
			}
		}
	}
	switch {
	case len(picked) == 0:
		return nil, fmt.Errorf("csv.member: no file in the archive matches %q; it holds %s", opts.Member, strings.Join(names, ", "))
	case len(picked) > 1:
		var matched []string
		for _, f := range picked {
			matched = append(matched, f.Name)
		}
		slices.Sort(matched)
		return nil, fmt.Errorf("csv.member: %q matches %d files (%s): name one", opts.Member, len(picked), strings.Join(matched, ", "))
	}
	f, limit := picked[0], maxUncompressed(opts)
	if f.UncompressedSize64 > uint64(limit) {
		return nil, &TooLargeError{Member: f.Name, Size: int64(f.UncompressedSize64), Cap: limit}
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("reading %s in the archive: %w", f.Name, err)
	}
	// The declared size may lie: reading is capped too.
	t, err := open(&capped{r: rc, left: limit, cap: limit}, opts, depth+1)
	if err != nil {
		_ = rc.Close()
		return nil, fmt.Errorf("%s in the archive: %w", f.Name, err)
	}
	return &wrapped{Table: t, what: "zip member " + f.Name + ", " + t.Describe(), closer: rc, compressed: f.Method != zip.Store}, nil
}

// capped fails a read past cap bytes.
type capped struct {
	r         io.Reader
	left, cap int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := io.ReadFull(c.r, one[:]); n > 0 {
			return 0, &TooLargeError{Cap: c.cap}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// wrapped is a table read from inside a compressed stream or an archive.
type wrapped struct {
	Table
	what       string
	closer     io.Closer
	compressed bool
}

func (w *wrapped) Describe() string { return w.what }

func (w *wrapped) Close() error {
	return errors.Join(w.Table.Close(), w.closer.Close())
}

// CompressedExpansion is how many times its size a compressed list is
// taken to expand to: delimited text compresses four to eight times.
const CompressedExpansion = 5

// ExpandedSize is the size to plan for (the engine's partition count) of a
// table read from size bytes: more than size when the bytes were
// compressed.
func ExpandedSize(t Table, size int64) int64 {
	for ; t != nil; t = unwrap(t) {
		if w, ok := t.(*wrapped); ok && w.compressed {
			return size * CompressedExpansion
		}
	}
	return size
}

// unwrap returns the table t reads through, nil when t is the data itself.
func unwrap(t Table) Table {
	switch v := t.(type) {
	case *wrapped:
		return v.Table
	case *Files:
		return v.cur
	case *Fingerprinted:
		return v.Table
	}
	return nil
}

// TextSize is what a table read from size bytes holds once decoded, to
// weigh the work of reading it: its expanded size, scaled by how much text
// the bytes its detection sampled held (half, for UTF-16).
func TextSize(t Table, size int64) int64 {
	size = ExpandedSize(t, size)
	for ; t != nil; t = unwrap(t) {
		if c, ok := t.(*CSV); ok && c.raw > 0 {
			return size * int64(c.text) / int64(c.raw)
		}
	}
	return size
}
