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

// The largest source goes first, each to the shard with the least to read
// (ties go to the lowest source and shard); then each partition goes to the
// shard with the least work so far, reading included, so a shard that
// reads less merges more.
func TestPlanShards(t *testing.T) {
	bench := []int64{227, 209, 176, 157, 126, 78} // the bench tenant's text, webshop in UTF-16
	type summary struct {
		Sources []int
		// Merges counts each shard's partitions; First are the owners of
		// the first partitions.
		Merges, First []int
	}
	for _, tc := range []struct {
		name               string
		sizes              []int64
		shards, partitions int
		want               summary
	}{
		{name: "one shard does all", sizes: []int64{5, 3, 9}, shards: 1, partitions: 4,
			want: summary{Sources: []int{0, 0, 0}, Merges: []int{4}, First: []int{0, 0, 0, 0}}},
		{name: "the shard that reads less merges more", sizes: []int64{30, 10}, shards: 2, partitions: 4,
			want: summary{Sources: []int{0, 1}, Merges: []int{1, 3}, First: []int{1, 1, 0, 1}}},
		{name: "a shard busy reading merges nothing", sizes: []int64{1000, 1}, shards: 2, partitions: 2,
			want: summary{Sources: []int{0, 1}, Merges: []int{0, 2}, First: []int{1, 1}}},
		{name: "empty lists: the partitions are dealt in turn", sizes: []int64{0, 0}, shards: 2, partitions: 4,
			want: summary{Sources: []int{0, 0}, Merges: []int{2, 2}, First: []int{0, 1, 0, 1}}},
		{name: "more shards than sources", sizes: []int64{10, 20}, shards: 4, partitions: 8,
			want: summary{Sources: []int{1, 0}, Merges: []int{0, 2, 3, 3}, First: []int{2, 3, 2, 3, 1, 2, 3, 1}}},
		{name: "equal sizes in source order", sizes: []int64{1, 1, 1, 1}, shards: 2, partitions: 2,
			want: summary{Sources: []int{0, 1, 0, 1}, Merges: []int{1, 1}, First: []int{0, 1}}},
		{name: "the bench tenant on four shards", sizes: bench, shards: 4, partitions: 128,
			want: summary{Sources: []int{0, 1, 2, 3, 3, 2}, Merges: []int{33, 35, 31, 29}, First: []int{1, 1, 0, 1, 0, 1, 0, 2}}},
		{name: "the bench tenant on two shards", sizes: bench, shards: 2, partitions: 128,
			want: summary{Sources: []int{0, 1, 1, 0, 0, 1}, Merges: []int{62, 66}, First: []int{1, 1, 1, 1, 0, 1, 0, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := PlanShards(tc.sizes, tc.shards, tc.partitions)
			got := summary{Sources: plan.Sources, Merges: make([]int, max(tc.shards, 1)), First: plan.Partitions[:min(8, len(plan.Partitions))]}
			for _, s := range plan.Partitions {
				got.Merges[s]++
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
