package store

import "hash/fnv"

// Buckets is how many fixed hash buckets keys fall into. Contacts and
// preference-center changes are stored by bucket, so a contact is found from
// its key alone, whatever partition count a run chose; a run's partition is a
// contiguous range of buckets.
const Buckets = 8192

// Bucket is the bucket of a key: the top 13 bits of its FNV-1a hash.
func Bucket(key string) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum64() >> 51)
}

// PartitionOf is the partition, out of partitions (1..Buckets), that holds a
// key.
func PartitionOf(key string, partitions int) int {
	return Bucket(key) * partitions / Buckets
}

// BucketRange is the half-open range of buckets partition part of
// partitions covers.
func BucketRange(part, partitions int) (lo, hi int) {
	return ceilDiv(part*Buckets, partitions), ceilDiv((part+1)*Buckets, partitions)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
