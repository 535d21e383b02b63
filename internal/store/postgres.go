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

	"github.com/contactconverter/contact-converter/internal/merge"
)

// Postgres is the PostgreSQL store; bulk writes use COPY.
type Postgres struct {
	pool *pgxpool.Pool
}

// OpenPostgres connects to and migrates a PostgreSQL database.
func OpenPostgres(ctx context.Context, url string) (Store, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("database URL %s: %w", redact(url), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to %s: %w", redact(url), err)
	}
	db := stdlib.OpenDBFromPool(pool)
	if err := migrate(ctx, db, goose.DialectPostgres, "migrations/postgres"); err != nil {
		_ = db.Close()
		pool.Close()
		return nil, fmt.Errorf("migrating %s: %w", redact(url), err)
	}
	_ = db.Close()
	return &Postgres{pool: pool}, nil
}

// Close implements Store.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// Suppressions implements Store.
func (p *Postgres) Suppressions(ctx context.Context) (*Suppressions, error) {
	if _, err := p.pool.Exec(ctx, `INSERT INTO settings (name, value) VALUES ('suppression_salt', $1) ON CONFLICT (name) DO NOTHING`, newSalt()); err != nil {
		return nil, err
	}
	var salt string
	if err := p.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = 'suppression_salt'`).Scan(&salt); err != nil {
		return nil, err
	}
	sup := &Suppressions{salt: []byte(salt), hashes: map[string]bool{}}
	rows, err := p.pool.Query(ctx, `SELECT key_hash FROM suppressions`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return nil, err
		}
		sup.hashes[h] = true
	}
	rows.Close()
	return sup, rows.Err()
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

// WritePartition implements Store.
func (p *Postgres) WritePartition(ctx context.Context, runKey string, part int, contacts []merge.Contact, stats PartStats) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		o, err := p.overrides(ctx, tx, part)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM contacts WHERE part = $1`, part); err != nil {
			return err
		}
		var buf []byte
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"contacts"}, contactColumns,
			pgx.CopyFromSlice(len(contacts), func(i int) ([]any, error) {
				c := &contacts[i]
				o.apply(c)
				var values []any
				values, buf = contactRow(part, c, buf)
				return values, nil
			}))
		if err != nil {
			return err
		}
		st, _ := json.Marshal(stats)
		_, err = tx.Exec(ctx, `INSERT INTO checkpoints (run_key, part, stats) VALUES ($1, $2, $3)
			ON CONFLICT (run_key, part) DO UPDATE SET stats = EXCLUDED.stats`, runKey, part, string(st))
		return err
	})
}

func (p *Postgres) overrides(ctx context.Context, tx pgx.Tx, part int) (overrides, error) {
	rows, err := tx.Query(ctx, `SELECT key, segment, status FROM preference_overrides WHERE part = $1`, part)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return readOverrides(rows)
}

// Suppress implements Store.
func (p *Postgres) Suppress(ctx context.Context, key, origin string) error {
	sup, err := p.Suppressions(ctx)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO suppressions (key_hash, created_at, origin) VALUES ($1, $2, $3) ON CONFLICT (key_hash) DO NOTHING`,
			sup.Hash(key), time.Now().UTC().Format(time.RFC3339), origin); err != nil {
			return err
		}
		for _, q := range erasures {
			if _, err := tx.Exec(ctx, q+` WHERE key = $1`, key); err != nil {
				return err
			}
		}
		return nil
	})
}

// FinishRun implements Store.
func (p *Postgres) FinishRun(ctx context.Context, runKey string, partitions int, segments []Segment, report []byte) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM contacts WHERE part >= $1`, partitions); err != nil {
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
		_, err := tx.Exec(ctx, `INSERT INTO runs (run_key, finished_at, report) VALUES ($1, $2, $3)
			ON CONFLICT (run_key) DO UPDATE SET finished_at = EXCLUDED.finished_at, report = EXCLUDED.report`,
			runKey, time.Now().UTC().Format(time.RFC3339), string(report))
		return err
	})
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
	rows, err := p.pool.Query(ctx, `SELECT key, email, first_name, last_name, language, fields::text, sources::text,
		segments::text, global_opt_out, conflicts::text FROM contacts ORDER BY key COLLATE "C"`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e Exported
		var fields, sources, segments, conflicts string
		if err := rows.Scan(&e.Key, &e.Email, &e.FirstName, &e.LastName, &e.Language, &fields, &sources, &segments,
			&e.GlobalOptOut, &conflicts); err != nil {
			return err
		}
		if err := decodeExported(&e, []byte(fields), []byte(sources), []byte(segments), []byte(conflicts)); err != nil {
			return err
		}
		if err := fn(&e); err != nil {
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
