package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"time"

	"github.com/pressly/goose/v3"
	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

//go:embed migrations
var migrations embed.FS

// SQLite is the embedded store.
type SQLite struct {
	preferences
	db *sql.DB
}

// OpenSQLite opens and migrates an SQLite file, in WAL mode. durable
// syncs every commit to disk; otherwise a crash of the process loses
// nothing, but one of the machine may lose the last commits.
func OpenSQLite(ctx context.Context, path string, durable bool) (*SQLite, error) {
	q := url.Values{}
	// A conversion waits long for the service's short transactions; the
	// service waits at most as long as a change may (then it answers 503).
	sync, busy := "synchronous(OFF)", "busy_timeout(60000)"
	if durable {
		sync, busy = "synchronous(FULL)", "busy_timeout(2000)"
	}
	// secure_delete overwrites deleted rows, so an erased contact cannot be
	// read back from free pages.
	for _, p := range []string{"journal_mode(WAL)", "secure_delete(ON)", sync, busy, "foreign_keys(1)", "cache_size(-32768)", "temp_store(MEMORY)", "wal_autocheckpoint(16384)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	// One writer: SQLite serialises writes anyway, and one connection keeps
	// transactions from waiting on each other.
	db.SetMaxOpenConns(1)
	if err := migrateSQLite(ctx, db, path); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	s := &SQLite{db: db}
	s.preferences = preferences{db: sqliteConn{db}, json: sqliteJSON, inTx: func(ctx context.Context, fn func(conn) error) error {
		return s.tx(ctx, func(tx *sql.Tx) error { return fn(sqliteConn{tx}) })
	}, afterErasure: func(ctx context.Context) error {
		// The WAL still holds the pages as they were before the erasure:
		// copy it into the database and empty it.
		_, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
		return err
	}}
	return s, nil
}

func migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect, dir string, opts ...goose.ProviderOption) error {
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(dialect, db, sub, opts...)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// migrateSQLite migrates under an exclusive lock on a file beside the
// database, so processes opening a new database at once (a Job and a
// preference center) take turns: the first migrates, the others find it
// done. The lock file is separate because closing a descriptor of the
// database file itself would drop SQLite's own locks.
func migrateSQLite(ctx context.Context, db *sql.DB, path string) error {
	f, err := os.OpenFile(path+"-migrate.lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := flockContext(ctx, f); err != nil {
		return fmt.Errorf("waiting for another process's migration: %w", err)
	}
	defer func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN) }()
	if err := createSQLite(ctx, path); err != nil {
		return err
	}
	return migrate(ctx, db, goose.DialectSQLite3, "migrations/sqlite")
}

// pageSize is a new database's page size. A run writes every page it
// fills through the write-ahead log and back, one call a page: 16 KiB
// pages take a quarter of the calls 4 KiB ones do, and wrote the bench
// tenant 15% faster.
const pageSize = 16384

// createSQLite sets a new database's page size, which only holds before
// the first page is written. The store's own connections cannot: the
// driver sets their journal mode first, and that writes the first page.
// A database that exists already keeps its pages.
func createSQLite(ctx context.Context, path string) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		return nil
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, fmt.Sprintf(`PRAGMA page_size = %d; PRAGMA journal_mode = WAL`, pageSize))
	return err
}

// flockContext takes an exclusive lock on f, polling, until ctx ends.
func flockContext(ctx context.Context, f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EWOULDBLOCK {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close implements Store.
func (s *SQLite) Close() error { return s.db.Close() }

// ReplaceRejected implements Store.
func (s *SQLite) ReplaceRejected(ctx context.Context, next func() (Rejected, error)) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM rejected_rows`); err != nil {
			return err
		}
		// The rows stream in: they are inserted a bounded chunk at a time.
		const chunk = 4096
		rows := make([]Rejected, 0, chunk)
		insert := func() error {
			err := insertRows(ctx, sqliteConn{tx}, "rejected_rows", []string{"source", "line", "reason", "detail"}, len(rows), func(i int, dst []any) []any {
				r := &rows[i]
				return append(dst, r.Source, r.Line, r.Reason, r.Detail)
			}, `ON CONFLICT (source, line) DO UPDATE SET reason = excluded.reason, detail = excluded.detail`)
			rows = rows[:0]
			return err
		}
		for {
			r, err := next()
			if errors.Is(err, io.EOF) {
				return insert()
			}
			if err != nil {
				return err
			}
			if rows = append(rows, r); len(rows) == chunk {
				if err := insert(); err != nil {
					return err
				}
			}
		}
	})
}

// DonePartitions implements Store.
func (s *SQLite) DonePartitions(ctx context.Context, runKey string) (map[int]PartStats, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT part, stats FROM checkpoints WHERE run_key = ?`, runKey)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return readCheckpoints(rows)
}

