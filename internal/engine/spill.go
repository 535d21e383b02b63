package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"

	"github.com/contactconverter/contact-converter/internal/merge"
	"github.com/contactconverter/contact-converter/internal/store"
)

// spill holds rows on disk, one file per partition and writer, so memory
// stays bounded whatever the size of the lists. Each reading goroutine has
// its own writer.
type spill struct {
	dir        string
	partitions int
	writers    []*spillWriter
}

// spillWriter is one goroutine's set of partition files.
type spillWriter struct {
	dir   string
	id    int
	files []*os.File
	bufs  []*bufio.Writer
	rows  []int64
	enc   []byte
}

// newSpill makes its own folder inside parent, and removes only that.
func newSpill(parent string, partitions, writers int) (*spill, error) {
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, fmt.Errorf("spill folder: %w", err)
	}
	dir, err := os.MkdirTemp(parent, "run-")
	if err != nil {
		return nil, fmt.Errorf("spill folder: %w", err)
	}
	s := &spill{dir: dir, partitions: partitions}
	for w := range writers {
		s.writers = append(s.writers, &spillWriter{dir: dir, id: w, files: make([]*os.File, partitions),
			bufs: make([]*bufio.Writer, partitions), rows: make([]int64, partitions)})
	}
	return s, nil
}

func (w *spillWriter) path(part int) string {
	return filepath.Join(w.dir, fmt.Sprintf("part-%04d-w%d.rows", part, w.id))
}

// add appends a row to its partition's file.
func (w *spillWriter) add(part int, r *merge.Row) error {
	if w.bufs[part] == nil {
		f, err := os.Create(w.path(part))
		if err != nil {
			return fmt.Errorf("spill: %w", err)
		}
		w.files[part], w.bufs[part] = f, bufio.NewWriterSize(f, 16<<10)
	}
	w.enc = encodeRow(w.enc[:0], r)
	w.rows[part]++
	var n [binary.MaxVarintLen64]byte
	if _, err := w.bufs[part].Write(n[:binary.PutUvarint(n[:], uint64(len(w.enc)))]); err != nil {
		return err
	}
	_, err := w.bufs[part].Write(w.enc)
	return err
}

// finish flushes and closes every file, and lets its buffer go.
func (s *spill) finish() error {
	var errs []error
	for _, w := range s.writers {
		for i, b := range w.bufs {
			if b != nil {
				errs = append(errs, b.Flush(), w.files[i].Close())
				w.bufs[i], w.files[i] = nil, nil
			}
		}
	}
	return errors.Join(errs...)
}

// remove deletes the files.
func (s *spill) remove() { _ = os.RemoveAll(s.dir) }

// appendPart appends a partition's spilled rows, every writer's file, to
// buf, and counts them.
func (s *spill) appendPart(buf []byte, part int) ([]byte, int64, error) {
	var rows int64
	for _, w := range s.writers {
		if w.rows[part] == 0 {
			continue
		}
		var err error
		if buf, err = appendFile(buf, w.path(part)); err != nil {
			return buf, 0, fmt.Errorf("spill partition %d: %w", part, err)
		}
		rows += w.rows[part]
	}
	return buf, rows, nil
}

// load reads a partition's rows from every writer, sorted by key, then
// source, then line.
func (s *spill) load(part int) ([]merge.Row, error) {
	data, n, err := s.appendPart(nil, part)
	if err != nil || n == 0 {
		return nil, err
	}
	rows, err := decodeRows(data, make([]merge.Row, 0, n))
	if err != nil {
		return nil, fmt.Errorf("spill partition %d: %w", part, err)
	}
	return sortByKey(rows), nil
}

// appendFile appends a file's bytes to buf.
func appendFile(buf []byte, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return buf, err
	}
	buf = slices.Grow(buf, int(st.Size()))
	n, err := io.ReadFull(f, buf[len(buf):len(buf)+int(st.Size())])
	return buf[:len(buf)+n], err
}

// decodeRows appends the rows of spilled bytes (each a varint length and a
// record). The rows' strings share data's memory, without a copy: the
// caller gives data up, and nothing writes to it again.
func decodeRows(data []byte, rows []merge.Row) ([]merge.Row, error) {
	d := decoder{s: unsafe.String(unsafe.SliceData(data), len(data))}
	for len(d.s) > 0 {
		n := d.uvarint()
		if d.err != nil || n > uint64(len(d.s)) {
			return nil, io.ErrUnexpectedEOF
		}
		row, err := decodeRow(d.s[:n])
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
		d.s = d.s[n:]
	}
	return rows, nil
}

