package cli

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/contactconverter/contact-converter/internal/listgen"
	"github.com/contactconverter/contact-converter/internal/merge"
	"github.com/contactconverter/contact-converter/internal/store"
	"github.com/contactconverter/contact-converter/internal/store/storetest"
)

// propertySize is the tenant of the interleaving test: small in `make
// test`, larger in `make bench` (CONSENT_PROPERTY_CONTACTS).
func propertySize(t *testing.T) int {
	n := 20_000
	if v := os.Getenv("CONSENT_PROPERTY_CONTACTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			t.Fatalf("CONSENT_PROPERTY_CONTACTS=%q: give a number of contacts, at least 1000", v)
		}
	}
	return n
}

// Random preference changes, one-clicks, rectifications and erasures run
// concurrently with a conversion that is paused (SIGTERM) and resumed, and
// killed (kill -9) and retried. The database must end as the merge with the
// newest applied change per contact and topic on top, and an erased address
// must be nowhere but as a hash.
func TestConsentHoldsAgainstRunsPausesAndKills(t *testing.T) {
	contacts := propertySize(t)
	tenant := generatedTenant(t, contacts)
	refDB := "sqlite:" + filepath.Join(t.TempDir(), "ref.db")
	if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", refDB); err != nil {
		t.Fatal(err)
	}
	for name, newDB := range testDatabases {
		t.Run(name, func(t *testing.T) {
			url := newDB(t)
			started := time.Now()
			changes := interleave(t, tenant, url, refKeys(t, refDB))
			checkConsent(t, url, refDB, changes)
			t.Logf("%d contacts, %d changes applied during 3 interruptions and the runs; %s", contacts, len(changes), time.Since(started).Round(time.Millisecond))
		})
	}
}

// interleave runs the conversion into url, interrupting it three times,
// while four writers apply random changes; it returns the changes applied.
func interleave(t *testing.T, tenant, url string, imported []string) []store.Change {
	ctx := context.Background()
	st, err := store.OpenService(ctx, url) // migrated before the first run starts
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	keys := make([]string, 0, 420)
	for _, i := range rng.Perm(len(imported))[:min(400, len(imported))] {
		keys = append(keys, imported[i])
	}
	for i := range 20 { // links sent to addresses no list holds yet
		keys = append(keys, fmt.Sprintf("not-imported-%d@example.org", i))
	}

	var mu sync.Mutex
	var applied []store.Change
	stop := make(chan struct{})
	var writers sync.WaitGroup
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for w := range 4 {
		r := rand.New(rand.NewPCG(seed, uint64(w)+2))
		writers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ch := randomChange(r, keys[r.IntN(len(keys))], base.Add(time.Duration(r.Int64N(int64(30*24*time.Hour)))))
				if err := st.Apply(ctx, []store.Change{ch}); err != nil {
					if !store.IsBusy(err) {
						t.Errorf("applying a change: %v", err)
						return
					}
					continue // refused, so not applied
				}
				mu.Lock()
				applied = append(applied, ch)
				mu.Unlock()
				time.Sleep(time.Duration(r.IntN(2000)) * time.Microsecond)
			}
		})
	}

	// Pause, pause, kill -9, then let the run finish.
	signals := []syscall.Signal{syscall.SIGTERM, syscall.SIGTERM, syscall.SIGKILL}
	interrupted := 0
	defer func() { t.Logf("%d of %d interruptions landed mid-run", interrupted, len(signals)) }()
	for round := 0; ; round++ {
		cmd, stderr := converter(t, tenant, url, "--partitions", "256")
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if round < len(signals) {
			at := 30 + 50*round + rng.IntN(30)
			if !waitFor(t, url, at, done) {
				t.Logf("round %d: the run ended before %d checkpoints", round, at)
				break
			}
			if err := cmd.Process.Signal(signals[round]); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err == nil {
				t.Logf("round %d: the run finished before %v", round, signals[round])
				break
			}
			interrupted++
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond) // paused: changes go on
			continue
		}
		if err := <-done; err != nil {
			t.Fatalf("the last run failed: %v\n%s", err, stderr)
		}
		break
	}
	time.Sleep(200 * time.Millisecond) // changes after the run, too
	close(stop)
	writers.Wait()
	return applied
}

