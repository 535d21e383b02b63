package statusreport

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/engine"
	"github.com/contactconverter/contact-converter/internal/merge"
	"github.com/contactconverter/contact-converter/internal/store"
)

// The status sample shows masked keys and no values; the full report,
// with keys and values, goes to a Secret.
func TestTheStatusSampleHoldsNoPersonalData(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "contacts.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := merge.Contact{Key: "marie.dubois@example.fr", Email: "marie.dubois@example.fr", Fields: map[string]string{}, Segments: map[string]string{},
		Conflicts: []merge.Conflict{{Field: "firstName", Values: []string{"Marie", "Maria"}}}}
	if err := st.WritePartition(ctx, &store.PartitionWrite{RunKey: "r", Part: 0, Partitions: 1, Contacts: []merge.Contact{c}}); err != nil {
		t.Fatal(err)
	}
	sample, data, err := conflictReport(ctx, st, &engine.Report{Conflicts: 1, Unresolved: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []ccv1.ConflictSample{{Key: "m•••@example.fr", Field: "firstName", Values: 2}}
	if diff := cmp.Diff(want, sample); diff != "" {
		t.Errorf("sample (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(data["conflicts.csv"]), "marie.dubois@example.fr,firstName,Marie | Maria,false") {
		t.Errorf("the report lacks the conflict:\n%s", data["conflicts.csv"])
	}
}

// Each shard reads its own share of the lists: rows and sources read, and
// opt-outs imported, add up over the shards, as contacts do.
func TestSumShards(t *testing.T) {
	entry := ccv1.ShardProgress{Index: 1, Job: "acme-g2", Percent: 50, SourcesDone: 2, RowsRead: 8, RowsRejected: 1, Contacts: 2, DuplicatesMerged: 1,
		OptOutsImported: &ccv1.OptOutCounts{Global: 2}}
	shards := []ccv1.ShardProgress{
		{Index: 0, Job: "acme-g2", Percent: 100, SourcesDone: 1, RowsRead: 13, RowsRejected: 2, Contacts: 4, DuplicatesMerged: 5,
			OptOutsImported: &ccv1.OptOutCounts{Segment: 1, Global: 1}},
		{Index: 1, Job: "acme-g2", Percent: 10, RowsRead: 5, Contacts: 0},      // this shard's older entry
		{Index: 2, Job: "acme-g1", Percent: 100, RowsRead: 21, Contacts: 9000}, // the last run's
	}
	want := &ccv1.Progress{SourcesTotal: 5, SourcesDone: 3, RowsRead: 21, RowsRejected: 3, Contacts: 6, DuplicatesMerged: 6, Percent: 50,
		OptOutsImported: &ccv1.OptOutCounts{Segment: 1, Global: 3}}
	if diff := cmp.Diff(want, SumShards(shards, entry, 3, 5)); diff != "" {
		t.Errorf("two of three shards reporting (-want +got):\n%s", diff)
	}
}
