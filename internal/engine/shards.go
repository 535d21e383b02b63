package engine

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/contactconverter/contact-converter/internal/merge"
	"github.com/contactconverter/contact-converter/internal/store"
)

// ShardPlan says which shard reads each source and which merges each
// partition. Every shard computes the same plan from the same sizes.
type ShardPlan struct {
	Sources, Partitions []int
}

// Merging and writing a byte of text costs about mergeCost/readCost times
// what reading it does (measured on the bench tenant into PostgreSQL). The
// plan weighs work in integers, so shards on different CPUs agree on it.
const (
	readCost  = 5
	mergeCost = 8
)

// PlanShards splits a run's work between shards, given each source's text
// size. The largest source goes first, each to the shard with the least to
// read so far; then each partition, a share of the merging, goes to the
// shard with the least work so far, reading included. Lists come whole, so
// the reading splits unevenly; the merging evens it out. Ties go to the
// lowest shard.
func PlanShards(sizes []int64, shards, partitions int) ShardPlan {
	plan := ShardPlan{Sources: make([]int, len(sizes)), Partitions: make([]int, partitions)}
	if shards <= 1 {
		return plan
	}
	order := make([]int, len(sizes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(sizes[b], sizes[a]) })
	load := make([]int64, shards)
	least := func() int { return slices.Index(load, slices.Min(load)) }
	var total int64
	for _, src := range order {
		s := least()
		plan.Sources[src] = s
		load[s] += readCost * sizes[src]
		total += sizes[src]
	}
	share := max(mergeCost*total/int64(max(partitions, 1)), 1)
	for p := range plan.Partitions {
		s := least()
		plan.Partitions[p] = s
		load[s] += share
	}
	return plan
}

// shardRead is what one shard read: the reports and digests of its
// sources, and how many of its rows (and of their opt-outs) fall in each
// shard's partitions. A run that is not sharded has one.
type shardRead struct {
	Partitions int `json:"partitions"`
	// Merges holds the shard that merges each partition, as this shard
	// planned it.
	Merges  []int          `json:"merges"`
	Sources []SourceReport `json:"sources"`
	// Digests hold each source's digest, "" for the sources it did not read.
	Digests []string `json:"digests"`
	// Rows and OptOuts count by shard, then source.
	Rows                [][]int64        `json:"rows"`
	OptOuts             [][]int64        `json:"optOuts"`
	UnknownLanguages    map[string]int64 `json:"unknownLanguages,omitempty"`
	UnknownOptOutValues int64            `json:"unknownOptOutValues,omitempty"`
	UnknownOptOutTimes  int64            `json:"unknownOptOutTimes,omitempty"`
	NamesFromFullName   int64            `json:"namesFromFullName,omitempty"`
}

// maxUnknownLanguages bounds the unknown language values a shard passes on.
const maxUnknownLanguages = 1000

// shardRead sums what this shard's readers read.
func (r *runner) shardRead() shardRead {
	n := len(r.o.Spec.Sources)
	read := shardRead{Partitions: r.o.Partitions, Merges: r.plan.Partitions, Sources: r.read, Digests: r.digests,
		Rows: counts(r.o.Shards, n), OptOuts: counts(r.o.Shards, n), UnknownLanguages: map[string]int64{}}
	for _, rd := range r.readers {
		for s := range r.o.Shards {
			for i := range n {
				read.Rows[s][i] += rd.rows[s][i]
				read.OptOuts[s][i] += rd.optOuts[s][i]
			}
		}
		mergeCounts(read.UnknownLanguages, rd.parser.unknownLangs)
		read.UnknownOptOutValues += rd.parser.unknownOptOuts
		read.UnknownOptOutTimes += rd.parser.unknownOptOutTimes
		read.NamesFromFullName += rd.parser.namesFromFullName
	}
	if len(read.UnknownLanguages) > maxUnknownLanguages {
		keep := map[string]int64{}
		for _, vc := range topCounts(read.UnknownLanguages, maxUnknownLanguages) {
			keep[vc.Value] = vc.Count
		}
		read.UnknownLanguages = keep
	}
	return read
}

