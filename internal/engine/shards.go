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

// PlanReads gives each source to a shard to read, given each source's text
// size: the largest first, each to the shard with the least to read so far.
// Lists come whole, so the reading splits unevenly; PlanMerges evens it out.
// Ties go to the shard with the fewest sources (lists of unknown size weigh
// 0), then the lowest.
func PlanReads(sizes []int64, shards int) []int {
	owners := make([]int, len(sizes))
	if shards <= 1 {
		return owners
	}
	load, taken := make([]int64, shards), make([]int, shards)
	for _, src := range largestFirst(sizes) {
		s := leastLoaded(load, taken)
		owners[src] = s
		load[s] += sizes[src]
		taken[s]++
	}
	return owners
}

// largestFirst is the indexes of sizes, the largest size first; equal sizes
// keep their order.
func largestFirst(sizes []int64) []int {
	order := make([]int, len(sizes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(sizes[b], sizes[a]) })
	return order
}

// leastLoaded is the shard with the least load, then the fewest items taken,
// then the lowest index.
func leastLoaded[L cmp.Ordered](load []L, taken []int) int {
	s := 0
	for k := range load {
		if load[k] < load[s] || load[k] == load[s] && taken[k] < taken[s] {
			s = k
		}
	}
	return s
}

// PlanMerges gives each partition to a shard to merge and write, once every
// shard has read. A shard's load starts at the CPU time its reading took,
// as measured: a list's size says little of what reading it costs (an Excel
// workbook, a compressed or a UTF-16 list, wide or narrow rows). Then each
// partition, the fullest first, goes to the shard with the least load, and
// adds perRow for each of its rows. Ties go to the shard with the fewest
// partitions, then the lowest. Every shard plans from the same figures,
// the ones handed out, so all agree.
func PlanMerges(spent []time.Duration, partRows []int64, perRow time.Duration) []int {
	owners := make([]int, len(partRows))
	if len(spent) <= 1 {
		return owners
	}
	load, taken := slices.Clone(spent), make([]int, len(spent))
	for _, p := range largestFirst(partRows) {
		s := leastLoaded(load, taken)
		owners[p] = s
		load[s] += time.Duration(partRows[p]) * perRow
		taken[s]++
	}
	return owners
}

// Merging and writing a row costs about mergeCostNum/mergeCostDen times
// the CPU reading one did: in the shards of the bench tenants, into
// PostgreSQL, 1.7 times with 1M contacts and 2.1 times with 10M (the
// tables grow).
const mergeCostNum, mergeCostDen = 19, 10

// mergeRowCost is the CPU time merging and writing a row is expected to
// take, from what the shards spent reading their rows.
func mergeRowCost(spent []time.Duration, rows []int64) time.Duration {
	var total time.Duration
	var n int64
	for i := range spent {
		total += spent[i]
		n += rows[i]
	}
	if n == 0 {
		return 0
	}
	return total * mergeCostNum / (time.Duration(n) * mergeCostDen)
}

// shardRead is what one shard read: the reports and digests of its
// sources, what the reading cost, and how many of its rows (and of their
// opt-outs) fall in each partition. A run that is not sharded has one.
type shardRead struct {
	// Version is shardReadVersion: a shard restarted with another build
	// must not misread what the others handed out.
	Version    int            `json:"version"`
	Partitions int            `json:"partitions"`
	Sources    []SourceReport `json:"sources"`
	// Digests hold each source's digest, "" for the sources it did not read.
	Digests []string `json:"digests"`
	// ReadCPU is the CPU time the shard took until it had read its share.
	ReadCPU time.Duration `json:"readCPU"`
	// Rows and OptOuts count by source, then partition; nil for the sources
	// the shard did not read.
	Rows                [][]int64        `json:"rows"`
	OptOuts             [][]int64        `json:"optOuts"`
	UnknownLanguages    map[string]int64 `json:"unknownLanguages,omitempty"`
	UnknownOptOutValues int64            `json:"unknownOptOutValues,omitempty"`
	UnknownOptOutTimes  int64            `json:"unknownOptOutTimes,omitempty"`
	NamesFromFullName   int64            `json:"namesFromFullName,omitempty"`
}

const shardReadVersion = 2

// maxUnknownLanguages bounds the unknown language values a shard passes on.
const maxUnknownLanguages = 1000

// shardRead sums what this shard's readers read.
func (r *runner) shardRead() shardRead {
	n := len(r.o.Spec.Sources)
	read := shardRead{Version: shardReadVersion, Partitions: r.o.Partitions, Sources: r.read, Digests: r.digests,
		ReadCPU: time.Duration(r.report.Seconds.CPU.Read * float64(time.Second)),
		Rows:    make([][]int64, n), OptOuts: make([][]int64, n), UnknownLanguages: map[string]int64{}}
	for _, rd := range r.readers {
		// A source is read by one reader: its counts are that reader's.
		for i := range n {
			if rd.rows[i] != nil {
				read.Rows[i], read.OptOuts[i] = rd.rows[i], rd.optOuts[i]
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

// checkRead tells whether shard k's read fits this shard's.
func (r *runner) checkRead(k int, read shardRead) error {
	if read.Version != shardReadVersion {
		return fmt.Errorf("shard %d handed out its rows from another build of contact-converter: run again with a new run id", k)
	}
	n := len(r.report.Sources)
	if read.Partitions != r.o.Partitions || len(read.Sources) != n || len(read.Rows) != n || len(read.OptOuts) != n {
		return fmt.Errorf("shard %d read %d sources in %d partitions, this one %d in %d: "+
			"a list changed size while the shards opened it; run again, or give --partitions",
			k, len(read.Sources), read.Partitions, n, r.o.Partitions)
	}
	for i := range n {
		if len(read.OptOuts[i]) != len(read.Rows[i]) || (read.Rows[i] != nil && len(read.Rows[i]) != r.o.Partitions) {
			return fmt.Errorf("shard %d counted the rows of spec.sources[%d] in another number of partitions than %d", k, i, r.o.Partitions)
		}
	}
	return nil
}

// planMerges splits the partitions between the shards from what each read.
func (r *runner) planMerges(reads []shardRead) {
	spent, rowsRead := make([]time.Duration, len(reads)), make([]int64, len(reads))
	partRows := make([]int64, r.o.Partitions)
	for k, read := range reads {
		spent[k] = read.ReadCPU
		for i, rows := range read.Rows {
			if rows != nil {
				rowsRead[k] += read.Sources[i].RowsRead
			}
			for p, n := range rows {
				partRows[p] += n
			}
		}
	}
	r.merges = PlanMerges(spent, partRows, mergeRowCost(spent, rowsRead))
}

// applyReads puts what every shard read into this shard's report: the
// sources' reads whole (every shard's report says the same), and, of the
// rows, those this shard merges; the others are left to other shards. The
// run key comes from every source's digest, so all shards share it.
func (r *runner) applyReads(reads []shardRead) error {
	rep := r.report
	unknown := map[string]int64{}
	for k, read := range reads {
		if err := r.checkRead(k, read); err != nil {
			return err
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
	r.planMerges(reads)
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
			for p := range read.Rows[i] {
				if r.mine(p) {
					mine += read.Rows[i][p]
					o.OptOutsImported += read.OptOuts[i][p]
				}
			}
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
