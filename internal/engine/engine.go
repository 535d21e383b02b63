// Package engine runs a conversion: it reads every list, normalises and
// partitions the rows on disk, merges each partition and writes it to the
// store, checkpointing as it goes so an interrupted run resumes where it
// stopped and ends in the same database.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/merge"
	"github.com/contactconverter/contact-converter/internal/normalize"
	"github.com/contactconverter/contact-converter/internal/source"
	"github.com/contactconverter/contact-converter/internal/store"
)

// Partition counts: chosen from the input size so a partition holds about
// bytesPerPartition of rows (some 30,000), which bounds memory whatever the
// size of the lists.
const (
	MinPartitions     = 128
	MaxPartitions     = store.Buckets
	bytesPerPartition = 2 << 20
)

// PartitionsFor is the partition count for an input of total bytes: a power
// of two between MinPartitions and MaxPartitions.
func PartitionsFor(total int64) int {
	p := MinPartitions
	for p < MaxPartitions && int64(p)*bytesPerPartition < total {
		p *= 2
	}
	return p
}

// Opener gives the engine a source's data.
type Opener interface {
	// Open returns a source as a table.
	Open(ctx context.Context, index int, src *ccv1.Source) (source.Table, int64, error)
}

// Options configure a run.
type Options struct {
	Spec   *ccv1.ContactConversionSpec
	Opener Opener
	// Store receives the contacts; nil is a dry run.
	Store    store.Store
	SpillDir string
	// Partitions spreads the rows; 0 chooses from the input size.
	Partitions int
	// Shard and Shards split a run (PlanReads and PlanMerges say how). A
	// sharded run needs a Store with an Exchange: each shard reads its
	// share of the lists and hands every row to the shard that merges it.
	Shard, Shards int
	// RunID names a sharded run's exchange: the same for every shard of
	// one attempt, new for the next (the Job's uid).
	RunID string
	// Progress is called as the run advances.
	Progress func(Progress)
	// Now stamps the report.
	Now func() time.Time
	// Build identifies the program: a run by another build reads the lists
	// again, even unchanged.
	Build string
	// Reread reads lists even when nothing changed since the last run.
	Reread bool
}

// Progress is the state of a run.
type Progress struct {
	Stage            string
	SourcesTotal     int
	SourcesDone      int
	RowsRead         int64
	RowsRejected     int64
	Contacts         int64
	DuplicatesMerged int64
	Percent          int
	// OptOutsSegment and OptOutsGlobal count the rows read that carried
	// an opt-out, by scope.
	OptOutsSegment, OptOutsGlobal int64
}

// Run converts. It returns a *ConfigError for mistakes retrying cannot fix,
// and the context's error when interrupted (the work done so far is kept).
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Shards <= 0 {
		o.Shards = 1
	}
	if o.Partitions > MaxPartitions {
		return nil, &ConfigError{Err: fmt.Errorf("partitions: %d is more than %d; use 0 to choose from the input size", o.Partitions, MaxPartitions)}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	started := o.Now()
	r := &runner{o: o, rules: merge.NewRules(o.Spec), report: newReport(o.Spec), started: started, cpuStart: cpuSeconds()}
	err := r.run(ctx)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		// Interrupted mid-statement: the database said so in its own words.
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	r.report.Seconds.Total = o.Now().Sub(started).Seconds()
	r.report.Seconds.CPU.Total = cpuSeconds() - r.cpuStart
	return r.report, err
}

