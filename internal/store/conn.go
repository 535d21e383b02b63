package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
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
	// insert inserts n rows into table's cols, row i's values appended by
	// values, and ends the statement with tail (ON CONFLICT). n is at least
	// 1.
	insert(ctx context.Context, table string, cols []string, n int, values func(i int, dst []any) []any, tail string) error
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

// eachRow calls fn with the scanner of each row of q.
func eachRow(ctx context.Context, c conn, q string, args []any, fn func(scan func(...any) error) error) error {
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// sqliteConn runs on a database/sql handle or transaction. SQLite
// transactions start IMMEDIATE, so they already hold the write lock.
type sqliteConn struct {
	q interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
		PrepareContext(context.Context, string) (*sql.Stmt, error)
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

// insert takes the rows in multi-row VALUES statements. The statement of
// a full chunk is prepared once: SQLite compiles every row of a VALUES list,
// and compiling it again for each chunk took a sixth of the inserts' time.
// A goroutine gathers the next chunk's values while SQLite takes this one.
func (c sqliteConn) insert(ctx context.Context, table string, cols []string, n int, values func(i int, dst []any) []any, tail string) error {
	step := chunkParams / len(cols)
	statement := func(rows int) string {
		return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " + placeholders(len(cols), rows) + " " + tail
	}
	var full *sql.Stmt
	defer func() {
		if full != nil {
			_ = full.Close()
		}
	}()
	for args := range chunksAhead(ctx, n, step, values) {
		var err error
		switch rows := len(args) / len(cols); {
		case rows < step:
			_, err = c.q.ExecContext(ctx, statement(rows), args...)
		case full == nil:
			if full, err = c.q.PrepareContext(ctx, statement(step)); err == nil {
				_, err = full.ExecContext(ctx, args...)
			}
		default:
			_, err = full.ExecContext(ctx, args...)
		}
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// chunksAhead yields the values of rows [0, n), step rows at a time,
// gathered by a goroutine one chunk ahead of the loop that takes them. Two
// slices take turns: the loop may keep a chunk until it asks for the next.
// values never runs once the loop is over.
func chunksAhead(ctx context.Context, n, step int, values func(i int, dst []any) []any) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		ready, free := make(chan []any, 1), make(chan []any, 2)
		free <- nil
		free <- nil
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			defer close(ready)
			for lo := 0; lo < n; lo += step {
				var args []any
				select {
				case args = <-free:
				case <-stop:
					return
				case <-ctx.Done():
					return
				}
				for i := lo; i < min(lo+step, n); i++ {
					args = values(i, args)
				}
				select {
				case ready <- args:
				case <-stop:
					return
				}
			}
		}()
		defer func() {
			close(stop)
			<-done
		}()
		for args := range ready {
			if !yield(args) {
				return
			}
			free <- args[:0]
		}
	}
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

// insert streams the rows with COPY: straight into table for a plain
// insert, else into a temporary table like it, emptied by the insert that
// takes them (and at commit).
func (c pgConn) insert(ctx context.Context, table string, cols []string, n int, values func(i int, dst []any) []any, tail string) error {
	tx, ok := c.q.(interface{ Conn() *pgx.Conn })
	if !ok {
		return fmt.Errorf("copying into %s: COPY runs in a transaction", table)
	}
	pc := tx.Conn().PgConn()
	if tail == "" {
		return copyText(ctx, pc, table, cols, n, values)
	}
	list := strings.Join(cols, ", ")
	stage := "stage_" + table
	if _, err := c.exec(ctx, "CREATE TEMP TABLE IF NOT EXISTS "+stage+" ON COMMIT DELETE ROWS AS SELECT "+list+
		" FROM "+table+" WITH NO DATA"); err != nil {
		return err
	}
	if err := copyText(ctx, pc, stage, cols, n, values); err != nil {
		return err
	}
	_, err := c.exec(ctx, "WITH staged AS (DELETE FROM "+stage+" RETURNING "+list+") INSERT INTO "+table+" ("+list+") SELECT "+list+
		" FROM staged "+tail)
	return err
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
