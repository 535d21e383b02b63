package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/contactconverter/contact-converter/internal/merge"
	"github.com/contactconverter/contact-converter/internal/store"
	"github.com/contactconverter/contact-converter/internal/store/storetest"
)

func footprint(t *testing.T, url, key string) map[string]int { return storetest.Footprint(t, url, key) }

// oneContactRun is the write of a one-partition run holding the imported
// contact, merged from one row of source 0.
func oneContactRun(erased *int) *store.PartitionWrite {
	return &store.PartitionWrite{
		RunKey: "run", Part: 0, Partitions: 1,
		Contacts: []merge.Contact{imported()},
		Stats:    store.PartStats{Contacts: 1, RowsMerged: []int64{1}},
		Erased: func(i int, s *store.PartStats) {
			*erased++
			s.Contacts--
			s.RowsMerged[0]--
			s.RowsSuppressed = []int64{1}
		},
	}
}

func TestARunNeverWritesBackAnErasedContact(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for name, db := range openBothDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			// The erasure lands after the run read its lists, before it writes
			// the partition holding the contact.
			if err := db.Apply(ctx, []store.Change{{Key: "an@example.be", Action: store.ActionErase, Topic: "*", Source: store.SourcePreferenceCenter, At: at}}); err != nil {
				t.Fatal(err)
			}
			erased := 0
			if err := db.WritePartition(ctx, oneContactRun(&erased)); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Contact(ctx, "an@example.be"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the run wrote the erased contact back (err = %v)", err)
			}
			if erased != 1 {
				t.Errorf("Erased called %d times, want 1", erased)
			}
			done, err := db.DonePartitions(ctx, "run")
			if err != nil {
				t.Fatal(err)
			}
			want := map[int]store.PartStats{0: {Contacts: 0, RowsMerged: []int64{0}, RowsSuppressed: []int64{1}}}
			if diff := cmp.Diff(want, done); diff != "" {
				t.Errorf("checkpoint stats (-want +got):\n%s", diff)
			}
			if got := footprint(t, db.URL, "an@example.be"); len(got) != 0 {
				t.Errorf("rows still under the erased address: %v", got)
			}
		})
	}
}

func TestTheNewestChangeWinsWhateverTheOrderOfArrival(t *testing.T) {
	older := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	newer := older.Add(1500 * time.Millisecond) // same second: the order must hold below it
	for name, st := range openBoth(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			importRun(t, st)
			// The newer changes arrive first (another replica, a retried
			// request): the older ones must not undo them.
			for _, batch := range [][]store.Change{
				{
					{Key: "an@example.be", Action: store.ActionUnsubscribeAll, Topic: "*", Source: store.SourceOneClick, At: newer},
					{Key: "an@example.be", Action: store.ActionSubscribe, Segment: "news", Topic: "news", Source: store.SourcePreferenceCenter, At: newer},
					{Key: "an@example.be", Action: store.ActionRectify, Fields: map[string]string{"firstName": "Anne"}, Topic: "profile", Source: store.SourcePreferenceCenter, At: newer},
				},
				{
					{Key: "an@example.be", Action: store.ActionWithdrawObjection, Topic: "*", Source: store.SourcePreferenceCenter, At: older},
					{Key: "an@example.be", Action: store.ActionUnsubscribe, Segment: "news", Topic: "news", Source: store.SourcePreferenceCenter, At: older},
					{Key: "an@example.be", Action: store.ActionRectify, Fields: map[string]string{"firstName": "Annie"}, Topic: "profile", Source: store.SourcePreferenceCenter, At: older},
				},
			} {
				if err := st.Apply(ctx, batch); err != nil {
					t.Fatal(err)
				}
			}
			for _, when := range []string{"after the changes", "after a new import"} {
				e := mustContact(t, st)
				if !e.GlobalOptOut || e.Segments["news"] != merge.Subscribed || e.FirstName != "Anne" {
					t.Errorf("%s: globalOptOut=%v news=%s firstName=%s; want the newer changes: true, subscribed, Anne",
						when, e.GlobalOptOut, e.Segments["news"], e.FirstName)
				}
				importRun(t, st)
			}
			events, err := st.ConsentEvents(ctx, "an@example.be")
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 6 {
				t.Errorf("%d consent events, want all 6 requests kept as evidence", len(events))
			}
		})
	}
}