type runner struct {
	o       Options
	started time.Time
	// cpuStart is the process's CPU time when the run started.
	cpuStart float64
	rules    *merge.Rules
	report   *Report
	spill    *spill
	// readers read sources concurrently, each into its own spill files.
	readers []*reader
	// read is what this shard's readers read, source by source, and
	// digests digest each source's header and records, once it is read.
	read    []SourceReport
	digests []string
	// exchange hands rows between the shards of a sharded run. reads holds
	// the shard that reads each source; merges, set once every shard has
	// read, the shard that merges each partition.
	exchange store.Exchange
	reads    []int
	merges   []int
	// progMu guards prog, progChanged (not reported yet) and reporting (a
	// goroutine is calling the Progress callback).
	progMu      sync.Mutex
	prog        Progress
	progChanged bool
	reporting   bool
	// mergeSeconds is written by the merging goroutine.
	mergeSeconds atomic.Int64
}

// reader is what one reading goroutine owns.
type reader struct {
	parser  *rowParser
	spill   *spillWriter
	rejects *rejectSpill
	// rows and optOuts count the rows read, and those of them carrying an
	// opt-out, by source then partition; nil for a source not read.
	rows, optOuts [][]int64
}

func (r *runner) mine(part int) bool { return r.merges[part] == r.o.Shard }