// waitFor waits until url holds n checkpoints, or the run ends (false).
func waitFor(t *testing.T, url string, n int, done chan error) bool {
	db, rebind := storetest.Open(t, url)
	for {
		select {
		case err := <-done:
			done <- err
			return false
		case <-time.After(5 * time.Millisecond):
		}
		var got int
		if db.QueryRow(rebind(`SELECT count(*) FROM checkpoints`)).Scan(&got) == nil && got >= n {
			return true
		}
	}
}

var segments = func() []string {
	var out []string
	for _, l := range listgen.DefaultLists {
		out = append(out, l.Name)
	}
	return out
}()

func randomChange(r *rand.Rand, key string, at time.Time) store.Change {
	ch := store.Change{Key: key, Source: store.SourcePreferenceCenter, At: at}
	switch n := r.IntN(100); {
	case n < 30:
		ch.Action, ch.Segment = store.ActionSubscribe, segments[r.IntN(len(segments))]
	case n < 60:
		ch.Action, ch.Segment = store.ActionUnsubscribe, segments[r.IntN(len(segments))]
	case n < 75:
		ch.Action, ch.Topic, ch.Source = store.ActionUnsubscribeAll, "*", store.SourceOneClick
	case n < 85:
		ch.Action, ch.Topic = store.ActionWithdrawObjection, "*"
	case n < 97:
		ch.Action, ch.Topic, ch.Fields = store.ActionRectify, "profile", map[string]string{"firstName": fmt.Sprintf("Name%d", r.IntN(1000))}
	default:
		ch.Action, ch.Topic = store.ActionErase, "*"
	}
	return ch
}

func refKeys(t *testing.T, url string) []string {
	var keys []string
	for k := range exported(t, url) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func exported(t *testing.T, url string) map[string]*store.Exported {
	t.Helper()
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := map[string]*store.Exported{}
	if err := st.Export(context.Background(), func(e *store.Exported) error { out[e.Key] = e; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkConsent compares the database with the merge plus the newest
// applied change per contact and topic.
func checkConsent(t *testing.T, url, refDB string, changes []store.Change) {
	want := exported(t, refDB)
	slices.SortStableFunc(changes, func(a, b store.Change) int { return a.At.Compare(b.At) })
	erased := map[string]bool{}
	for _, ch := range changes {
		if ch.Action == store.ActionErase {
			erased[ch.Key] = true
		}
	}
	for _, ch := range changes { // oldest first: the newest is applied last
		c := want[ch.Key]
		if c == nil || erased[ch.Key] {
			continue
		}
		switch ch.Action {
		case store.ActionSubscribe:
			c.Segments[ch.Segment] = merge.Subscribed
		case store.ActionUnsubscribe:
			c.Segments[ch.Segment] = merge.Unsubscribed
		case store.ActionUnsubscribeAll, store.ActionWithdrawObjection:
			c.GlobalOptOut = ch.Action == store.ActionUnsubscribeAll
		case store.ActionRectify:
			c.FirstName = ch.Fields["firstName"]
		}
	}
	for key := range erased {
		delete(want, key)
		if got := storetest.Footprint(t, url, key); len(got) != 0 {
			t.Errorf("an erased address is still in %v", got)
		}
	}
	got := exported(t, url)
	if diff := cmp.Diff(want, got); diff != "" {
		lines := strings.Split(diff, "\n")
		t.Errorf("the database differs from the merge with the newest change per contact and topic (%d erased); first lines (-want +got):\n%s",
			len(erased), strings.Join(lines[:min(60, len(lines))], "\n"))
	}
}
