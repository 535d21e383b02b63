package store

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/contactconverter/contact-converter/internal/merge"
)

// rowScanner is what database/sql's and pgx's row sets share.
type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// readCheckpoints reads (part, stats JSON) rows.
func readCheckpoints(rows rowScanner) (map[int]PartStats, error) {
	done := map[int]PartStats{}
	for rows.Next() {
		var part int
		var stats string
		if err := rows.Scan(&part, &stats); err != nil {
			return nil, err
		}
		var ps PartStats
		if err := json.Unmarshal([]byte(stats), &ps); err != nil {
			return nil, err
		}
		done[part] = ps
	}
	return done, rows.Err()
}

// readConflicts reads (key, conflicts JSON) rows, and calls fn for each
// conflict, by key then field.
func readConflicts(rows rowScanner, fn func(ConflictRow) error) error {
	for rows.Next() {
		var key, text string
		if err := rows.Scan(&key, &text); err != nil {
			return err
		}
		var cs []merge.Conflict
		if err := json.Unmarshal([]byte(text), &cs); err != nil {
			return err
		}
		slices.SortFunc(cs, func(a, b merge.Conflict) int { return strings.Compare(a.Field, b.Field) })
		for _, c := range cs {
			if err := fn(ConflictRow{Key: key, Field: c.Field, Values: c.Values, Resolved: c.Resolved}); err != nil {
				return err
			}
		}
	}
	return rows.Err()
}

// readShardReports returns the reports once there is one per shard.
func readShardReports(rows rowScanner, shards int) ([][]byte, error) {
	var out [][]byte
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, []byte(r))
	}
	if err := rows.Err(); err != nil || len(out) < shards {
		return nil, err
	}
	return out, nil
}