func (r *runner) run(ctx context.Context) error {
	spec := r.o.Spec
	tables, sizes, text, err := r.openSources(ctx)
	defer func() {
		for _, tb := range tables {
			if tb != nil {
				_ = tb.Close()
			}
		}
	}()
	if err != nil {
		return err
	}
	var total int64
	for _, n := range sizes {
		total += n
	}
	if r.o.Partitions <= 0 {
		r.o.Partitions = PartitionsFor(total)
	}
	r.report.Partitions = r.o.Partitions
	if unchanged, err := r.unchanged(ctx, tables); unchanged || err != nil {
		return err
	}
	if r.o.Shards > 1 {
		ex, ok := r.o.Store.(store.Exchange)
		switch {
		case !ok:
			return &ConfigError{Err: errors.New("a sharded run needs a PostgreSQL database (spec.database.postgres, or --database postgres://...): its shards hand each other rows through it")}
		case r.o.RunID == "":
			return &ConfigError{Err: errors.New("a sharded run needs a run id, the same for every shard (the Job's uid)")}
		}
		r.exchange = ex
	}
	// A shard reads only the sources assigned to it.
	r.reads = PlanReads(text, r.o.Shards)
	for i, tb := range tables {
		if r.reads[i] != r.o.Shard && tb != nil {
			_ = tb.Close()
			tables[i] = nil
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(spec.Sources))
	if r.spill, err = newSpill(r.o.SpillDir, r.o.Partitions, workers); err != nil {
		return err
	}
	defer r.spill.remove()
	r.read, r.digests = newReport(spec).Sources, make([]string, len(spec.Sources))
	reads, err := r.readShare(ctx, tables)
	if err != nil {
		return err
	}
	if err := r.applyReads(reads); err != nil {
		return err
	}
	cpu := cpuSeconds()
	err = r.mergeAll(ctx)
	r.report.Seconds.Merge = time.Duration(r.mergeSeconds.Load()).Seconds()
	r.report.Seconds.CPU.MergeWrite = cpuSeconds() - cpu
	if err != nil {
		return err
	}
	return r.finish(ctx)
}

// readShare reads this shard's sources into the spill and returns what every
// shard read: this one's alone, or, in a sharded run, every shard's, once
// each has handed its rows to the exchange.
func (r *runner) readShare(ctx context.Context, tables []source.Table) ([]shardRead, error) {
	if r.exchange != nil {
		data, err := r.exchange.HandedOut(ctx, r.o.RunID, r.o.Shard)
		if err != nil {
			return nil, err
		}
		if data != nil {
			// Restarted after handing out its rows: the exchange has them.
			r.update(func(p *Progress) { p.Stage, p.SourcesTotal, p.Percent = "exchanging", 0, 50 })
			return r.awaitShards(ctx)
		}
	}
	for w := range r.spill.writers {
		rd := &reader{spill: r.spill.writers[w], parser: &rowParser{
			languages:    normalize.NewLanguages(languageAliases(r.o.Spec), languages(r.o.Spec), string(r.o.Spec.DefaultLanguage)),
			unknownLangs: map[string]int64{}},
			rows: make([][]int64, len(tables)), optOuts: make([][]int64, len(tables))}
		var err error
		if rd.rejects, err = newRejectSpill(r.spill.dir, w); err != nil {
			return nil, err
		}
		r.readers = append(r.readers, rd)
	}
	own := 0
	for _, tb := range tables {
		if tb != nil {
			own++
		}
	}
	r.prog = Progress{Stage: "reading", SourcesTotal: own}
	t := time.Now()
	if err := r.readAll(ctx, tables); err != nil {
		var ce *ConfigError
		if r.exchange != nil && errors.As(err, &ce) {
			// The other shards would wait for this one's rows forever.
			failCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			err = errors.Join(err, r.exchange.FailShard(failCtx, r.o.RunID, r.o.Shard, err.Error()))
		}
		return nil, err
	}
	errs := []error{r.spill.finish()}
	for _, rd := range r.readers {
		errs = append(errs, rd.rejects.finish())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	r.report.Seconds.Read = time.Since(t).Seconds()
	r.report.Seconds.CPU.Read = cpuSeconds() - r.cpuStart
	read := r.shardRead()
	if r.exchange == nil {
		return []shardRead{read}, nil
	}
	t, cpu := time.Now(), cpuSeconds()
	r.update(func(p *Progress) { p.Stage = "exchanging" })
	data, err := json.Marshal(read)
	if err != nil {
		return nil, err
	}
	if err := r.exchange.HandOut(ctx, r.o.RunID, r.o.Shard, r.parcels(), data); err != nil {
		return nil, err
	}
	r.report.Seconds.Exchange = time.Since(t).Seconds()
	r.report.Seconds.CPU.Exchange = cpuSeconds() - cpu
	return r.awaitShards(ctx)
}

// awaitShards waits until every shard has handed out its rows.
func (r *runner) awaitShards(ctx context.Context) ([]shardRead, error) {
	t := time.Now()
	all, err := r.exchange.AwaitShards(ctx, r.o.RunID, r.o.Shards, 200*time.Millisecond)
	r.report.Seconds.Wait = time.Since(t).Seconds()
	var failed *store.ShardFailedError
	if errors.As(err, &failed) {
		return nil, &ConfigError{Err: err}
	}
	if err != nil {
		return nil, err
	}
	reads := make([]shardRead, len(all))
	for i, data := range all {
		if err := json.Unmarshal(data, &reads[i]); err != nil {
			return nil, fmt.Errorf("what shard %d read: %w", i, err)
		}
	}
	return reads, nil
}

// unchanged tells whether the last run read the same lists (by their
// fingerprints: an object's ETag and size, a file's size and time, a
// ConfigMap's bytes) with the same spec and build, and no erasure since.
// Then there is nothing to do, and the report is the last run's, marked
// unchanged. Preference changes made since are already in the database. A sharded
// run, a run with a list of unknown fingerprint (a URL, a query) and a dry
// run always read.
func (r *runner) unchanged(ctx context.Context, tables []source.Table) (bool, error) {
	if r.o.Store == nil || r.o.Shards > 1 {
		return false, nil
	}
	prints := make([]string, len(tables))
	for i, tb := range tables {
		fp, ok := tb.(source.Fingerprinter)
		if !ok || fp.Fingerprint() == "" {
			return false, nil
		}
		prints[i] = fp.Fingerprint()
	}
	// An erasure since changes the counts: the lists are read again.
	erased, err := r.o.Store.SuppressionCount(ctx)
	if err != nil {
		return false, fmt.Errorf("counting erasures: %w", err)
	}
	key := sha256.New()
	fmt.Fprintf(key, "%s|%d|%s|%d\n", r.o.Spec.RunHash(), r.o.Partitions, r.o.Build, erased)
	for _, p := range prints {
		fmt.Fprintln(key, p)
	}
	r.report.InputKey = hex.EncodeToString(key.Sum(nil))[:32]
	if r.o.Reread {
		return false, nil
	}
	data, err := r.o.Store.LastReport(ctx)
	if err != nil || data == nil {
		return false, err
	}
	var last Report
	if err := json.Unmarshal(data, &last); err != nil || last.InputKey != r.report.InputKey {
		return false, nil //nolint:nilerr // an unreadable old report only means reading again
	}
	*r.report = last
	r.report.Unchanged = true
	r.report.Seconds = Timings{}
	r.prog = Progress{Stage: "done", Percent: 100, SourcesTotal: len(tables), SourcesDone: len(tables),
		RowsRead: last.RowsRead(), RowsRejected: last.RowsRejected(), Contacts: last.Contacts, DuplicatesMerged: last.DuplicatesMerged}
	r.update(func(*Progress) {})
	return true, nil
}

// readAll reads the sources, as many at once as there are readers.
func (r *runner) readAll(ctx context.Context, tables []source.Table) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int, len(tables))
	for i, tb := range tables {
		if tb != nil {
			next <- i
		}
	}
	close(next)
	errs := make([]error, len(r.readers))
	var wg sync.WaitGroup
	for w, rd := range r.readers {
		wg.Go(func() {
			for i := range next {
				if err := r.readSource(ctx, rd, i, tables[i]); err != nil {
					errs[w] = err
					cancel()
					return
				}
				_ = tables[i].Close()
				tables[i] = nil
				r.update(func(p *Progress) { p.SourcesDone++ })
			}
		})
	}
	wg.Wait()
	// A reader stopped by another's failure reports only the cancellation.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return nil
}