func TestChangesToAnErasedAddressWriteNothing(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for name, db := range openBothDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			importRun(t, db)
			if err := db.Apply(ctx, []store.Change{{Key: "an@example.be", Action: store.ActionErase, Topic: "*", Source: store.SourceAPI, At: at}}); err != nil {
				t.Fatal(err)
			}
			// An old newsletter's one-click link, a page left open, a late
			// rectification: each arrives after the erasure, some dated before it.
			if err := db.Apply(ctx, []store.Change{
				{Key: "an@example.be", Action: store.ActionUnsubscribeAll, Topic: "*", Source: store.SourceOneClick, At: at.Add(time.Hour)},
				{Key: "an@example.be", Action: store.ActionSubscribe, Segment: "news", Topic: "news", Source: store.SourcePreferenceCenter, At: at.Add(-time.Minute)},
				{Key: "an@example.be", Action: store.ActionRectify, Fields: map[string]string{"firstName": "Anne"}, Topic: "profile", Source: store.SourcePreferenceCenter, At: at.Add(time.Minute)},
			}); err != nil {
				t.Fatal(err)
			}
			if got := footprint(t, db.URL, "an@example.be"); len(got) != 0 {
				t.Errorf("the erased address was written back: %v", got)
			}
			importRun(t, db)
			if got := footprint(t, db.URL, "an@example.be"); len(got) != 0 {
				t.Errorf("an import wrote the erased address back: %v", got)
			}
		})
	}
}

// An erased address cannot be read back from the SQLite file or its WAL:
// deleted rows are overwritten, and the WAL is checkpointed and emptied.
func TestSQLiteErasureLeavesNoBytesBehind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "contacts.db")
	st, err := store.OpenService(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	importRun(t, st)
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	if err := st.Apply(context.Background(), []store.Change{
		{Key: "an@example.be", Action: store.ActionUnsubscribeAll, Topic: "*", Source: store.SourceOneClick, At: at},
		{Key: "an@example.be", Action: store.ActionErase, Topic: "*", Source: store.SourceAPI, At: at.Add(time.Second)},
	}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(bytes.ToLower(data), []byte("an@example.be")) {
			t.Errorf("%s still holds the erased address", filepath.Base(f))
		}
	}
}

// With an erasure salt from outside (a Secret), the database holds the
// hashes but not the salt, so a copy of it alone cannot tell whether an
// address was erased; the same salt finds the erasure again.
func TestTheErasureSaltCanLiveOutsideTheDatabase(t *testing.T) {
	salt := []byte(strings.Repeat("s", 32))
	for name, db := range openBothDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			_ = db.Close()
			st, err := store.Open(ctx, db.URL, store.ErasureSalt(salt))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if err := st.Apply(ctx, []store.Change{{Key: "an@example.be", Action: store.ActionErase, Topic: "*", Source: store.SourceAPI,
				At: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}}); err != nil {
				t.Fatal(err)
			}
			sqlDB, rebind := storetest.Open(t, db.URL)
			var n int
			if err := sqlDB.QueryRow(rebind(`SELECT count(*) FROM settings WHERE name = 'suppression_salt'`)).Scan(&n); err != nil || n != 0 {
				t.Errorf("the database holds the salt (%d rows, %v)", n, err)
			}
			if err := sqlDB.QueryRow(rebind(`SELECT count(*) FROM suppressions WHERE key_hash = ?`), store.HashKey(salt, "an@example.be")).Scan(&n); err != nil || n != 1 {
				t.Errorf("the erasure is not hashed with the given salt (%d rows, %v)", n, err)
			}
			erased := 0
			if err := st.WritePartition(ctx, oneContactRun(&erased)); err != nil || erased != 1 {
				t.Errorf("a run after the erasure: erased %d, %v; want the contact dropped", erased, err)
			}
		})
	}
}
