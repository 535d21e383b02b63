// Package csvsafe writes CSV that a spreadsheet opens as text: a cell
// starting with =, +, -, @, a tab or a carriage return would otherwise run
// as a formula (CSV injection), so it gets a leading apostrophe, as OWASP
// advises.
package csvsafe

import (
	"encoding/csv"
	"io"
)

// Writer is a csv.Writer that escapes formula cells.
type Writer struct {
	*csv.Writer
	row []string
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{Writer: csv.NewWriter(w)} }

// Write writes one record, escaping its formula cells.
func (w *Writer) Write(record []string) error {
	w.row = append(w.row[:0], record...)
	for i, cell := range w.row {
		w.row[i] = Cell(cell)
	}
	return w.Writer.Write(w.row)
}

// Cell is a cell's value as written.
func Cell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