func (r *runner) readPercent(p *Progress) int { return 50 * p.SourcesDone / max(1, p.SourcesTotal) }

// update changes the progress and reports it. The report may be written to
// the API server, so it is made outside progMu: one goroutine reports at a
// time, and before it stops it reports what others changed meanwhile, so
// the last report is always the latest progress.
func (r *runner) update(change func(*Progress)) {
	r.progMu.Lock()
	change(&r.prog)
	if r.prog.Stage == "reading" {
		r.prog.Percent = r.readPercent(&r.prog)
	}
	r.progChanged = true
	if r.reporting || r.o.Progress == nil {
		r.progMu.Unlock()
		return
	}
	r.reporting = true
	for r.progChanged {
		r.progChanged = false
		p := r.prog
		r.progMu.Unlock()
		r.o.Progress(p)
		r.progMu.Lock()
	}
	r.reporting = false
	r.progMu.Unlock()
}

// openSources opens every source before reading any, so a missing one fails
// the run at once, and sizes them: in bytes, compressed lists counting for
// what they expand to (the partition count), and in text once decoded (the
// reading work, which the shards split).
func (r *runner) openSources(ctx context.Context) (tables []source.Table, sizes, text []int64, err error) {
	n := len(r.o.Spec.Sources)
	tables, sizes, text = make([]source.Table, n), make([]int64, n), make([]int64, n)
	for i := range r.o.Spec.Sources {
		src := &r.o.Spec.Sources[i]
		tb, size, err := r.o.Opener.Open(ctx, i, src)
		if err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				return tables, nil, nil, err
			}
			return tables, nil, nil, fmt.Errorf("spec.sources[%d] (%s): %w", i, src.Name, err)
		}
		tables[i] = tb
		sizes[i] = source.ExpandedSize(tb, max(size, 0))
		text[i] = source.TextSize(tb, max(size, 0))
	}
	return tables, sizes, text, nil
}

