package source

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
)

// File is one file of a source, as a glob over a bucket or a folder finds
// them.
type File struct {
	Name string
	Size int64
	// Version tells this file's content from another under the same name
	// without reading it: an object's ETag, a file's modification time.
	// Empty: unknown.
	Version string
	// Open starts reading the file's bytes. Its errors are returned as
	// they are, so the caller decides what they mean.
	Open func() (io.ReadCloser, error)
}

// FileCount is one file's share of a source, as the report shows it.
type FileCount struct {
	Name string `json:"name"`
	// Bytes and SHA256 are the file's as stored (compressed, if it is): the
	// checksum `upload` prints.
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// FirstLine is the source's line number of the file's first line (its
	// header): line numbers run on across the files, in name order.
	FirstLine int   `json:"firstLine"`
	Rows      int64 `json:"rows"`
}

// Files is a table made of files read one after the other, each in
// whichever format its bytes show, all under the first file's header.
type Files struct {
	files []File
	opts  CSVOptions
	cur   Table
	raw   *hashing
	at    int // index of cur in files
	// offset turns the current file's line numbers into the source's.
	offset int
	last   int
	counts []FileCount
}

// OpenFiles opens the first file and reads its header; the others are
// opened in turn. Each must have the same columns.
func OpenFiles(files []File, opts CSVOptions) (*Files, error) {
	if len(files) == 0 {
		return nil, errors.New("no file to read")
	}
	f := &Files{files: files, opts: opts, at: -1}
	if err := f.next(); err != nil {
		return nil, err
	}
	return f, nil
}

// next closes the current file and opens the following one.
func (f *Files) next() error {
	if f.cur != nil {
		if err := f.finish(); err != nil {
			return err
		}
	}
	f.at++
	file := f.files[f.at]
	rc, err := file.Open()
	if err != nil {
		return err
	}
	f.raw = &hashing{r: rc, closer: rc, h: sha256.New()}
	t, err := Open(f.raw, f.opts)
	if err != nil {
		_ = rc.Close()
		return fmt.Errorf("%s: %w", file.Name, err)
	}
	f.offset = f.last
	f.last = f.offset + 1 // the header
	f.counts = append(f.counts, FileCount{Name: file.Name, FirstLine: f.offset + 1})
	if f.at > 0 && !slices.Equal(t.Header(), f.cur.Header()) {
		_ = t.Close()
		_ = rc.Close()
		return &FatalError{Line: f.offset + 1, Err: fmt.Errorf("%s: its columns (%s) differ from %s's (%s): the files a glob matches are read as one list and need the same columns",
			file.Name, strings.Join(t.Header(), ", "), f.files[0].Name, strings.Join(f.cur.Header(), ", "))}
	}
	if f.cur != nil {
		_ = f.cur.Close()
	}
	f.cur = t
	return nil
}

// finish reads what the format left of the file, for its checksum, and
// records its count.
func (f *Files) finish() error {
	if _, err := io.Copy(io.Discard, f.raw); err != nil {
		return fmt.Errorf("%s: %w", f.files[f.at].Name, err)
	}
	c := &f.counts[f.at]
	c.Bytes, c.SHA256 = f.raw.n, hex.EncodeToString(f.raw.h.Sum(nil))
	err := f.raw.closer.Close()
	f.raw.closer = io.NopCloser(nil)
	return err
}

// Header is the first file's header.
func (f *Files) Header() []string { return f.cur.Header() }

// Next returns the next record of the current file, or of the next one.
func (f *Files) Next() ([]string, int, error) {
	for {
		rec, line, err := f.cur.Next()
		if line > 0 {
			f.last = max(f.last, f.offset+line)
		}
		if err == nil {
			f.counts[f.at].Rows++
			return rec, f.offset + line, nil
		}
		// Declared past the records' path: errors.As moves them to the heap.
		var rowErr *RowError
		var fatal *FatalError
		switch {
		case errors.As(err, &rowErr):
			f.counts[f.at].Rows++
			return nil, 0, &RowError{Line: f.offset + rowErr.Line, Err: rowErr.Err}
		case errors.As(err, &fatal):
			return nil, 0, &FatalError{Line: f.offset + fatal.Line, Err: fmt.Errorf("%s: %w", f.files[f.at].Name, fatal.Err)}
		case !errors.Is(err, io.EOF):
			return nil, 0, fmt.Errorf("%s: %w", f.files[f.at].Name, err)
		case f.at == len(f.files)-1:
			if ferr := f.finish(); ferr != nil {
				return nil, 0, ferr
			}
			return nil, 0, io.EOF
		}
		if err := f.next(); err != nil {
			return nil, 0, err
		}
	}
}

// Fingerprint identifies the files' contents without reading them: their
// names, sizes and versions. Empty when a version is unknown.
func (f *Files) Fingerprint() string {
	h := sha256.New()
	for _, file := range f.files {
		if file.Version == "" {
			return ""
		}
		fmt.Fprintf(h, "%q %d %q\n", file.Name, file.Size, file.Version)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Counts are the files read so far.
func (f *Files) Counts() []FileCount { return f.counts }

// Describe says how the first file was read, and how many there are.
func (f *Files) Describe() string {
	if len(f.files) == 1 {
		return f.cur.Describe()
	}
	return fmt.Sprintf("%d files, %s", len(f.files), f.cur.Describe())
}

// Close closes the file being read.
func (f *Files) Close() error {
	return errors.Join(f.cur.Close(), f.raw.closer.Close())
}

// hashing counts and hashes the bytes read through it. It hides any
// random access of what it reads, so every byte goes through the hash: a
// zip read this way is spooled (CSVOptions.SpoolDir).
type hashing struct {
	r      io.Reader
	closer io.Closer
	h      hash.Hash
	n      int64
}

func (h *hashing) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}
