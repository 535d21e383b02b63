package engine

import "testing"

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

// Checkpoints and the database layout depend on the partition of a key never
// changing between versions: these values are pinned.
func TestPartitionOfIsStable(t *testing.T) {
	if got := partitionOf("jan.peeters@example.be", 128); got != 99 {
		t.Errorf("partitionOf(jan.peeters@example.be, 128) = %d, want 99", got)
	}
	if got := partitionOf("a@b.be", 1024); got != 709 {
		t.Errorf("partitionOf(a@b.be, 1024) = %d, want 709", got)
	}
}