// applyReads puts what every shard read into this shard's report: the
// sources' reads whole (every shard's report says the same), and, of the
// rows, those this shard merges; the others are left to other shards. The
// run key comes from every source's digest, so all shards share it.
func (r *runner) applyReads(reads []shardRead) error {
	rep := r.report
	unknown := map[string]int64{}
	for k, read := range reads {
		if read.Partitions != r.o.Partitions || len(read.Sources) != len(rep.Sources) || len(read.Rows) != r.o.Shards {
			return fmt.Errorf("shard %d read with %d partitions and %d shards, this one with %d and %d: "+
				"a list changed size while the shards opened it; run again, or give --partitions",
				k, read.Partitions, len(read.Rows), r.o.Partitions, r.o.Shards)
		}
		if !slices.Equal(read.Merges, r.plan.Partitions) {
			return fmt.Errorf("shard %d split the partitions between the shards unlike this one: "+
				"a list changed size while the shards opened it; run again", k)
		}
		for i, s := range read.Sources {
			o := &rep.Sources[i]
			if read.Digests[i] != "" {
				o.Format, o.Mapping, o.Files = s.Format, s.Mapping, s.Files
				r.digests[i] = read.Digests[i]
			}
			o.RowsRead += s.RowsRead
			o.RowsRejected += s.RowsRejected
			for reason, n := range s.Rejections {
				if o.Rejections == nil {
					o.Rejections = map[string]int64{}
				}
				o.Rejections[reason] += n
			}
		}
		mergeCounts(unknown, read.UnknownLanguages)
		rep.UnknownOptOutValues += read.UnknownOptOutValues
		rep.UnknownOptOutTimes += read.UnknownOptOutTimes
		rep.NamesFromFullName += read.NamesFromFullName
	}
	rep.UnknownLanguages = topCounts(unknown, 20)
	if r.exchange != nil {
		own := reads[r.o.Shard]
		rep.Shard = &ShardReport{Index: r.o.Shard, Sources: []int{}}
		for i, d := range own.Digests {
			if d != "" {
				rep.Shard.Sources = append(rep.Shard.Sources, i)
				rep.Shard.RowsRead += own.Sources[i].RowsRead
			}
		}
	}
	for i := range rep.Sources {
		o := &rep.Sources[i]
		mine := int64(0)
		for _, read := range reads {
			mine += read.Rows[r.o.Shard][i]
			o.OptOutsImported += read.OptOuts[r.o.Shard][i]
		}
		o.RowsOtherShards = o.RowsRead - o.RowsRejected - mine
	}
	// The run key covers everything the merge depends on: spec, layout, and
	// every header and record read. Erasures and preference changes are not
	// in it: each partition write applies them as they stand then.
	key := sha256.New()
	fmt.Fprintf(key, "%s|%d|%d\n", r.o.Spec.RunHash(), r.o.Partitions, r.o.Shards)
	for i, d := range r.digests {
		raw, err := hex.DecodeString(d)
		if err != nil || len(raw) != sha256.Size {
			return fmt.Errorf("no shard read spec.sources[%d] (%s)", i, r.o.Spec.Sources[i].Name)
		}
		key.Write(raw)
	}
	rep.RunKey = hex.EncodeToString(key.Sum(nil))[:32]
	return nil
}

func mergeCounts(into, from map[string]int64) {
	for v, n := range from {
		into[v] += n
	}
}

// parcels yields every partition's rows this shard read, one parcel a
// partition, then its rejected rows.
func (r *runner) parcels() func() (store.Parcel, error) {
	part := 0
	rejected := false
	var buf []byte
	next := func() (store.Parcel, error) {
		for ; part < r.o.Partitions; part++ {
			var rows int64
			var err error
			if buf, rows, err = r.spill.appendPart(buf[:0], part); err != nil {
				return store.Parcel{}, err
			}
			if rows > 0 {
				pc := store.Parcel{Part: part, Rows: rows, Data: buf}
				part++
				return pc, nil
			}
		}
		if rejected {
			return store.Parcel{}, io.EOF
		}
		rejected = true
		var rows int64
		buf = buf[:0]
		for _, rd := range r.readers {
			var err error
			if buf, err = appendFile(buf, rd.rejects.path); err != nil {
				return store.Parcel{}, fmt.Errorf("spill of rejected rows: %w", err)
			}
			rows += rd.rejects.rows
		}
		if rows == 0 {
			return store.Parcel{}, io.EOF
		}
		return store.Parcel{Part: store.RejectedPart, Rows: rows, Data: buf}, nil
	}
	return next
}

// load returns a partition's rows, sorted: from the spill or, in a sharded
// run, from every shard's parcel.
func (r *runner) load(ctx context.Context, part int) ([]merge.Row, error) {
	if r.exchange == nil {
		return r.spill.load(part)
	}
	var parcels []store.Parcel
	var n int64
	err := r.exchange.Parcels(ctx, r.o.RunID, part, func(pc store.Parcel) error {
		parcels = append(parcels, pc)
		n += pc.Rows
		return nil
	})
	if err != nil {
		return nil, err
	}
	rows := make([]merge.Row, 0, n)
	for _, pc := range parcels {
		if rows, err = decodeRows(pc.Data, rows); err != nil {
			return nil, fmt.Errorf("shard %d's parcel of partition %d: %w", pc.Shard, part, err)
		}
	}
	return sortByKey(rows), nil
}

// exchangedRejects gathers every shard's rejected rows into one spill file.
func (r *runner) exchangedRejects(ctx context.Context) (*rejectSpill, error) {
	path := filepath.Join(r.spill.dir, "rejected-exchanged.rows")
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	w := bufio.NewWriter(f)
	err = r.exchange.Parcels(ctx, r.o.RunID, store.RejectedPart, func(pc store.Parcel) error {
		_, err := w.Write(pc.Data)
		return err
	})
	if err = errors.Join(err, w.Flush(), f.Close()); err != nil {
		return nil, err
	}
	return &rejectSpill{path: path}, nil
}

// cpuSeconds is the CPU time (user and system) the process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