// sortByKey orders rows by bucket, key, source and line, whichever writer
// spilled them: a key's rows end up together, and contacts reach the
// database in its (bucket, key) order, so inserts append to the B-tree.
// Sorting small indexes, then moving each row once, in place, beats
// moving rows at every swap, and needs no second copy of them.
func sortByKey(rows []merge.Row) []merge.Row {
	idx := make([]int32, len(rows))
	buckets := make([]uint16, len(rows))
	for i := range idx {
		idx[i] = int32(i)
		buckets[i] = uint16(store.Bucket(rows[i].Key))
	}
	slices.SortFunc(idx, func(a, b int32) int {
		if buckets[a] != buckets[b] {
			return int(buckets[a]) - int(buckets[b])
		}
		ra, rb := &rows[a], &rows[b]
		if c := strings.Compare(ra.Key, rb.Key); c != 0 {
			return c
		}
		if ra.Source != rb.Source {
			return ra.Source - rb.Source
		}
		return ra.Line - rb.Line
	})
	// Row i takes row idx[i]'s place: follow each cycle of that
	// permutation, in place, rather than copying the rows.
	for i := range idx {
		if idx[i] < 0 {
			continue
		}
		first, j := rows[i], i
		for {
			k := int(idx[j])
			idx[j] = -1
			if k == i {
				rows[j] = first
				break
			}
			rows[j], j = rows[k], k
		}
	}
	return rows
}

func encodeRow(b []byte, r *merge.Row) []byte {
	b = binary.AppendUvarint(b, uint64(r.Source))
	b = binary.AppendUvarint(b, uint64(r.Line))
	for _, s := range []string{r.Key, r.Email, r.FirstName, r.LastName, r.Language} {
		b = appendString(b, s)
	}
	// 0: no opt-out; 1: an opt-out; 2: an opt-out with its time and reason.
	switch {
	case r.OptOut && (r.OptOutAt != "" || r.OptOutReason != ""):
		b = appendString(appendString(append(b, 2), r.OptOutAt), r.OptOutReason)
	case r.OptOut:
		b = append(b, 1)
	default:
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Fields)))
	names := make([]string, 0, len(r.Fields))
	for k := range r.Fields {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		b = appendString(b, k)
		b = appendString(b, r.Fields[k])
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeRow reads a row from one record; its strings share the record's
// memory, so a row costs one allocation (and its fields map).
func decodeRow(rec string) (merge.Row, error) {
	var r merge.Row
	d := decoder{s: rec}
	r.Source, r.Line = int(d.uvarint()), int(d.uvarint())
	for _, dst := range []*string{&r.Key, &r.Email, &r.FirstName, &r.LastName, &r.Language} {
		*dst = d.str()
	}
	switch d.byte() {
	case 1:
		r.OptOut = true
	case 2:
		r.OptOut, r.OptOutAt, r.OptOutReason = true, d.str(), d.str()
	}
	if n := d.uvarint(); n > 0 && d.err == nil {
		r.Fields = make(map[string]string, n)
		for range n {
			k := d.str()
			r.Fields[k] = d.str()
		}
	}
	return r, d.err
}

type decoder struct {
	s   string
	err error
}

func (d *decoder) uvarint() uint64 {
	var x uint64
	var shift uint
	for i := 0; i < len(d.s) && i < binary.MaxVarintLen64; i++ {
		b := d.s[i]
		if b < 0x80 {
			d.s = d.s[i+1:]
			return x | uint64(b)<<shift
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	d.fail()
	return 0
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.s)) {
		d.fail()
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.s) == 0 {
		d.fail()
		return 0
	}
	b := d.s[0]
	d.s = d.s[1:]
	return b
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = io.ErrUnexpectedEOF
	}
	d.s = ""
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// rejectSpill keeps rejected rows on disk until they are written, so millions
// of bad rows cost no memory.
type rejectSpill struct {
	path string
	rows int64
	f    *os.File
	w    *bufio.Writer
	buf  []byte
}

func newRejectSpill(dir string, id int) (*rejectSpill, error) {
	path := filepath.Join(dir, fmt.Sprintf("rejected-w%d.rows", id))
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	return &rejectSpill{path: path, f: f, w: bufio.NewWriterSize(f, 32<<10)}, nil
}

func (s *rejectSpill) add(r store.Rejected) error {
	s.rows++
	s.buf = binary.AppendUvarint(s.buf[:0], uint64(r.Line))
	for _, v := range []string{r.Source, r.Reason, r.Detail} {
		s.buf = appendString(s.buf, v)
	}
	_, err := s.w.Write(s.buf)
	return err
}

func (s *rejectSpill) finish() error { return errors.Join(s.w.Flush(), s.f.Close()) }

// each opens the file and returns a reader of its rows for the store.
func (s *rejectSpill) each() (func() (store.Rejected, error), func() error, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	next := func() (store.Rejected, error) {
		var r store.Rejected
		line, err := binary.ReadUvarint(br)
		if err != nil {
			return r, err // io.EOF at the end
		}
		r.Line = int(line)
		for _, dst := range []*string{&r.Source, &r.Reason, &r.Detail} {
			if *dst, err = readString(br); err != nil {
				return r, err
			}
		}
		return r, nil
	}
	return next, f.Close, nil
}

func readString(br *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return "", unexpected(err)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(br, buf); err != nil {
		return "", unexpected(err)
	}
	return string(buf), nil
}
