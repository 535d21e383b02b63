// Package storetest looks into a contact database's tables for tests, in
// SQLite or PostgreSQL alike.
package storetest

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver
)

// Open opens the database behind a store URL with database/sql, and
// returns the rewrite of "?" placeholders its queries need.
func Open(t testing.TB, url string) (*sql.DB, func(q string) string) {
	t.Helper()
	db, rebind := open(t, url)
	t.Cleanup(func() { _ = db.Close() })
	return db, rebind
}

func open(t testing.TB, url string) (*sql.DB, func(q string) string) {
	t.Helper()
	driver, dsn := "pgx", url
	rebind := func(q string) string {
		for n := 1; strings.Contains(q, "?"); n++ {
			q = strings.Replace(q, "?", fmt.Sprintf("$%d", n), 1)
		}
		return q
	}
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		driver, dsn, rebind = "sqlite", "file:"+path+"?_pragma=busy_timeout(10000)", func(q string) string { return q }
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return db, rebind
}

// Exec runs one statement with ? placeholders.
func Exec(t testing.TB, url, q string, args ...any) {
	t.Helper()
	db, rebind := open(t, url)
	defer db.Close()
	if _, err := db.Exec(rebind(q), args...); err != nil {
		t.Fatal(err)
	}
}

// KeyTables are the tables that hold a contact's key in a key column.
var KeyTables = []string{"contacts", "preference_overrides", "field_overrides", "consent_events", "pending_changes", "imported_opt_outs"}

// Footprint counts, per table, the rows that hold key: what the database
// still says about that address. Tables with none are left out.
func Footprint(t testing.TB, url, key string) map[string]int {
	t.Helper()
	db, rebind := open(t, url)
	defer db.Close()
	out := map[string]int{}
	for _, table := range KeyTables {
		var n int
		if err := db.QueryRow(rebind(`SELECT count(*) FROM `+table+` WHERE key = ?`), key).Scan(&n); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if n > 0 {
			out[table] = n
		}
	}
	return out
}
