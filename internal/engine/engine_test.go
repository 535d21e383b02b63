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
