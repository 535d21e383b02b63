package store

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/contactconverter/contact-converter/internal/pgtest"
)

// A many-row insert inserts its rows, on either database, and a second one
// into the same table in the same transaction takes none of the first one's
// rows again (PostgreSQL stages them in a temporary table).
func TestInsertRowsTwiceInOneTransaction(t *testing.T) {
	ctx := context.Background()
	for name, url := range map[string]string{
		"sqlite":   "sqlite:" + filepath.Join(t.TempDir(), "contacts.db"),
		"postgres": pgtest.NewDatabase(t, pgtest.Start(t), "insert"),
	} {
		t.Run(name, func(t *testing.T) {
			st, err := Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			var p preferences
			switch s := st.(type) {
			case *SQLite:
				p = s.preferences
			case *Postgres:
				p = s.preferences
			}
			// rows lists the table's rows as key/dated.
			rows := func(c conn) map[string]bool {
				t.Helper()
				out := map[string]bool{}
				if err := eachRow(ctx, c, `SELECT key, dated FROM imported_opt_outs`, nil, func(scan func(...any) error) error {
					var key, dated string
					if err := scan(&key, &dated); err != nil {
						return err
					}
					out[key+"/"+dated] = true
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				return out
			}
			// insert returns the keys of the rows the insert added or
			// changed.
			insert := func(c conn, tail string, keys ...string) []string {
				t.Helper()
				before := rows(c)
				err := insertRows(ctx, c, "imported_opt_outs", importedColumns, len(keys), func(i int, dst []any) []any {
					return append(dst, Bucket(keys[i]), keys[i], "*", "import:a", "unsubscribe", "")
				}, tail)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for row := range rows(c) {
					if !before[row] {
						key, _, _ := strings.Cut(row, "/")
						got = append(got, key)
					}
				}
				slices.Sort(got)
				return got
			}
			// A row of an earlier insert taken again would be marked.
			const mark = `ON CONFLICT (bucket, key, topic, source, kind, dated) DO UPDATE SET dated = excluded.dated || '!'`
			var first, second, third []string
			if err := p.inTx(ctx, func(c conn) error {
				first = insert(c, `ON CONFLICT DO NOTHING`, "a@example.be", "b@example.be", "a@example.be")
				second = insert(c, mark, "c@example.be")
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := p.inTx(ctx, func(c conn) error {
				third = insert(c, mark, "d@example.be")
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			want := [][]string{{"a@example.be", "b@example.be"}, {"c@example.be"}, {"d@example.be"}}
			if diff := cmp.Diff(want, [][]string{first, second, third}); diff != "" {
				t.Errorf("inserted (-want +got):\n%s", diff)
			}
		})
	}
}

// chunksAhead yields every row once, in order, in chunks of step rows; a
// loop that stops early stops the gathering too, and values never runs
// after the loop; a cancelled context ends the chunks.
func TestChunksAhead(t *testing.T) {
	ctx := context.Background()
	row := func(i int, dst []any) []any { return append(dst, i, -i) }
	var got [][]any
	for args := range chunksAhead(ctx, 7, 3, row) {
		got = append(got, slices.Clone(args))
	}
	want := [][]any{{0, 0, 1, -1, 2, -2}, {3, -3, 4, -4, 5, -5}, {6, -6}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chunks (-want +got):\n%s", diff)
	}

	var calls atomic.Int64
	for range chunksAhead(ctx, 1000, 10, func(i int, dst []any) []any {
		calls.Add(1)
		return append(dst, i)
	}) {
		break
	}
	after := calls.Load()
	time.Sleep(50 * time.Millisecond)
	if calls.Load() != after || after > 30 {
		t.Errorf("values ran %d times by the loop's end and %d times after it, want at most 3 chunks' worth and none after", after, calls.Load()-after)
	}

	cancelled, cancel := context.WithCancel(ctx)
	defer cancel()
	n := 0
	for range chunksAhead(cancelled, 1000, 10, row) {
		if n++; n == 2 {
			cancel()
		}
	}
	if n > 4 {
		t.Errorf("%d chunks after the context was cancelled at the second, want at most 2 more", n-2)
	}
}