// WritePartition implements Store. The transaction starts IMMEDIATE, so
// it holds SQLite's write lock: a preference change waits for it, or lands
// before it and is seen by screen.
func (s *SQLite) WritePartition(ctx context.Context, w *PartitionWrite) error {
	lo, hi := BucketRange(w.Part, w.Partitions)
	return s.tx(ctx, func(tx *sql.Tx) error {
		contacts, err := s.screen(ctx, sqliteConn{tx}, w)
		if err != nil {
			return err
		}
		if err := replaceContacts(ctx, sqliteConn{tx}, lo, hi, contacts); err != nil {
			return err
		}
		st, _ := json.Marshal(w.Stats)
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO checkpoints (run_key, part, stats, lo, hi) VALUES (?, ?, ?, ?, ?)`,
			w.RunKey, w.Part, string(st), lo, hi)
		return err
	})
}

// Ping implements Preferences.
func (s *SQLite) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// FinishRun implements Store.
func (s *SQLite) FinishRun(ctx context.Context, runKey string, segments []Segment, report []byte) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM segments`); err != nil {
			return err
		}
		for _, sg := range segments {
			if _, err := tx.ExecContext(ctx, `INSERT INTO segments (name, kind, display_name) VALUES (?, ?, ?)`, sg.Name, sg.Kind, sg.DisplayName); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM checkpoints WHERE run_key <> ?`, runKey); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO runs (run_key, finished_at, report) VALUES (?, ?, ?)`,
			runKey, time.Now().UTC().Format(time.RFC3339), string(report)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO last_run (id, report) VALUES (1, ?)`, string(report))
		return err
	})
}

// LastReport implements Store.
func (s *SQLite) LastReport(ctx context.Context) ([]byte, error) {
	var report string
	err := s.db.QueryRowContext(ctx, `SELECT report FROM last_run WHERE id = 1`).Scan(&report)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return []byte(report), err
}

// SaveShardReport implements Store.
func (s *SQLite) SaveShardReport(ctx context.Context, runKey string, shard, shards int, report []byte) ([][]byte, error) {
	if _, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO shard_reports (run_key, shard, report) VALUES (?, ?, ?)`,
		runKey, shard, string(report)); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT report FROM shard_reports WHERE run_key = ? ORDER BY shard`, runKey)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return readShardReports(rows, shards)
}

// Export implements Store.
func (s *SQLite) Export(ctx context.Context, fn func(*Exported) error) error {
	rows, err := s.db.QueryContext(ctx, contactSelect+` ORDER BY key`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanExported(rows)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Conflicts implements Store.
func (s *SQLite) Conflicts(ctx context.Context, fn func(ConflictRow) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT key, conflicts FROM contacts WHERE conflicts <> '[]' ORDER BY key`)
	if err != nil {
		return err
	}
	defer rows.Close()
	return readConflicts(rows, fn)
}

func (s *SQLite) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

func decodeExported(e *Exported, fields, sources, segments, conflicts []byte) error {
	for _, p := range []struct {
		src []byte
		dst any
	}{{fields, &e.Fields}, {sources, &e.Sources}, {segments, &e.Segments}, {conflicts, &e.Conflicts}} {
		if err := json.Unmarshal(p.src, p.dst); err != nil {
			return err
		}
	}
	return nil
}

// Writers implements Store: SQLite has one writer at a time.
func (s *SQLite) Writers() int { return 1 }
