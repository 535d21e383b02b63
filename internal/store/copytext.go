package store

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// copyText streams n rows into table's cols with COPY in PostgreSQL's text
// format, row i's values appended by values. The rows are written straight
// into the protocol's buffer, a value at a time, with none of pgx's
// per-type encoding: strings, integers and booleans are all a partition
// holds, and this is most of the client's work in a write.
func copyText(ctx context.Context, pc *pgconn.PgConn, table string, cols []string, n int, values func(i int, dst []any) []any) error {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	r := &copyRows{n: n, values: values}
	_, err := pc.CopyFrom(ctx, r, "COPY "+pgx.Identifier{table}.Sanitize()+" ("+strings.Join(quoted, ", ")+") FROM STDIN")
	if err != nil {
		return fmt.Errorf("copying into %s: %w", table, err)
	}
	return nil
}

// copyRows is the rows' text, read as the COPY sends it.
type copyRows struct {
	n, next int
	values  func(i int, dst []any) []any
	row     []any
	buf     []byte
	// pending is what of the last row did not fit the last read.
	pending []byte
}

func (r *copyRows) Read(p []byte) (int, error) {
	k := copy(p, r.pending)
	r.pending = r.pending[k:]
	for k < len(p) && r.next < r.n {
		r.row = r.values(r.next, r.row[:0])
		r.next++
		var err error
		if r.buf, err = appendCopyRow(r.buf[:0], r.row); err != nil {
			return k, fmt.Errorf("row %d: %w", r.next, err)
		}
		c := copy(p[k:], r.buf)
		k += c
		r.pending = r.buf[c:]
	}
	if k == 0 {
		return 0, io.EOF
	}
	return k, nil
}

// appendCopyRow appends one row of COPY's text format: the values
// separated by tabs, ended by a line feed.
func appendCopyRow(b []byte, row []any) ([]byte, error) {
	for i, v := range row {
		if i > 0 {
			b = append(b, '\t')
		}
		switch v := v.(type) {
		case string:
			b = appendCopyString(b, v)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case bool:
			if v {
				b = append(b, 't')
			} else {
				b = append(b, 'f')
			}
		default:
			return b, fmt.Errorf("column %d: a %T has no COPY text form", i+1, v)
		}
	}
	return append(b, '\n'), nil
}

// appendCopyString appends s with the backslash escapes COPY's text format
// needs: for the backslash itself and the tab, line feed and carriage
// return that would end a value or a row. No other byte is special.
func appendCopyString(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '\\':
			esc = '\\'
		case '\t':
			esc = 't'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '\\', esc)
		start = i + 1
	}
	return append(b, s[start:]...)
}
