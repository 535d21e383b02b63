package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// IsBusy tells whether err means another writer held the data past the
// wait: SQLite's lock, or PostgreSQL's lock or statement timeout.
func IsBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code() & 0xff
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "55P03" || pe.Code == "57014" // lock_not_available, query_canceled
	}
	return false
}

// conn is what the preference-center code needs of a connection or
// transaction, in either database. Queries use ? placeholders.
type conn interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	query(ctx context.Context, q string, args ...any) (dbRows, error)
	// lockBucket serialises changes to one bucket with the engine's rewrite
	// of the partition holding it.
	lockBucket(ctx context.Context, bucket int) error
	// copies tells whether the database takes rows with COPY (PostgreSQL),
	// and copyFrom streams n rows into table's cols, row i's values
	// appended by values.
	copies() bool
	copyFrom(ctx context.Context, table string, cols []string, n int, values func(i int, dst []any) []any) error
}

type dbRows interface {
	rowScanner
	Close()
}

// queryOne scans the first row of q into dest, reporting whether there was
// one.
func queryOne(ctx context.Context, c conn, q string, args []any, dest ...any) (bool, error) {
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	return true, rows.Scan(dest...)
}

// sqliteConn runs on a database/sql handle or transaction. SQLite
// transactions start IMMEDIATE, so they already hold the write lock.
type sqliteConn struct {
	q interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}
}

func (c sqliteConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := c.q.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c sqliteConn) query(ctx context.Context, q string, args ...any) (dbRows, error) {
	rows, err := c.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (sqliteConn) lockBucket(context.Context, int) error { return nil }

func (sqliteConn) copies() bool { return false }

func (sqliteConn) copyFrom(context.Context, string, []string, int, func(int, []any) []any) error {
	return errors.New("SQLite has no COPY")
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// pgConn runs on a pgx pool or transaction.
type pgConn struct {
	q interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
		Query(context.Context, string, ...any) (pgx.Rows, error)
	}
}

func (c pgConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, rebind(q), args...)
	return tag.RowsAffected(), err
}

func (c pgConn) query(ctx context.Context, q string, args ...any) (dbRows, error) {
	return c.q.Query(ctx, rebind(q), args...)
}

func (pgConn) copies() bool { return true }

func (c pgConn) copyFrom(ctx context.Context, table string, cols []string, n int, values func(i int, dst []any) []any) error {
	tx, ok := c.q.(interface{ Conn() *pgx.Conn })
	if !ok {
		return fmt.Errorf("copying into %s: COPY runs in a transaction", table)
	}
	return copyText(ctx, tx.Conn().PgConn(), table, cols, n, values)
}

// advisoryLockClass namespaces this program's advisory locks.
const advisoryLockClass = 0x4343

func (c pgConn) lockBucket(ctx context.Context, bucket int) error {
	_, err := c.q.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, advisoryLockClass, bucket)
	return err
}

// rebind turns ? placeholders into PostgreSQL's $1, $2...
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
