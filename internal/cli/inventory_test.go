package cli

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/contactconverter/contact-converter/internal/store"
)

// The inventory counts what the database holds, as a recount of the
// exported contacts does, and the consent evidence by action and month.
func TestInventory(t *testing.T) {
	for name, newDB := range testDatabases {
		t.Run(name, func(t *testing.T) {
			db := newDB(t)
			if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", db); err != nil {
				t.Fatal(err)
			}
			st, err := store.Open(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if err := st.Suppress(context.Background(), "kim@example.nl", "test"); err != nil {
				t.Fatal(err)
			}
			got, err := st.Inventory(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := &store.Inventory{Sources: map[string]int64{}, Segments: map[string]map[string]int64{}, Languages: map[string]int64{}, Erasures: 1}
			for _, e := range exported(t, db) {
				want.Contacts++
				if e.GlobalOptOut {
					want.GlobalOptOuts++
				}
				if e.Undeliverable {
					want.Undeliverable++
				}
				for _, s := range e.Sources {
					want.Sources[s]++
				}
				for seg, status := range e.Segments {
					if want.Segments[seg] == nil {
						want.Segments[seg] = map[string]int64{}
					}
					want.Segments[seg][status]++
				}
				want.Languages[e.Language]++
			}
			// Mailchimp's two dated opt-outs; the lists' four undated ones,
			// dated by this run; the erasure (its evidence kept under the
			// hash).
			month := time.Now().UTC().Format("2006-01")
			want.ConsentEvents = []store.EventCount{
				{Action: store.ActionUnsubscribeAll, Month: "2021-09", Count: 1},
				{Action: store.ActionUnsubscribeAll, Month: "2024-03", Count: 1},
				{Action: store.ActionErase, Month: month, Count: 1},
				{Action: store.ActionUnsubscribe, Month: month, Count: 4},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("inventory (-want +got):\n%s", diff)
			}
		})
	}
}
