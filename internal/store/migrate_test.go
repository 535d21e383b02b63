package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/contactconverter/contact-converter/internal/pgtest"
	"github.com/contactconverter/contact-converter/internal/store"
	"github.com/contactconverter/contact-converter/internal/store/storetest"
)

// Eight openers of a fresh database at the same moment (the pods of an
// Indexed Job, a Job beside a preference-center replica): every one
// migrates or waits for the one that does, and none fails.
func TestConcurrentFirstOpensAllSucceed(t *testing.T) {
	server := pgtest.Start(t)
	for name, newDB := range map[string]func(i int) string{
		"postgres": func(i int) string { return pgtest.NewDatabase(t, server, fmt.Sprintf("fresh%d", i)) },
		"sqlite":   func(i int) string { return "sqlite:" + filepath.Join(t.TempDir(), "contacts.db") },
	} {
		t.Run(name, func(t *testing.T) {
			for round := range 3 {
				url := newDB(round)
				start := make(chan struct{})
				errs := make([]error, 8)
				var wg sync.WaitGroup
				for i := range errs {
					wg.Go(func() {
						<-start
						st, err := store.Open(context.Background(), url)
						if err == nil {
							err = st.Close()
						}
						errs[i] = err
					})
				}
				close(start)
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("round %d, opener %d: %v", round, i, err)
					}
				}
			}
		})
	}
}

// A database an earlier version converted holds imported opt-outs as
// evidence only: opening it records them as imported, once, so the next
// run adds no second copy.
func TestEarlierImportedOptOutsAreBackfilled(t *testing.T) {
	server := pgtest.Start(t)
	for name, url := range map[string]string{
		"sqlite":   "sqlite:" + filepath.Join(t.TempDir(), "contacts.db"),
		"postgres": pgtest.NewDatabase(t, server, "earlier"),
	} {
		t.Run(name, func(t *testing.T) {
			st, err := store.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			// What the earlier version left.
			storetest.Exec(t, url, `DELETE FROM settings WHERE name = 'imported_opt_outs_backfilled'`)
			storetest.Exec(t, url, `INSERT INTO consent_events (key, topic, action, at, source, detail, kind) VALUES (?, '*', 'unsubscribe-all', '2024-03-02T10:15:00.000000000Z', 'import:unsubscribed', '', 'Unsubscribe')`, "jan@example.be")
			for range 2 {
				st, err := store.Open(context.Background(), url)
				if err != nil {
					t.Fatal(err)
				}
				st.Close()
			}
			if got := storetest.Footprint(t, url, "jan@example.be"); got["imported_opt_outs"] != 1 || got["consent_events"] != 1 {
				t.Errorf("after two opens: %v", got)
			}
		})
	}
}

// The shards of a run finish at about the same moment, and each records
// the segments and its report: none fails on another's segments.
func TestConcurrentFinishesAllSucceed(t *testing.T) {
	for name, st := range openBoth(t) {
		t.Run(name, func(t *testing.T) {
			segments := []store.Segment{{Name: "salon", Kind: "source", DisplayName: "Salon"}, {Name: "fr", Kind: "rule", DisplayName: "fr"}}
			for round := range 5 {
				start := make(chan struct{})
				errs := make([]error, 4)
				var wg sync.WaitGroup
				for i := range errs {
					wg.Go(func() {
						<-start
						errs[i] = st.FinishRun(context.Background(), "run", segments, []byte(`{}`))
					})
				}
				close(start)
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("round %d, shard %d: %v", round, i, err)
					}
				}
			}
		})
	}
}

// Consent evidence an earlier version recorded, before events carried
// their bucket, is still the contact's: it is shown with the new events,
// and an erasure leaves none of it under the address.
func TestEarlierConsentEventsStayTheContacts(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for name, db := range openBothDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			importRun(t, db.Store)
			storetest.Exec(t, db.URL, `INSERT INTO consent_events (key, topic, action, at, source, text_hash, ip) VALUES (?, 'news', 'unsubscribe', '2024-03-02T10:15:00.000000000Z', 'preference-center', 'h0', '')`, "an@example.be")
			if err := db.Apply(ctx, []store.Change{{Key: "an@example.be", Action: store.ActionSubscribe, Segment: "news", Topic: "news", Source: store.SourcePreferenceCenter, At: at}}); err != nil {
				t.Fatal(err)
			}
			events, err := db.ConsentEvents(ctx, "an@example.be")
			if err != nil {
				t.Fatal(err)
			}
			want := []store.ConsentEvent{
				{Topic: "news", Action: store.ActionUnsubscribe, At: "2024-03-02T10:15:00.000000000Z", Source: store.SourcePreferenceCenter, TextHash: "h0"},
				{Topic: "news", Action: store.ActionSubscribe, At: store.Timestamp(at), Source: store.SourcePreferenceCenter},
			}
			if diff := cmp.Diff(want, events); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if err := db.Apply(ctx, []store.Change{{Key: "an@example.be", Action: store.ActionErase, Topic: "*", Source: store.SourceAPI, At: at}}); err != nil {
				t.Fatal(err)
			}
			if got := storetest.Footprint(t, db.URL, "an@example.be"); len(got) != 0 {
				t.Errorf("after the erasure, the address is still in %v", got)
			}
		})
	}
}

// A new SQLite database is made of 16 KiB pages, which a run writes with a
// quarter of the calls 4 KiB pages take; one made before keeps its pages.
func TestNewSQLiteDatabasesHaveLargePages(t *testing.T) {
	dir := t.TempDir()
	earlier := "sqlite:" + filepath.Join(dir, "earlier.db")
	storetest.Exec(t, earlier, `PRAGMA page_size = 4096`)
	storetest.Exec(t, earlier, `CREATE TABLE before_us (a)`)
	for url, want := range map[string]int{"sqlite:" + filepath.Join(dir, "new.db"): 16384, earlier: 4096} {
		st, err := store.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		db, _ := storetest.Open(t, url)
		var got int
		if err := db.QueryRow(`PRAGMA page_size`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: pages of %d bytes, want %d", url, got, want)
		}
	}
}
