package inputs

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contactconverter/contact-converter/internal/pgtest"
)

// A SQL source streams a query's rows from a real PostgreSQL, column names
// as the header.
func TestOpenSQL(t *testing.T) {
	uri := pgtest.Start(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE customers (email text, first_name text, lang text, unsubscribed boolean, since date);
		INSERT INTO customers VALUES ('jan@example.be', 'Jan', 'nl', false, '2019-05-01'), ('els@example.be', NULL, 'fr', true, NULL)`); err != nil {
		t.Fatal(err)
	}
	tb, _, err := OpenSQL(ctx, uri, time.Minute, `SELECT email, first_name AS "firstName", lang AS language, unsubscribed AS "optOut", since FROM customers ORDER BY email DESC`)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	if got := strings.Join(tb.Header(), ","); got != "email,firstName,language,optOut,since" {
		t.Errorf("header %q", got)
	}
	var rows []string
	for {
		rec, line, err := tb.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, strings.Join(rec, "|")+"@"+string(rune('0'+line)))
	}
	want := []string{"jan@example.be|Jan|nl|false|2019-05-01T00:00:00Z@2", "els@example.be||fr|true|@3"}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows\n%q\nwant\n%q", rows, want)
	}
	if _, _, err := OpenSQL(ctx, uri, time.Minute, "SELECT * FROM missing_table"); err == nil || !strings.Contains(err.Error(), "running the query") {
		t.Errorf("a bad query: %v", err)
	}

	// The query cannot write, whatever it says, and cannot run forever.
	for _, q := range []string{
		"WITH gone AS (DELETE FROM customers RETURNING email) SELECT email FROM gone",
		"SELECT email FROM customers FOR UPDATE",
	} {
		tb, _, err := OpenSQL(ctx, uri, time.Minute, q)
		if err == nil {
			_, _, err = tb.Next()
			tb.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("%s: err = %v, want a read-only refusal", q, err)
		}
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&n); err != nil || n != 2 {
		t.Errorf("the source table has %d rows after the attempts (%v), want 2", n, err)
	}
	start := time.Now()
	tb, _, err = OpenSQL(ctx, uri, 500*time.Millisecond, "SELECT pg_sleep(30)::text AS email")
	if err == nil {
		_, _, err = tb.Next()
		tb.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "statement timeout") || time.Since(start) > 20*time.Second {
		t.Errorf("a query past the timeout: err = %v after %s, want a statement timeout", err, time.Since(start))
	}
}
