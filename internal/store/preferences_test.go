package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/contactconverter/contact-converter/internal/merge"
	"github.com/contactconverter/contact-converter/internal/pgtest"
	"github.com/contactconverter/contact-converter/internal/store"
	"github.com/contactconverter/contact-converter/internal/store/storetest"
)

// openBoth returns a fresh SQLite and a fresh PostgreSQL store.
func openBoth(t *testing.T) map[string]store.Store {
	t.Helper()
	out := map[string]store.Store{}
	for name, db := range openBothDBs(t) {
		out[name] = db.Store
	}
	return out
}

// testDB is a store with its URL, for tests that look at its tables.
type testDB struct {
	store.Store
	URL string
}

// openBothDBs returns a fresh SQLite and a fresh PostgreSQL store with
// their URLs.
func openBothDBs(t *testing.T) map[string]testDB {
	t.Helper()
	ctx := context.Background()
	out := map[string]testDB{}
	for name, url := range map[string]string{
		"sqlite":   "sqlite:" + filepath.Join(t.TempDir(), "contacts.db"),
		"postgres": pgtest.NewDatabase(t, pgtest.Start(t), "prefs"),
	} {
		st, err := store.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		out[name] = testDB{Store: st, URL: url}
	}
	return out
}

// imported is the contact as the lists say it, every run.
func imported() merge.Contact {
	return merge.Contact{
		Key: "an@example.be", Email: "An@Example.be", FirstName: "An", LastName: "Peeters", Language: "nl",
		Fields: map[string]string{}, Sources: []string{"Beurs 2023"},
		Segments: map[string]string{"fairs": merge.Subscribed, "news": merge.Unsubscribed},
	}
}

// importRun writes the contact as a one-partition run would.
func importRun(t *testing.T, st store.Store) {
	t.Helper()
	w := &store.PartitionWrite{RunKey: "run", Part: 0, Partitions: 1, Contacts: []merge.Contact{imported()}}
	if err := st.WritePartition(context.Background(), w); err != nil {
		t.Fatal(err)
	}
}

func mustContact(t *testing.T, st store.Store) *store.Exported {
	t.Helper()
	e, err := st.Contact(context.Background(), "an@example.be")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestPreferenceChangesSurviveImports(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for name, st := range openBoth(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			importRun(t, st)
			if _, err := st.Contact(ctx, "nobody@example.be"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("unknown contact: err = %v, want ErrNotFound", err)
			}
			err := st.Apply(ctx, []store.Change{
				{Key: "an@example.be", Action: store.ActionUnsubscribe, Segment: "fairs", Topic: "fairs", Source: store.SourcePreferenceCenter, TextHash: "h1", IP: "192.0.2.1", At: at},
				{Key: "an@example.be", Action: store.ActionSubscribe, Segment: "news", Topic: "news", Source: store.SourcePreferenceCenter, At: at},
				{Key: "an@example.be", Action: store.ActionRectify, Fields: map[string]string{"firstName": "Anne", "language": "fr"}, Topic: "profile", Source: store.SourcePreferenceCenter, At: at},
			})
			if err != nil {
				t.Fatal(err)
			}
			check := func(when string) {
				e := mustContact(t, st)
				if e.Segments["fairs"] != merge.Unsubscribed || e.Segments["news"] != merge.Subscribed || e.FirstName != "Anne" || e.Language != "fr" {
					t.Errorf("%s: contact = %+v, want fairs unsubscribed, news subscribed, Anne, fr", when, e)
				}
			}
			check("after the change")
			importRun(t, st) // the next conversion merges the lists again
			check("after a new import")

			if err := st.Apply(ctx, []store.Change{{Key: "an@example.be", Action: store.ActionUnsubscribeAll, Topic: "*", Source: store.SourceOneClick, At: at}}); err != nil {
				t.Fatal(err)
			}
			importRun(t, st)
			if !mustContact(t, st).GlobalOptOut {
				t.Error("a global opt-out was lost by an import")
			}
			events, err := st.ConsentEvents(ctx, "an@example.be")
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 4 || events[0].Action != store.ActionUnsubscribe || events[0].TextHash != "h1" || events[0].IP != "192.0.2.1" ||
				events[3].Action != store.ActionUnsubscribeAll || events[3].Source != store.SourceOneClick {
				t.Errorf("consent events = %+v", events)
			}
		})
	}
}

// An earlier version queued changes during conversions; they are applied
// at start, and an older one never undoes a newer one applied meanwhile.
func TestChangesAnEarlierVersionQueuedAreApplied(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for name, db := range openBothDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			importRun(t, db)
			if err := db.Apply(ctx, []store.Change{{Key: "an@example.be", Action: store.ActionUnsubscribe, Segment: "fairs",
				Source: store.SourceOneClick, At: at.Add(time.Hour)}}); err != nil {
				t.Fatal(err)
			}
			for i, ch := range []store.Change{
				{Key: "an@example.be", Action: store.ActionSubscribe, Segment: "fairs", Source: store.SourcePreferenceCenter, At: at},
				{Key: "an@example.be", Action: store.ActionSubscribe, Segment: "news", Source: store.SourcePreferenceCenter, At: at},
			} {
				data, _ := json.Marshal(ch)
				storetest.Exec(t, db.URL, `INSERT INTO pending_changes (id, key, change, queued_at) VALUES (?, ?, ?, ?)`, i+1, ch.Key, string(data), "x")
			}
			if n, err := db.ApplyPending(ctx); err != nil || n != 2 {
				t.Fatalf("ApplyPending = %d, %v; want 2", n, err)
			}
			e := mustContact(t, db)
			if e.Segments["fairs"] != merge.Unsubscribed || e.Segments["news"] != merge.Subscribed {
				t.Errorf("segments = %v, want fairs unsubscribed (the newer change) and news subscribed", e.Segments)
			}
			if got := footprint(t, db.URL, "an@example.be")["pending_changes"]; got != 0 {
				t.Errorf("%d changes still queued", got)
			}
		})
	}
}

func TestErasureKeepsOnlyAHash(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for name, st := range openBoth(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			importRun(t, st)
			if err := st.Apply(ctx, []store.Change{
				{Key: "an@example.be", Action: store.ActionUnsubscribe, Segment: "fairs", Source: store.SourcePreferenceCenter, At: at},
				{Key: "an@example.be", Action: store.ActionErase, Topic: "*", Source: store.SourcePreferenceCenter, At: at},
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Contact(ctx, "an@example.be"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("erased contact: err = %v, want ErrNotFound", err)
			}
			sup, err := st.Suppressions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !sup.Contains("an@example.be") {
				t.Error("the erased key is not suppressed")
			}
			if events, _ := st.ConsentEvents(ctx, "an@example.be"); len(events) != 0 {
				t.Errorf("consent history still under the key: %+v", events)
			}
			events, err := st.ConsentEvents(ctx, sup.Hash("an@example.be"))
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 2 || events[1].Action != store.ActionErase {
				t.Errorf("history under the hash = %+v, want the unsubscribe and the erasure", events)
			}
		})
	}
}

func TestInvalidChangesAreRefused(t *testing.T) {
	for _, ch := range []store.Change{
		{Action: store.ActionErase},
		{Key: "k", Action: "delete-everything"},
		{Key: "k", Action: store.ActionSubscribe},
		{Key: "k", Action: store.ActionRectify, Fields: map[string]string{"email": "x@y.z"}},
	} {
		if err := ch.Validate(); err == nil {
			t.Errorf("%+v: accepted", ch)
		}
	}
}
