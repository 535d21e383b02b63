package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPartitionsFor(t *testing.T) {
	for _, tc := range []struct {
		bytes int64
		want  int
	}{
		{0, MinPartitions}, {100 << 20, MinPartitions}, {256 << 20, 128}, {257 << 20, 256},
		{1200 << 20, 1024}, {1 << 40, MaxPartitions},
	} {
		if got := PartitionsFor(tc.bytes); got != tc.want {
			t.Errorf("PartitionsFor(%d MiB) = %d, want %d", tc.bytes>>20, got, tc.want)
		}
	}
}

// Each shard counts what it wrote: rows merged, rows of contacts erased
// during the run, and imported opt-outs; the whole run's report sums them.
func TestCombineShardsSumsWhatEachShardWrote(t *testing.T) {
	shard := func(merged, suppressed, other, optOuts int64) *Report {
		return &Report{RunKey: "k", Sources: []SourceReport{{Name: "a", RowsRead: 10, RowsMerged: merged, RowsSuppressed: suppressed,
			RowsOtherShards: other, OptOutsImported: optOuts, OptOutScope: "Global"}}}
	}
	got, err := CombineShards([]*Report{shard(5, 1, 4, 2), shard(3, 1, 6, 1)})
	if err != nil {
		t.Fatal(err)
	}
	want := SourceReport{Name: "a", RowsRead: 10, RowsMerged: 8, RowsSuppressed: 2, OptOutsImported: 3, OptOutScope: "Global"}
	if diff := cmp.Diff(want, got.Sources[0]); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
