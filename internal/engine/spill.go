package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/contactconverter/contact-converter/internal/merge"
	"github.com/contactconverter/contact-converter/internal/store"
)

// partitionOf places a key in one of n partitions.
func partitionOf(key string, n int) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum64() % uint64(n))
}

// spill holds rows on disk, one file per partition, so memory stays bounded
// whatever the size of the lists.
type spill struct {
	dir   string
	files []*os.File
	bufs  []*bufio.Writer
	rows  []int64
	enc   []byte
}

func newSpill(dir string, partitions int) (*spill, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spill folder: %w", err)
	}
	s := &spill{dir: dir, files: make([]*os.File, partitions), bufs: make([]*bufio.Writer, partitions), rows: make([]int64, partitions)}
	return s, nil
}

func (s *spill) path(part int) string {
	return filepath.Join(s.dir, fmt.Sprintf("part-%04d.rows", part))
}

// add appends a row to its partition's file.
func (s *spill) add(part int, r *merge.Row) error {
	if s.bufs[part] == nil {
		f, err := os.Create(s.path(part))
		if err != nil {
			return fmt.Errorf("spill: %w", err)
		}
		s.files[part], s.bufs[part] = f, bufio.NewWriterSize(f, 16<<10)
	}
	s.enc = encodeRow(s.enc[:0], r)
	s.rows[part]++
	_, err := s.bufs[part].Write(s.enc)
	return err
}

// finish flushes and closes every file.
func (s *spill) finish() error {
	var errs []error
	for i, b := range s.bufs {
		if b != nil {
			errs = append(errs, b.Flush(), s.files[i].Close())
		}
	}
	return errors.Join(errs...)
}

// remove deletes the files.
func (s *spill) remove() { _ = os.RemoveAll(s.dir) }

// load reads a partition's rows, sorted by key then source then line.
func (s *spill) load(part int) ([]merge.Row, error) {
	if s.rows[part] == 0 {
		return nil, nil
	}
	f, err := os.Open(s.path(part))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	rows := make([]merge.Row, 0, s.rows[part])
	for {
		r, err := decodeRow(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("spill partition %d: %w", part, err)
		}
		rows = append(rows, r)
	}
	// Rows were spilled in source then line order; a stable sort by key
	// keeps that order within each key.
	slices.SortStableFunc(rows, func(a, b merge.Row) int { return strings.Compare(a.Key, b.Key) })
	return rows, nil
}

func encodeRow(b []byte, r *merge.Row) []byte {
	b = binary.AppendUvarint(b, uint64(r.Source))
	b = binary.AppendUvarint(b, uint64(r.Line))
	for _, s := range []string{r.Key, r.Email, r.FirstName, r.LastName, r.Language} {
		b = appendString(b, s)
	}
	if r.OptOut {
		b = append(b, 1)
	} else {
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

func decodeRow(br *bufio.Reader) (merge.Row, error) {
	var r merge.Row
	src, err := binary.ReadUvarint(br)
	if err != nil {
		return r, err
	}
	line, err := binary.ReadUvarint(br)
	if err != nil {
		return r, unexpected(err)
	}
	r.Source, r.Line = int(src), int(line)
	for _, dst := range []*string{&r.Key, &r.Email, &r.FirstName, &r.LastName, &r.Language} {
		if *dst, err = readString(br); err != nil {
			return r, err
		}
	}
	flag, err := br.ReadByte()
	if err != nil {
		return r, unexpected(err)
	}
	r.OptOut = flag == 1
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return r, unexpected(err)
	}
	if n > 0 {
		r.Fields = make(map[string]string, n)
		for range n {
			k, err := readString(br)
			if err != nil {
				return r, err
			}
			if r.Fields[k], err = readString(br); err != nil {
				return r, err
			}
		}
	}
	return r, nil
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
	f    *os.File
	w    *bufio.Writer
	buf  []byte
}

func newRejectSpill(dir string) (*rejectSpill, error) {
	path := filepath.Join(dir, "rejected.rows")
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	return &rejectSpill{path: path, f: f, w: bufio.NewWriterSize(f, 32<<10)}, nil
}

func (s *rejectSpill) add(r store.Rejected) error {
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
