package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Postgres is the PostgreSQL store; bulk writes use COPY.
type Postgres struct {
	preferences
	pool *pgxpool.Pool
}

// OpenPostgres connects to and migrates a PostgreSQL database.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("database URL %s: %w", redact(url), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to %s: %w", redact(url), err)
	}
	db := stdlib.OpenDBFromPool(pool)
	// Openers of a new database at once (the pods of an Indexed Job, a Job
	// beside the preference center) take turns on an advisory lock: the
	// first migrates, the others find it done.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 600))
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db, goose.DialectPostgres, "migrations/postgres", goose.WithSessionLocker(locker)); err != nil {
		_ = db.Close()
		pool.Close()
		return nil, fmt.Errorf("migrating %s: %w", redact(url), err)
	}
	_ = db.Close()
	return &Postgres{pool: pool, preferences: preferences{db: pgConn{pool}, json: postgresJSON, inTx: func(ctx context.Context, fn func(conn) error) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return fn(pgConn{tx}) })
	}}}, nil
}

// Close implements Store.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// ReplaceRejected implements Store.
func (p *Postgres) ReplaceRejected(ctx context.Context, next func() (Rejected, error)) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM rejected_rows`); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"rejected_rows"}, []string{"source", "line", "reason", "detail"},
			pgx.CopyFromFunc(func() ([]any, error) {
				r, err := next()
				if errors.Is(err, io.EOF) {
					return nil, nil
				}
				if err != nil {
					return nil, err
				}
				return []any{r.Source, r.Line, r.Reason, r.Detail}, nil
			}))
		return err
	})
}

// DonePartitions implements Store.
func (p *Postgres) DonePartitions(ctx context.Context, runKey string) (map[int]PartStats, error) {
	rows, err := p.pool.Query(ctx, `SELECT part, stats FROM checkpoints WHERE run_key = $1`, runKey)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return readCheckpoints(rows)
}

// WritePartition implements Store. It holds the advisory locks of the
// partition's buckets, so a preference change to one of them waits for it,
// or lands before it and is seen by screen.
func (p *Postgres) WritePartition(ctx context.Context, w *PartitionWrite) error {
	lo, hi := BucketRange(w.Part, w.Partitions)
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, b) FROM generate_series($2::int, $3::int - 1) b`,
			advisoryLockClass, lo, hi); err != nil {
			return err
		}
		contacts, err := p.screen(ctx, pgConn{tx}, w)
		if err != nil {
			return err
		}
		if err := replaceContacts(ctx, pgConn{tx}, lo, hi, contacts); err != nil {
			return err
		}
		st, _ := json.Marshal(w.Stats)
		_, err = tx.Exec(ctx, `INSERT INTO checkpoints (run_key, part, stats, lo, hi) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (run_key, part) DO UPDATE SET stats = EXCLUDED.stats`, w.RunKey, w.Part, string(st), lo, hi)
		return err
	})
}

// Ping implements Preferences.
func (p *Postgres) Ping(ctx context.Context) error { return p.pool.Ping(ctx) }

// finishLock is the advisory lock (in advisoryLockClass; buckets take the
// keys from 0) that serialises FinishRun.
const finishLock = -1

// FinishRun implements Store. The shards of a run finish at about the same
// moment: they take turns, so none inserts segments another has just put
// back.
func (p *Postgres) FinishRun(ctx context.Context, runKey string, segments []Segment, report []byte) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if err := (pgConn{tx}).lockBucket(ctx, finishLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM segments`); err != nil {
			return err
		}
		for _, sg := range segments {
			if _, err := tx.Exec(ctx, `INSERT INTO segments (name, kind, display_name) VALUES ($1, $2, $3)`, sg.Name, sg.Kind, sg.DisplayName); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM checkpoints WHERE run_key <> $1`, runKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO runs (run_key, finished_at, report) VALUES ($1, $2, $3)
			ON CONFLICT (run_key) DO UPDATE SET finished_at = EXCLUDED.finished_at, report = EXCLUDED.report`,
			runKey, time.Now().UTC().Format(time.RFC3339), string(report)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO last_run (id, report) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET report = EXCLUDED.report`, string(report))
		return err
	})
}

// LastReport implements Store.
func (p *Postgres) LastReport(ctx context.Context) ([]byte, error) {
	var report string
	err := p.pool.QueryRow(ctx, `SELECT report FROM last_run WHERE id = 1`).Scan(&report)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return []byte(report), err
}

// SaveShardReport implements Store.
func (p *Postgres) SaveShardReport(ctx context.Context, runKey string, shard, shards int, report []byte) ([][]byte, error) {
	if _, err := p.pool.Exec(ctx, `INSERT INTO shard_reports (run_key, shard, report) VALUES ($1, $2, $3)
		ON CONFLICT (run_key, shard) DO UPDATE SET report = EXCLUDED.report`, runKey, shard, string(report)); err != nil {
		return nil, err
	}
	rows, err := p.pool.Query(ctx, `SELECT report FROM shard_reports WHERE run_key = $1 ORDER BY shard`, runKey)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return readShardReports(rows, shards)
}

// Export implements Store. Keys sort by bytes (COLLATE "C"), as in SQLite.
func (p *Postgres) Export(ctx context.Context, fn func(*Exported) error) error {
	rows, err := p.pool.Query(ctx, contactSelect+` ORDER BY key COLLATE "C"`)
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
func (p *Postgres) Conflicts(ctx context.Context, fn func(ConflictRow) error) error {
	rows, err := p.pool.Query(ctx, `SELECT key, conflicts::text FROM contacts WHERE conflicts <> '[]' ORDER BY key COLLATE "C"`)
	if err != nil {
		return err
	}
	defer rows.Close()
	return readConflicts(rows, fn)
}

// Writers implements Store. Two: while one partition's transaction waits
// on this process (screening, encoding), the other's keeps the server busy.
func (p *Postgres) Writers() int { return 2 }
