package engine

import (
	"testing"
	"time"

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
func TestPlanReads(t *testing.T) {
	bench := []int64{227, 209, 176, 157, 126, 78} // the bench tenant's text, webshop in UTF-16
	for _, tc := range []struct {
		name   string
		sizes  []int64
		shards int
		want   []int
	}{
		{name: "one shard reads all", sizes: []int64{5, 3, 9}, shards: 1, want: []int{0, 0, 0}},
		{name: "no shard count reads all on one", sizes: []int64{5, 3}, shards: 0, want: []int{0, 0}},
		{name: "the largest first, to the least loaded", sizes: []int64{30, 10, 15}, shards: 2, want: []int{0, 1, 1}},
		{name: "empty lists", sizes: []int64{0, 0}, shards: 2, want: []int{0, 1}},
		{name: "more shards than sources", sizes: []int64{10, 20}, shards: 4, want: []int{1, 0}},
		{name: "equal sizes in source order", sizes: []int64{1, 1, 1, 1}, shards: 2, want: []int{0, 1, 0, 1}},
		{name: "the bench tenant on four shards", sizes: bench, shards: 4, want: []int{0, 1, 2, 3, 3, 2}},
		{name: "the bench tenant on two shards", sizes: bench, shards: 2, want: []int{0, 1, 1, 0, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, PlanReads(tc.sizes, tc.shards)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Once every shard has read, each partition (the fullest first) goes to the
// shard with the least CPU time so far: its reading, as measured, then the
// partitions it took, at a cost per row. So a shard whose reading took
// longer, whatever the size of its lists, merges less.
func TestPlanMerges(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name     string
		spent    []time.Duration
		partRows []int64
		perRow   time.Duration
		want     []int
	}{
		{name: "one shard merges all", spent: []time.Duration{5 * ms}, partRows: []int64{3, 1, 2}, perRow: ms,
			want: []int{0, 0, 0}},
		{name: "the shard that read for less merges more", spent: []time.Duration{30 * ms, 10 * ms},
			partRows: []int64{10, 10, 10, 10}, perRow: ms, want: []int{1, 1, 0, 1}},
		{name: "a shard busy reading merges nothing", spent: []time.Duration{time.Second, 0},
			partRows: []int64{10, 10}, perRow: ms, want: []int{1, 1}},
		{name: "the fullest partition first", spent: []time.Duration{0, 0},
			partRows: []int64{1, 5, 2, 4}, perRow: ms, want: []int{0, 0, 1, 1}},
		{name: "empty partitions and no reading: dealt in turn", spent: []time.Duration{0, 0},
			partRows: []int64{0, 0, 0, 0}, perRow: ms, want: []int{0, 1, 0, 1}},
		{name: "more shards than rows", spent: []time.Duration{0, 0, 0, 0},
			partRows: []int64{1, 1}, perRow: ms, want: []int{0, 1}},
		{name: "measured reading beats list size", spent: []time.Duration{900 * ms, 700 * ms, 1070 * ms, 1100 * ms},
			partRows: []int64{15000, 15000, 15000, 15000, 15000, 15000, 15000, 15000}, perRow: 44 * time.Microsecond,
			want: []int{1, 0, 2, 3, 1, 0, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, PlanMerges(tc.spent, tc.partRows, tc.perRow)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// A row costs mergeCostNum/mergeCostDen times what reading one did, on average over every
// shard; nothing read costs nothing.
func TestMergeRowCost(t *testing.T) {
	for _, tc := range []struct {
		spent []time.Duration
		rows  []int64
		want  time.Duration
	}{
		{spent: []time.Duration{3 * time.Second, time.Second}, rows: []int64{1_000_000, 1_000_000}, want: 3800 * time.Nanosecond},
		{spent: []time.Duration{time.Second}, rows: []int64{0}, want: 0},
		{spent: nil, rows: nil, want: 0},
	} {
		if got := mergeRowCost(tc.spent, tc.rows); got != tc.want {
			t.Errorf("mergeRowCost(%v, %v) = %v, want %v", tc.spent, tc.rows, got, tc.want)
		}
	}
}

// What another shard handed out is checked before it is trusted: its
// build's layout, and counts that fit this shard's sources and partitions.
func TestCheckRead(t *testing.T) {
	r := &runner{o: Options{Partitions: 2}, report: &Report{Sources: make([]SourceReport, 2)}}
	good := func() shardRead {
		return shardRead{Version: shardReadVersion, Partitions: 2, Sources: make([]SourceReport, 2),
			Rows: [][]int64{{1, 2}, nil}, OptOuts: [][]int64{{0, 1}, nil}}
	}
	for _, tc := range []struct {
		name   string
		change func(*shardRead)
		want   string
	}{
		{name: "fits", change: func(*shardRead) {}},
		{name: "another build", change: func(s *shardRead) { s.Version = 0 },
			want: "shard 1 handed out its rows from another build of contact-converter: run again with a new run id"},
		{name: "other partitions", change: func(s *shardRead) { s.Partitions = 4 },
			want: "shard 1 read 2 sources in 4 partitions, this one 2 in 2: a list changed size while the shards opened it; run again, or give --partitions"},
		{name: "a source's rows in other partitions", change: func(s *shardRead) { s.Rows[0], s.OptOuts[0] = []int64{1}, []int64{0} },
			want: "shard 1 counted the rows of spec.sources[0] in another number of partitions than 2"},
		{name: "rows without opt-outs", change: func(s *shardRead) { s.OptOuts[0] = nil },
			want: "shard 1 counted the rows of spec.sources[0] in another number of partitions than 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read := good()
			tc.change(&read)
			got := ""
			if err := r.checkRead(1, read); err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
