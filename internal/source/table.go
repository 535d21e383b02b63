// Package source reads old contact lists as streams of records: delimited
// text in any of the encodings Excel and mailing tools produce, .xlsx
// workbooks, and PostgreSQL queries. Nothing is loaded whole.
package source

import (
	"fmt"
)

// Table is a stream of records under a header.
type Table interface {
	// Header is the first row.
	Header() []string
	// Next returns the next record and the line it starts on. It returns
	// io.EOF at the end, and a *RowError for a malformed row, after which
	// reading goes on. The record is reused by the next call.
	Next() (record []string, line int, err error)
	// Describe says how the table was read (encoding, delimiter, format).
	Describe() string
	Close() error
}

// Fingerprinter is a table that can tell, before it is read, whether its
// contents changed: Fingerprint is "" when it cannot.
type Fingerprinter interface {
	Fingerprint() string
}

// Fingerprinted gives a table read from known bytes (a ConfigMap's) their
// fingerprint.
type Fingerprinted struct {
	Table
	Print string
}

// Fingerprint implements Fingerprinter.
func (f *Fingerprinted) Fingerprint() string { return f.Print }

// RowError is a malformed row; the table can be read on.
type RowError struct {
	Line int
	Err  error
}

func (e *RowError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *RowError) Unwrap() error { return e.Err }

// FatalError stops a table: the rest of it cannot be trusted.
type FatalError struct {
	Line int
	Err  error
}

func (e *FatalError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *FatalError) Unwrap() error { return e.Err }
