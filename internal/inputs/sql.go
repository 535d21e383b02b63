package inputs

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contactconverter/contact-converter/internal/source"
)

// sqlTable streams a query's rows as a table; column names are the header.
type sqlTable struct {
	conn   *pgx.Conn
	tx     pgx.Tx
	rows   pgx.Rows
	header []string
	rec    []string
	line   int
}

// OpenSQL runs a query on PostgreSQL and streams its rows. The query runs
// in a read-only transaction, so it cannot change the source whatever it
// says, and is cancelled by the server past timeout.
func OpenSQL(ctx context.Context, uri string, timeout time.Duration, query string) (source.Table, int64, error) {
	conn, err := pgx.Connect(ctx, uri)
	if err != nil {
		return nil, 0, fmt.Errorf("connecting to the source database: %w", err)
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err == nil {
		_, err = tx.Exec(ctx, "SELECT set_config('statement_timeout', $1, true)", fmt.Sprint(timeout.Milliseconds()))
	}
	if err != nil {
		_ = conn.Close(ctx)
		return nil, 0, fmt.Errorf("starting a read-only transaction: %w", err)
	}
	rows, err := tx.Query(ctx, query)
	if err != nil {
		_ = conn.Close(ctx)
		return nil, 0, fmt.Errorf("running the query: %w", err)
	}
	t := &sqlTable{conn: conn, tx: tx, rows: rows, line: 1}
	for _, fd := range rows.FieldDescriptions() {
		t.header = append(t.header, fd.Name)
	}
	t.rec = make([]string, len(t.header))
	return t, -1, nil
}

func (t *sqlTable) Header() []string { return t.header }

func (t *sqlTable) Describe() string { return "PostgreSQL query" }

// Next implements source.Table; lines count rows from 2, as in a file with a
// header.
func (t *sqlTable) Next() ([]string, int, error) {
	if !t.rows.Next() {
		if err := t.rows.Err(); err != nil {
			return nil, t.line, err
		}
		return nil, t.line, io.EOF
	}
	t.line++
	vals, err := t.rows.Values()
	if err != nil {
		return nil, t.line, &source.RowError{Line: t.line, Err: err}
	}
	for i, v := range vals {
		t.rec[i] = cellString(v)
	}
	return t.rec, t.line, nil
}

func cellString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case time.Time:
		return x.Format(time.RFC3339)
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

func (t *sqlTable) Close() error {
	t.rows.Close()
	_ = t.tx.Rollback(context.Background())
	return t.conn.Close(context.Background())
}

// SQLTimeout bounds a SQL source's query, rows streamed included.
const SQLTimeout = time.Hour