// readSource streams one list into the spill.
func (r *runner) readSource(ctx context.Context, rd *reader, i int, tb source.Table) error {
	src := &r.o.Spec.Sources[i]
	where := fmt.Sprintf("spec.sources[%d] (%s)", i, src.Name)
	m, err := newMapping(r.o.Spec, i, tb.Header())
	if err != nil {
		return err
	}
	sr := &r.read[i]
	sr.Format, sr.Mapping = tb.Describe(), m.described
	digest := newRecordDigest(fmt.Sprintf("source %d %q\n", i, tb.Header()))
	var read, rejected, optOuts int64 // reported every 100,000 rows
	global := src.OptOutScope() == ccv1.OptOutScopeGlobal
	rows, optOutRows := make([]int64, r.o.Partitions), make([]int64, r.o.Partitions)
	rd.rows[i], rd.optOuts[i] = rows, optOutRows
	report := func(p *Progress) {
		p.RowsRead += read
		p.RowsRejected += rejected
		if global {
			p.OptOutsGlobal += optOuts
		} else {
			p.OptOutsSegment += optOuts
		}
		read, rejected, optOuts = 0, 0, 0
	}
	defer func() { r.update(report) }()
	next := tb.Next
	if m.headerless {
		next = func() ([]string, int, error) {
			next = tb.Next
			return tb.Header(), 1, nil
		}
	}
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, line, err := next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if files, ok := tb.(interface{ Counts() []source.FileCount }); ok {
					sr.Files = files.Counts()
				}
				r.digests[i] = hex.EncodeToString(digest.sum())
				return nil
			}
			// Declared past the records' path: errors.As moves it to the heap.
			var rowErr *source.RowError
			if !errors.As(err, &rowErr) {
				return sourceError(where, err)
			}
			sr.RowsRead++
			read++
			rejected++
			if err := rd.reject(sr, src.Name, rowErr.Line, normalize.ReasonMalformedRow, rowErr.Err.Error()); err != nil {
				return err
			}
			continue
		}
		// A row of empty cells (Excel's ";;;;" after the data) is a blank
		// line, as the CSV reader already skips.
		if blankRecord(rec) {
			continue
		}
		sr.RowsRead++
		read++
		digest.add(rec)
		row, reason, detail := rd.parser.parse(m, i, line, rec)
		if reason != "" {
			rejected++
			if err := rd.reject(sr, src.Name, line, reason, detail); err != nil {
				return err
			}
			continue
		}
		part := store.PartitionOf(row.Key, r.o.Partitions)
		rows[part]++
		if row.OptOut {
			optOutRows[part]++
			optOuts++
		}
		if err := rd.spill.add(part, &row); err != nil {
			return err
		}
		if read%100000 == 0 {
			r.update(report)
		}
	}
}

// sourceError is why a source cannot be read on: bad input (a broken quote,
// a file too large) or an error reading it.
func sourceError(where string, err error) error {
	var fatal *source.FatalError
	var tooLarge *source.TooLargeError
	switch {
	case errors.As(err, &fatal):
		return &ConfigError{fmt.Errorf("%s: line %d: %w", where, fatal.Line, fatal.Err)}
	case errors.As(err, &tooLarge):
		return &ConfigError{fmt.Errorf("%s: %w", where, err)}
	}
	return fmt.Errorf("%s: %w", where, err)
}

// recordDigest digests a source's header and records, each field followed
// by a zero byte, for the run key. A record is gathered and written at once:
// field by field, each would cost a copy and a call.
type recordDigest struct {
	h   hash.Hash
	buf []byte
}

func newRecordDigest(header string) *recordDigest {
	d := &recordDigest{h: sha256.New()}
	d.h.Write([]byte(header))
	return d
}

func (d *recordDigest) add(rec []string) {
	d.buf = d.buf[:0]
	for _, f := range rec {
		d.buf = append(append(d.buf, f...), 0)
	}
	d.h.Write(d.buf) // a hash never fails to write
}

func (d *recordDigest) sum() []byte { return d.h.Sum(nil) }

