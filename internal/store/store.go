// Package store keeps the merged contact database, in embedded SQLite or in
// PostgreSQL, with one schema managed by embedded migrations.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/contactconverter/contact-converter/internal/merge"
)

// Rejected is a row without a valid key.
type Rejected struct {
	Source string
	Line   int
	Reason string
	Detail string
}

// Segment is a segment of the database.
type Segment struct {
	Name        string
	Kind        string // "source" or "rule"
	DisplayName string
}

// PartStats counts what one partition merged, per source index.
type PartStats struct {
	// Shard is the shard of a sharded run that wrote the partition (0 in
	// a run that is not sharded).
	Shard      int     `json:"shard"`
	Contacts   int64   `json:"contacts"`
	RowsMerged []int64 `json:"rowsMerged"`
	// RowsSuppressed are rows of contacts erased while the run went on.
	RowsSuppressed   []int64 `json:"rowsSuppressed,omitempty"`
	DuplicatesMerged int64   `json:"duplicatesMerged"`
	LanguageDefault  int64   `json:"languageDefault"`
	Conflicts        int64   `json:"conflicts"`
	Unresolved       int64   `json:"unresolved"`
}

// Exported is a contact as the export and the portability format show it.
type Exported struct {
	Key          string            `json:"key"`
	Email        string            `json:"email"`
	FirstName    string            `json:"firstName"`
	LastName     string            `json:"lastName"`
	Language     string            `json:"language"`
	Fields       map[string]string `json:"fields"`
	Sources      []string          `json:"sources"`
	Segments     map[string]string `json:"segments"`
	GlobalOptOut bool              `json:"globalOptOut"`
	Conflicts    []merge.Conflict  `json:"conflicts"`
	// Undeliverable tells that an old platform reported a hard bounce.
	Undeliverable bool `json:"undeliverable"`
}

// ConflictRow is one conflict, for reports.
type ConflictRow struct {
	Key      string
	Field    string
	Values   []string
	Resolved bool
}

// Store is the contact database.
type Store interface {
	// Suppressions returns the salt and the hashes of erased keys.
	Suppressions(ctx context.Context) (*Suppressions, error)
	// SuppressionCount is how many keys were erased.
	SuppressionCount(ctx context.Context) (int, error)
	// ReplaceRejected replaces every rejected row with those next yields,
	// until it returns io.EOF.
	ReplaceRejected(ctx context.Context, next func() (Rejected, error)) error
	// DonePartitions returns the partitions a run already wrote.
	DonePartitions(ctx context.Context, runKey string) (map[int]PartStats, error)
	// WritePartition replaces the contacts of a partition (a range of
	// buckets) and records it as done for its run, atomically. Inside that
	// transaction, erasures and preference changes made since the lists were
	// read win over the merge.
	WritePartition(ctx context.Context, w *PartitionWrite) error
	// Writers is how many partitions may be written at once.
	Writers() int
	// FinishRun replaces the segments, drops other runs' checkpoints and
	// records the report.
	FinishRun(ctx context.Context, runKey string, segments []Segment, report []byte) error
	// LastReport is the report of the last finished run, nil before any.
	LastReport(ctx context.Context) ([]byte, error)
	// SaveShardReport records one shard's report and returns every shard's,
	// in shard order, once all shards have reported (nil before).
	SaveShardReport(ctx context.Context, runKey string, shard, shards int, report []byte) ([][]byte, error)
	// Export calls fn for every contact, by key.
	Export(ctx context.Context, fn func(*Exported) error) error
	// Suppress erases a contact and keeps a salted hash of its key, so no
	// later run imports it again.
	Suppress(ctx context.Context, key, origin string) error
	// Conflicts calls fn for every conflict, by key and field.
	Conflicts(ctx context.Context, fn func(ConflictRow) error) error
	// Inventory counts what the database holds, without personal data.
	Inventory(ctx context.Context) (*Inventory, error)
	Preferences
	Close() error
}

// Open opens (and migrates) the database a URL names: sqlite:PATH, or
// postgres:// / postgresql://. It is tuned for a conversion, which can
// always be run again: SQLite does not wait for the disk on each commit.
func Open(ctx context.Context, url string, opts ...Option) (Store, error) {
	return open(ctx, url, false, opts)
}

// Option tunes a store.
type Option func(*options)

type options struct{ salt []byte }

// ErasureSalt hashes erased keys with salt, kept outside the database (a
// Secret), instead of a salt the database keeps: a copy of the database
// alone then cannot tell whether an address was erased. A database that
// already holds erasures hashed with its own salt keeps using it.
func ErasureSalt(salt []byte) Option { return func(o *options) { o.salt = salt } }

// OpenService opens the database for the preference center: every commit
// is on disk before it returns, since a contact's choice cannot be redone.
func OpenService(ctx context.Context, url string, opts ...Option) (Store, error) {
	return open(ctx, url, true, opts)
}

func open(ctx context.Context, url string, durable bool, opts []Option) (Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		if path == "" {
			return nil, errors.New("database URL sqlite: needs a path, e.g. sqlite:./contacts.db")
		}
		st, err := OpenSQLite(ctx, path, durable)
		if err != nil {
			return nil, err
		}
		return st, errors.Join(st.useSalt(ctx, o.salt), st.backfillImported(ctx))
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		st, err := OpenPostgres(ctx, url)
		if err != nil {
			return nil, err
		}
		return st, errors.Join(st.useSalt(ctx, o.salt), st.backfillImported(ctx))
	}
	return nil, fmt.Errorf("database URL %q: use sqlite:PATH or postgres://user@host/db", redact(url))
}

// redact hides a URL's password in messages.
func redact(url string) string {
	if i := strings.Index(url, "://"); i >= 0 {
		rest := url[i+3:]
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			if colon := strings.IndexByte(rest[:at], ':'); colon >= 0 {
				return url[:i+3] + rest[:colon] + ":***" + rest[at:]
			}
		}
	}
	return url
}
