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
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go

	"github.com/contactconverter/contact-converter/internal/merge"
)

//go:embed migrations
var migrations embed.FS

// SQLite is the embedded store.
type SQLite struct {
	db *sql.DB
}

// OpenSQLite opens and migrates an SQLite file, in WAL mode.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(OFF)", "busy_timeout(10000)", "foreign_keys(1)", "cache_size(-32768)", "temp_store(MEMORY)", "wal_autocheckpoint(16384)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	// One writer: SQLite serialises writes anyway, and one connection keeps
	// transactions from waiting on each other.
	db.SetMaxOpenConns(1)
	if err := migrate(ctx, db, goose.DialectSQLite3, "migrations/sqlite"); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return &SQLite{db: db}, nil
}

func migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect, dir string) error {
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(dialect, db, sub)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// Close implements Store.
func (s *SQLite) Close() error { return s.db.Close() }

// Suppressions implements Store.
func (s *SQLite) Suppressions(ctx context.Context) (*Suppressions, error) {
	salt, err := s.salt(ctx)
	if err != nil {
		return nil, err
	}
	sup := &Suppressions{salt: []byte(salt), hashes: map[string]bool{}}
	rows, err := s.db.QueryContext(ctx, `SELECT key_hash FROM suppressions`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		sup.hashes[h] = true
	}
	return sup, rows.Err()
}

func (s *SQLite) salt(ctx context.Context) (string, error) {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('suppression_salt', ?) ON CONFLICT (name) DO NOTHING`, newSalt()); err != nil {
		return "", err
	}
	var salt string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'suppression_salt'`).Scan(&salt)
	return salt, err
}

// ReplaceRejected implements Store.
func (s *SQLite) ReplaceRejected(ctx context.Context, next func() (Rejected, error)) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM rejected_rows`); err != nil {
			return err
		}
		b := newBatcher(tx, `INSERT OR REPLACE INTO rejected_rows (source, line, reason, detail) VALUES `, 4)
		defer b.close()
		for {
			r, err := next()
			if errors.Is(err, io.EOF) {
				return b.flush(ctx)
			}
			if err != nil {
				return err
			}
			if err := b.add(ctx, r.Source, r.Line, r.Reason, r.Detail); err != nil {
				return err
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

// WritePartition implements Store.
func (s *SQLite) WritePartition(ctx context.Context, runKey string, part int, contacts []merge.Contact, stats PartStats) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		overrides, err := loadOverrides(ctx, tx, part)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM contacts WHERE part = ?`, part); err != nil {
			return err
		}
		contactRows := newBatcher(tx, `INSERT INTO contacts (`+strings.Join(contactColumns, ", ")+`) VALUES `, len(contactColumns))
		defer contactRows.close()
		var buf []byte
		for i := range contacts {
			c := &contacts[i]
			overrides.apply(c)
			var values []any
			values, buf = contactRow(part, c, buf)
			if err := contactRows.add(ctx, values...); err != nil {
				return fmt.Errorf("writing contact %q: %w", c.Key, err)
			}
		}
		if err := contactRows.flush(ctx); err != nil {
			return err
		}
		st, _ := json.Marshal(stats)
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO checkpoints (run_key, part, stats) VALUES (?, ?, ?)`, runKey, part, string(st))
		return err
	})
}

// Suppress implements Store.
func (s *SQLite) Suppress(ctx context.Context, key, origin string) error {
	sup, err := s.Suppressions(ctx)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO suppressions (key_hash, created_at, origin) VALUES (?, ?, ?) ON CONFLICT (key_hash) DO NOTHING`,
			sup.Hash(key), time.Now().UTC().Format(time.RFC3339), origin); err != nil {
			return err
		}
		for _, q := range erasures {
			if _, err := tx.ExecContext(ctx, q+` WHERE key = ?`, key); err != nil {
				return err
			}
		}
		return nil
	})
}

// FinishRun implements Store.
func (s *SQLite) FinishRun(ctx context.Context, runKey string, partitions int, segments []Segment, report []byte) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM contacts WHERE part >= ?`, partitions); err != nil {
			return err
		}
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
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO runs (run_key, finished_at, report) VALUES (?, ?, ?)`,
			runKey, time.Now().UTC().Format(time.RFC3339), string(report))
		return err
	})
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
	rows, err := s.db.QueryContext(ctx, `SELECT key, email, first_name, last_name, language, fields, sources, segments,
		global_opt_out, conflicts FROM contacts ORDER BY key`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e Exported
		var fields, sources, segments, conflicts []byte
		if err := rows.Scan(&e.Key, &e.Email, &e.FirstName, &e.LastName, &e.Language, &fields, &sources, &segments,
			&e.GlobalOptOut, &conflicts); err != nil {
			return err
		}
		if err := decodeExported(&e, fields, sources, segments, conflicts); err != nil {
			return err
		}
		if err := fn(&e); err != nil {
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

// overrides are a partition's preference-center changes.
type overrides map[string]map[string]string // key -> segment ('*' global) -> status

func loadOverrides(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, part int) (overrides, error) {
	rows, err := q.QueryContext(ctx, `SELECT key, segment, status FROM preference_overrides WHERE part = ?`, part)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return readOverrides(rows)
}

// apply lets the contact's own choices win over what the lists said.
func (o overrides) apply(c *merge.Contact) {
	for seg, status := range o[c.Key] {
		if seg == "*" {
			c.GlobalOptOut = status == merge.Unsubscribed
			continue
		}
		c.Segments[seg] = status
	}
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
