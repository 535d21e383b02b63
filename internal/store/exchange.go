package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
)

// Parcel is the rows one shard read for one partition, encoded by the
// engine. Part RejectedPart holds the shard's rejected rows.
type Parcel struct {
	Shard, Part int
	Rows        int64
	Data        []byte
}

// RejectedPart is the part of the parcels holding rejected rows.
const RejectedPart = -1

// Exchange is how the shards of a run hand each other the rows they read:
// each shard reads its share of the lists, hands every partition's rows to
// the exchange, waits for the others, and takes the parcels of the
// partitions it merges. PostgreSQL has it; a sharded run needs it.
type Exchange interface {
	// HandedOut returns what shard recorded when it handed out its parcels
	// in exchange id, or nil if it has not.
	HandedOut(ctx context.Context, id string, shard int) ([]byte, error)
	// HandOut replaces shard's parcels in exchange id with those next
	// yields (until io.EOF) and records read, in one transaction: a shard
	// stopped midway has handed out nothing.
	HandOut(ctx context.Context, id string, shard int, next func() (Parcel, error), read []byte) error
	// FailShard records that shard stopped on bad input, reason saying
	// why: the shards waiting for its parcels stop too.
	FailShard(ctx context.Context, id string, shard int, reason string) error
	// AwaitShards waits, looking every poll, until all shards have handed
	// out their parcels, and returns what each recorded, in shard order;
	// a *ShardFailedError when one stopped on bad input.
	AwaitShards(ctx context.Context, id string, shards int, poll time.Duration) ([][]byte, error)
	// Parcels calls fn with every shard's parcel of part, in shard order;
	// fn may keep a parcel's Data, which nothing else holds.
	Parcels(ctx context.Context, id string, part int, fn func(Parcel) error) error
	// EndExchange drops exchange id's parcels (what the shards read stays,
	// so a shard restarted after the end finds its work done), and
	// whatever exchanges have been idle for a day leave.
	EndExchange(ctx context.Context, id string) error
}

var _ Exchange = (*Postgres)(nil)

// ShardFailedError says another shard of the run stopped on bad input.
type ShardFailedError struct {
	Shard  int
	Reason string
}

func (e *ShardFailedError) Error() string {
	return fmt.Sprintf("shard %d stopped on bad input: %s", e.Shard, e.Reason)
}

// HandedOut implements Exchange.
func (p *Postgres) HandedOut(ctx context.Context, id string, shard int) ([]byte, error) {
	var read string
	err := p.pool.QueryRow(ctx, `SELECT read FROM exchange_shards WHERE exchange = $1 AND shard = $2 AND failed IS NULL`, id, shard).Scan(&read)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return []byte(read), err
}

// HandOut implements Exchange.
func (p *Postgres) HandOut(ctx context.Context, id string, shard int, next func() (Parcel, error), read []byte) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM exchange_parcels WHERE exchange = $1 AND shard = $2`, id, shard); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"exchange_parcels"}, []string{"exchange", "part", "shard", "rows", "data"},
			pgx.CopyFromFunc(func() ([]any, error) {
				pc, err := next()
				if errors.Is(err, io.EOF) {
					return nil, nil
				}
				if err != nil {
					return nil, err
				}
				return []any{id, pc.Part, shard, pc.Rows, pc.Data}, nil
			}))
		if err != nil {
			return fmt.Errorf("handing out parcels: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO exchange_shards (exchange, shard, read) VALUES ($1, $2, $3)
			ON CONFLICT (exchange, shard) DO UPDATE SET read = EXCLUDED.read, failed = NULL, handed_at = now()`, id, shard, string(read))
		return err
	})
}

// FailShard implements Exchange.
func (p *Postgres) FailShard(ctx context.Context, id string, shard int, reason string) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO exchange_shards (exchange, shard, read, failed) VALUES ($1, $2, '', $3)
		ON CONFLICT (exchange, shard) DO UPDATE SET read = '', failed = EXCLUDED.failed, handed_at = now()`, id, shard, reason)
	return err
}

// AwaitShards implements Exchange.
func (p *Postgres) AwaitShards(ctx context.Context, id string, shards int, poll time.Duration) ([][]byte, error) {
	for {
		rows, err := p.pool.Query(ctx, `SELECT shard, read, failed FROM exchange_shards WHERE exchange = $1 AND shard < $2 ORDER BY shard`, id, shards)
		if err != nil {
			return nil, err
		}
		out := make([][]byte, 0, shards)
		for rows.Next() {
			var shard int
			var read string
			var failed *string
			if err := rows.Scan(&shard, &read, &failed); err != nil {
				rows.Close()
				return nil, err
			}
			if failed != nil {
				rows.Close()
				return nil, &ShardFailedError{Shard: shard, Reason: *failed}
			}
			out = append(out, []byte(read))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(out) == shards {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// Parcels implements Exchange.
func (p *Postgres) Parcels(ctx context.Context, id string, part int, fn func(Parcel) error) error {
	rows, err := p.pool.Query(ctx, `SELECT shard, rows, data FROM exchange_parcels WHERE exchange = $1 AND part = $2 ORDER BY shard`, id, part)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		pc := Parcel{Part: part}
		if err := rows.Scan(&pc.Shard, &pc.Rows, &pc.Data); err != nil {
			return err
		}
		if err := fn(pc); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EndExchange implements Exchange.
func (p *Postgres) EndExchange(ctx context.Context, id string) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM exchange_shards WHERE exchange IN (
			SELECT exchange FROM exchange_shards GROUP BY exchange HAVING max(handed_at) < now() - interval '1 day')`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM exchange_parcels WHERE exchange = $1
			OR exchange NOT IN (SELECT exchange FROM exchange_shards)`, id)
		return err
	})
}