// reject counts a rejected row and keeps it.
func (rd *reader) reject(sr *SourceReport, source string, line int, reason, detail string) error {
	sr.RowsRejected++
	if sr.Rejections == nil {
		sr.Rejections = map[string]int64{}
	}
	sr.Rejections[reason]++
	return rd.rejects.add(store.Rejected{Source: source, Line: line, Reason: reason, Detail: truncate(detail, 200)})
}

// mergeAll merges every partition of this shard not already written by an
// interrupted run with the same input.
func (r *runner) mergeAll(ctx context.Context) error {
	done := map[int]store.PartStats{}
	if r.o.Store != nil {
		var err error
		if done, err = r.o.Store.DonePartitions(ctx, r.report.RunKey); err != nil {
			return err
		}
		if r.o.Shard == 0 {
			next, closeAll, err := r.allRejected(ctx)
			if err != nil {
				return err
			}
			err = r.o.Store.ReplaceRejected(ctx, next)
			closeAll()
			if err != nil {
				return fmt.Errorf("writing rejected rows: %w", err)
			}
		}
	}
	r.update(func(p *Progress) { p.Stage = "merging" })
	var mine []int
	for p := range r.o.Partitions {
		if r.mine(p) {
			mine = append(mine, p)
		}
	}
	// Merging (CPU) and writing (the database) overlap: one goroutine merges
	// the next partition while the writers write. It waits for a writer to
	// take that one before merging another: every partition held costs
	// memory, and merging is the faster of the two. A store that takes
	// several partitions at once (PostgreSQL) gets as many writers, so its
	// server has work while a writer's client side screens or encodes:
	// the bench tenant's write phase took 18% less time with two.
	g, gctx := errgroup.WithContext(ctx)
	results := make(chan merged)
	g.Go(func() error {
		defer close(results)
		for _, p := range mine {
			m := merged{part: p}
			m.stats, m.skipped = done[p]
			if !m.skipped {
				m.mergedPartition, m.err = r.mergePartition(gctx, p)
			}
			select {
			case results <- m:
			case <-gctx.Done():
				return nil
			}
			if m.err != nil {
				return nil
			}
		}
		return nil
	})
	wr := &partitionWriters{r: r, total: len(mine)}
	for range r.writers() {
		g.Go(func() error {
			for m := range results {
				if err := wr.write(gctx, m); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if wr.n != len(mine) {
		return ctx.Err()
	}
	return nil
}

// merged is a partition merged, or skipped as an interrupted run wrote it.
type merged struct {
	part int
	mergedPartition
	skipped bool
	err     error
}

// writers is how many partitions to write at once. The shards of a run
// share the store's writers: each shard is one already, and more only
// crowd the server.
func (r *runner) writers() int {
	if r.o.Store == nil {
		return 1
	}
	return max(1, r.o.Store.Writers()/max(1, r.o.Shards))
}

// partitionWriters write the merged partitions and add up what they count.
type partitionWriters struct {
	r     *runner
	total int

	mu    sync.Mutex // guards what follows, and the report
	n     int        // partitions done
	busy  int        // partitions being written
	since time.Time  // when busy last left 0
}

// write writes m, unless it was skipped, and counts it.
func (w *partitionWriters) write(ctx context.Context, m merged) error {
	if m.err != nil {
		return m.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := w.r
	if !m.skipped && r.o.Store != nil {
		pw := &store.PartitionWrite{RunKey: r.report.RunKey, Part: m.part, Partitions: r.o.Partitions, RunAt: r.started,
			Contacts: m.contacts, Stats: m.stats, Erased: m.unmerge}
		w.writing(true)
		err := r.o.Store.WritePartition(ctx, pw)
		w.writing(false)
		if err != nil {
			return fmt.Errorf("writing partition %d: %w", m.part, err)
		}
		m.stats = pw.Stats
	}
	w.mu.Lock()
	if m.skipped {
		r.report.PartitionsResumed++
	}
	w.n++
	r.addStats(m.stats)
	percent, contacts, duplicates := 50+50*w.n/w.total, r.report.Contacts, r.report.DuplicatesMerged
	w.mu.Unlock()
	// Outside mu: the progress may be written to the API server. The
	// writers finish in any order, so it only moves forward.
	r.update(func(p *Progress) {
		p.Percent, p.Contacts, p.DuplicatesMerged = max(p.Percent, percent), max(p.Contacts, contacts), max(p.DuplicatesMerged, duplicates)
	})
	return nil
}

// writing counts a partition's write starting or ending: the write phase
// is the time some partition was being written.
func (w *partitionWriters) writing(start bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if start {
		if w.busy++; w.busy == 1 {
			w.since = time.Now()
		}
	} else if w.busy--; w.busy == 0 {
		w.r.report.Seconds.Write += time.Since(w.since).Seconds()
	}
}

// mergedPartition is a partition's contacts, what they count, and the
// source of each row merged into them.
type mergedPartition struct {
	contacts []merge.Contact
	stats    store.PartStats
	// rowSources holds the source of every row, contact after contact;
	// contact i's rows end at rowEnds[i].
	rowSources []int
	rowEnds    []int
}

// unmerge takes contact i out of stats: the store dropped it because its
// key was erased while the run went on, so its rows count as suppressed.
func (m *mergedPartition) unmerge(i int, stats *store.PartStats) {
	start := 0
	if i > 0 {
		start = m.rowEnds[i-1]
	}
	rows := m.rowSources[start:m.rowEnds[i]]
	if stats.RowsSuppressed == nil {
		stats.RowsSuppressed = make([]int64, len(stats.RowsMerged))
	}
	for _, src := range rows {
		stats.RowsMerged[src]--
		stats.RowsSuppressed[src]++
	}
	c := &m.contacts[i]
	stats.Contacts--
	stats.DuplicatesMerged -= int64(len(rows) - 1)
	if c.LanguageDefaulted {
		stats.LanguageDefault--
	}
	for _, cf := range c.Conflicts {
		stats.Conflicts--
		if !cf.Resolved {
			stats.Unresolved--
		}
	}
}

// mergePartition merges one partition's rows into contacts. It runs beside
// the writer, so it touches nothing the writer does.
func (r *runner) mergePartition(ctx context.Context, p int) (mergedPartition, error) {
	t := time.Now()
	rows, err := r.load(ctx, p)
	if err != nil {
		return mergedPartition{}, err
	}
	contacts := 0
	for i := range rows {
		if i == 0 || rows[i].Key != rows[i-1].Key {
			contacts++
		}
	}
	m := mergedPartition{stats: store.PartStats{Shard: r.o.Shard, RowsMerged: make([]int64, len(r.o.Spec.Sources))},
		contacts: make([]merge.Contact, 0, contacts), rowSources: make([]int, 0, len(rows)), rowEnds: make([]int, 0, contacts)}
	stats := &m.stats
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].Key == rows[start].Key {
			end++
		}
		c := r.rules.Merge(rows[start:end])
		for _, x := range rows[start:end] {
			stats.RowsMerged[x.Source]++
			m.rowSources = append(m.rowSources, x.Source)
		}
		m.rowEnds = append(m.rowEnds, len(m.rowSources))
		stats.Contacts++
		stats.DuplicatesMerged += int64(end - start - 1)
		if c.LanguageDefaulted {
			stats.LanguageDefault++
		}
		for _, cf := range c.Conflicts {
			stats.Conflicts++
			if !cf.Resolved {
				stats.Unresolved++
			}
		}
		m.contacts = append(m.contacts, c)
		start = end
	}
	r.mergeSeconds.Add(int64(time.Since(t)))
	return m, nil
}

func (r *runner) addStats(s store.PartStats) {
	rep := r.report
	rep.Contacts += s.Contacts
	rep.DuplicatesMerged += s.DuplicatesMerged
	rep.LanguageDefault += s.LanguageDefault
	rep.Conflicts += s.Conflicts
	rep.Unresolved += s.Unresolved
	for i, n := range s.RowsMerged {
		if i < len(rep.Sources) {
			rep.Sources[i].RowsMerged += n
		}
	}
	for i, n := range s.RowsSuppressed {
		if i < len(rep.Sources) {
			rep.Sources[i].RowsSuppressed += n
		}
	}
}

// allRejected chains the rejected rows of every reader or, in a sharded
// run, of every shard.
func (r *runner) allRejected(ctx context.Context) (func() (store.Rejected, error), func(), error) {
	spills := make([]*rejectSpill, 0, len(r.readers))
	if r.exchange != nil {
		s, err := r.exchangedRejects(ctx)
		if err != nil {
			return nil, nil, err
		}
		spills = append(spills, s)
	} else {
		for _, rd := range r.readers {
			spills = append(spills, rd.rejects)
		}
	}
	var nexts []func() (store.Rejected, error)
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			_ = c()
		}
	}
	for _, s := range spills {
		next, c, err := s.each()
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		nexts, closers = append(nexts, next), append(closers, c)
	}
	return func() (store.Rejected, error) {
		for len(nexts) > 0 {
			row, err := nexts[0]()
			if !errors.Is(err, io.EOF) {
				return row, err
			}
			nexts = nexts[1:]
		}
		return store.Rejected{}, io.EOF
	}, closeAll, nil
}

// finish checks the accounting, and records the segments and the report.
func (r *runner) finish(ctx context.Context) error {
	rep := r.report
	for i := range rep.Sources {
		if s := &rep.Sources[i]; s.OptOutsImported > 0 {
			s.OptOutScope = string(r.o.Spec.Sources[i].OptOutScope())
			s.OptOutKind = string(r.o.Spec.Sources[i].OptOutKind())
		}
	}
	if r.o.Store != nil {
		sup, err := r.o.Store.Suppressions(ctx)
		if err != nil {
			return fmt.Errorf("reading suppressions: %w", err)
		}
		rep.Suppressions = sup.Len()
	}
	if err := rep.checkAccounting(); err != nil {
		return err
	}
	rep.FinishedAt = r.o.Now().UTC().Format(time.RFC3339)
	r.update(func(p *Progress) { p.Stage, p.Percent = "done", 100 })
	if r.o.Store == nil {
		return nil
	}
	var segments []store.Segment
	seen := map[string]bool{}
	for _, s := range r.o.Spec.Sources {
		if !seen[s.SegmentName()] {
			seen[s.SegmentName()] = true
			segments = append(segments, store.Segment{Name: s.SegmentName(), Kind: "source", DisplayName: s.SourceDisplayName()})
		}
	}
	for _, s := range r.o.Spec.Segments {
		segments = append(segments, store.Segment{Name: s.Name, Kind: "rule", DisplayName: s.Name})
	}
	data, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	return r.o.Store.FinishRun(ctx, rep.RunKey, segments, data)
}

func languageAliases(spec *ccv1.ContactConversionSpec) map[string]string {
	m := make(map[string]string, len(spec.LanguageAliases))
	for k, v := range spec.LanguageAliases {
		m[k] = string(v)
	}
	return m
}

func languages(spec *ccv1.ContactConversionSpec) []string {
	out := make([]string, len(spec.Languages))
	for i, l := range spec.Languages {
		out[i] = string(l)
	}
	return out
}

func topCounts(m map[string]int64, n int) []ccv1.ValueCount {
	out := make([]ccv1.ValueCount, 0, len(m))
	for v, c := range m {
		out = append(out, ccv1.ValueCount{Value: v, Count: c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Value < out[j].Value
	})
	return out[:min(n, len(out))]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func blankRecord(rec []string) bool {
	for _, f := range rec {
		if trimCell(f) != "" {
			return false
		}
	}
	return true
}
