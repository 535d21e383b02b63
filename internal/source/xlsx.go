package source

import (
	"errors"
	"fmt"
	"io"

	"github.com/xuri/excelize/v2"
)

// zipMagic starts every zip archive, and so every .xlsx workbook.
var zipMagic = []byte("PK\x03\x04")

// XLSX reads the first sheet of a workbook, row by row.
type XLSX struct {
	f      *excelize.File
	rows   *excelize.Rows
	sheet  string
	header []string
	line   int
}

// OpenXLSX opens a workbook from r (which excelize reads whole, as a zip
// needs random access) and reads its first sheet's header.
func OpenXLSX(r io.Reader) (*XLSX, error) {
	f, err := excelize.OpenReader(r)
	if err != nil {
		return nil, fmt.Errorf("reading the workbook: %w", err)
	}
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		_ = f.Close()
		return nil, errors.New("the workbook has no sheet")
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("reading sheet %q: %w", sheets[0], err)
	}
	x := &XLSX{f: f, rows: rows, sheet: sheets[0]}
	rec, _, err := x.Next()
	if err != nil {
		_ = x.Close()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("sheet %q is empty: a header row is needed", sheets[0])
		}
		return nil, err
	}
	x.header = append([]string(nil), rec...)
	return x, nil
}

// Header implements Table.
func (x *XLSX) Header() []string { return x.header }

// Describe implements Table.
func (x *XLSX) Describe() string { return fmt.Sprintf("XLSX, sheet %q", x.sheet) }

// Next implements Table. Empty rows are skipped; lines are sheet row numbers.
func (x *XLSX) Next() ([]string, int, error) {
	for x.rows.Next() {
		x.line++
		cols, err := x.rows.Columns()
		if err != nil {
			return nil, x.line, &RowError{Line: x.line, Err: err}
		}
		if len(cols) == 0 {
			continue
		}
		return cols, x.line, nil
	}
	if err := x.rows.Error(); err != nil {
		return nil, x.line, &FatalError{Line: x.line, Err: err}
	}
	return nil, x.line, io.EOF
}

// Close implements Table.
func (x *XLSX) Close() error {
	_ = x.rows.Close()
	return x.f.Close()
}

// Open reads a list in whichever format its first bytes show: gzip, a zip
// archive of files, an .xlsx workbook, or delimited text.
func Open(r io.Reader, opts CSVOptions) (Table, error) {
	return open(r, opts, 0)
}
