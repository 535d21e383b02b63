package engine_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/contactconverter/contact-converter/internal/engine"
	"github.com/contactconverter/contact-converter/internal/engine/enginetest"
	"github.com/contactconverter/contact-converter/internal/store"
)

// writers is a store that says it takes two partitions at once. Its first
// write waits until a second one starts (or fails), so a run that writes
// one partition at a time fails it; fail makes a partition's write fail.
type writers struct {
	store.Store
	fail   int
	second chan struct{}
	once   sync.Once
	mu     sync.Mutex
	calls  int
}

// twoWriters is a new SQLite store taking two partitions at once, whose
// write of partition fail fails (-1: none).
func twoWriters(t *testing.T, fail int) *writers {
	return &writers{Store: openSQLite(t), fail: fail, second: make(chan struct{})}
}

func (w *writers) Writers() int { return 2 }

func (w *writers) WritePartition(ctx context.Context, pw *store.PartitionWrite) error {
	w.mu.Lock()
	w.calls++
	first := w.calls == 1
	w.mu.Unlock()
	if first {
		select {
		case <-w.second:
		case <-time.After(30 * time.Second):
			return errors.New("no second partition was written while the first was")
		}
	} else {
		w.once.Do(func() { close(w.second) })
	}
	if pw.Part == w.fail {
		return errors.New("the disk is full")
	}
	return w.Store.WritePartition(ctx, pw)
}

// convertInto runs the sample tenant's conversion into st.
func convertInto(t *testing.T, st store.Store) (*engine.Report, error) {
	t.Helper()
	spec, opener := enginetest.SampleTenant(t)
	var last engine.Progress
	rep, err := engine.Run(context.Background(), engine.Options{Spec: spec, Opener: opener, Store: st, SpillDir: t.TempDir(),
		Progress: func(p engine.Progress) {
			if p.Stage == last.Stage && p.Percent < last.Percent {
				t.Errorf("progress went back from %d%% to %d%% while %s", last.Percent, p.Percent, p.Stage)
			}
			last = p
		}})
	if err == nil && (last.Percent != 100 || last.Contacts != rep.Contacts) {
		t.Errorf("the last progress is %d%% with %d contacts, want 100%% with %d", last.Percent, last.Contacts, rep.Contacts)
	}
	return rep, err
}

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "contacts.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func exported(t *testing.T, st store.Store) []store.Exported {
	t.Helper()
	var all []store.Exported
	if err := st.Export(context.Background(), func(e *store.Exported) error {
		all = append(all, *e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return all
}

func TestPartitionsAreWrittenAtOnceWhenTheStoreTakesThem(t *testing.T) {
	one := openSQLite(t)
	want, err := convertInto(t, one)
	if err != nil {
		t.Fatal(err)
	}
	two := twoWriters(t, -1)
	got, err := convertInto(t, two)
	if err != nil {
		t.Fatal(err)
	}
	if two.calls != want.Partitions {
		t.Errorf("%d partitions written, want %d", two.calls, want.Partitions)
	}
	if diff := cmp.Diff(exported(t, one), exported(t, two)); diff != "" {
		t.Errorf("two writers stored other contacts than one (-one +two):\n%s", diff)
	}
	if got.Contacts != want.Contacts || got.DuplicatesMerged != want.DuplicatesMerged || got.Conflicts != want.Conflicts {
		t.Errorf("two writers counted %d contacts, %d duplicates, %d conflicts; one counted %d, %d, %d",
			got.Contacts, got.DuplicatesMerged, got.Conflicts, want.Contacts, want.DuplicatesMerged, want.Conflicts)
	}
}

func TestAFailedWriteStopsEveryWriter(t *testing.T) {
	st := twoWriters(t, 5)
	_, err := convertInto(t, st)
	if err == nil || !strings.Contains(err.Error(), "writing partition 5: the disk is full") {
		t.Fatalf("the run ended with %v, want the failed partition's error", err)
	}
}

// A slow progress report (a status write to a busy API server) does not
// hold the other writers: while the first report of the merge waits, they
// go on writing partitions.
func TestASlowProgressReportHoldsNoWriter(t *testing.T) {
	st := twoWriters(t, -1)
	spec, opener := enginetest.SampleTenant(t)
	blocked := false
	if _, err := engine.Run(context.Background(), engine.Options{Spec: spec, Opener: opener, Store: st, SpillDir: t.TempDir(),
		Progress: func(p engine.Progress) {
			if p.Stage != "merging" || p.Percent <= 50 || blocked {
				return
			}
			blocked = true
			st.mu.Lock()
			from := st.calls
			st.mu.Unlock()
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				st.mu.Lock()
				n := st.calls
				st.mu.Unlock()
				if n >= from+3 {
					return
				}
			}
			t.Error("no partition was written while a progress report waited")
		}}); err != nil {
		t.Fatal(err)
	}
	if !blocked {
		t.Fatal("no progress was reported while merging")
	}
}
