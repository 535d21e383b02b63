package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/contactconverter/contact-converter/internal/pgtest"
)

// A many-row insert returns what it inserted, on either database, and a
// second one into the same table in the same transaction sees none of the
// first one's rows again (PostgreSQL stages them in a temporary table).
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
			insert := func(c conn, tail string, keys ...string) []string {
				t.Helper()
				var got []string
				err := insertRows(ctx, c, "imported_opt_outs", importedColumns, len(keys), func(i int, dst []any) []any {
					return append(dst, Bucket(keys[i]), keys[i], "*", "import:a", "unsubscribe", "")
				}, tail, func(rows dbRows) error {
					for rows.Next() {
						var k string
						if err := rows.Scan(&k); err != nil {
							return err
						}
						got = append(got, k)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				slices.Sort(got)
				return got
			}
			var first, second, third []string
			if err := p.inTx(ctx, func(c conn) error {
				first = insert(c, `ON CONFLICT DO NOTHING RETURNING key`, "a@example.be", "b@example.be", "a@example.be")
				// Without ON CONFLICT: a row of the first insert again fails.
				second = insert(c, `RETURNING key`, "c@example.be")
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := p.inTx(ctx, func(c conn) error {
				third = insert(c, `RETURNING key`, "d@example.be")
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
