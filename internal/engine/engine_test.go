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

// The largest source goes first, each to the shard with the least to read;
// ties go to the lowest source and shard.
func TestAssignSources(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sizes  []int64
		shards int
		want   []int
	}{
		{name: "one shard reads all", sizes: []int64{5, 3, 9}, shards: 1, want: []int{0, 0, 0}},
		{name: "the bench tenant on four shards", sizes: []int64{227, 209, 353, 157, 126, 78}, shards: 4, want: []int{1, 2, 0, 3, 3, 2}},
		{name: "the bench tenant on two shards", sizes: []int64{227, 209, 353, 157, 126, 78}, shards: 2, want: []int{1, 1, 0, 0, 1, 0}},
		{name: "more shards than sources", sizes: []int64{10, 20}, shards: 4, want: []int{1, 0}},
		{name: "equal sizes in source order", sizes: []int64{1, 1, 1, 1}, shards: 2, want: []int{0, 1, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, AssignSources(tc.sizes, tc.shards)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
