package store

import (
	"fmt"
	"testing"
)

// The database layout depends on a key's bucket never changing between
// versions: these values are pinned.
func TestBucketIsStable(t *testing.T) {
	for key, want := range map[string]int{"jan.peeters@example.be": 6493, "a@b.be": 1861} {
		if got := Bucket(key); got != want {
			t.Errorf("Bucket(%q) = %d, want %d", key, got, want)
		}
	}
}

// Every bucket belongs to exactly the partition whose range holds it, for
// any partition count.
func TestBucketRangeMatchesPartitionOf(t *testing.T) {
	for _, n := range []int{1, 3, 128, 1000, 4096, Buckets} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			next := 0
			for p := range n {
				lo, hi := BucketRange(p, n)
				if lo != next || hi <= lo {
					t.Fatalf("partition %d of %d covers [%d, %d), want to start at %d", p, n, lo, hi, next)
				}
				for b := lo; b < hi; b++ {
					if got := b * n / Buckets; got != p {
						t.Fatalf("bucket %d: partition %d, but range of %d holds it", b, got, p)
					}
				}
				next = hi
			}
			if next != Buckets {
				t.Fatalf("partitions of %d cover %d buckets, want %d", n, next, Buckets)
			}
		})
	}
}
