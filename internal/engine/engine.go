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
	"sort"
	"sync/atomic"
	"time"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/desired"
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
	MaxPartitions     = 8192
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
	// Shard and Shards select the partitions p with p % Shards == Shard.
	Shard, Shards int
	// Progress is called as the run advances.
	Progress func(Progress)
	// Now stamps the report.
	Now func() time.Time
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
}

// Run converts. It returns a *ConfigError for mistakes retrying cannot fix,
// and the context's error when interrupted (the work done so far is kept).
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Shards <= 0 {
		o.Shards = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &runner{o: o, rules: merge.NewRules(o.Spec), report: newReport(o.Spec)}
	started := o.Now()
	err := r.run(ctx)
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		// Interrupted mid-statement: the database said so in its own words.
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	r.report.Seconds.Total = o.Now().Sub(started).Seconds()
	return r.report, err
}

type runner struct {
	o       Options
	rules   *merge.Rules
	report  *Report
	spill   *spill
	sup     *store.Suppressions
	parser  *rowParser
	rejects *rejectSpill
	input   hash.Hash
	prog    Progress
	// spillErr is the first failure to keep a rejected row.
	spillErr error
	// mergeSeconds is written by the merging goroutine.
	mergeSeconds atomic.Int64
}

func (r *runner) mine(part int) bool { return part%r.o.Shards == r.o.Shard }

func (r *runner) run(ctx context.Context) error {
	spec := r.o.Spec
	r.parser = &rowParser{languages: normalize.NewLanguages(languageAliases(spec), languages(spec), string(spec.DefaultLanguage)),
		unknownLangs: map[string]int64{}}
	r.sup = &store.Suppressions{}
	if r.o.Store != nil {
		var err error
		if r.sup, err = r.o.Store.Suppressions(ctx); err != nil {
			return fmt.Errorf("reading suppressions: %w", err)
		}
	}
	tables, total, err := r.openSources(ctx)
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
	if r.o.Partitions <= 0 {
		r.o.Partitions = PartitionsFor(total)
	}
	r.report.Partitions = r.o.Partitions
	if r.spill, err = newSpill(r.o.SpillDir, r.o.Partitions); err != nil {
		return err
	}
	defer r.spill.remove()
	if r.rejects, err = newRejectSpill(r.spill.dir); err != nil {
		return err
	}
	r.prog = Progress{Stage: "reading", SourcesTotal: len(spec.Sources)}
	r.input = sha256.New()
	// The run key covers everything the result depends on: spec, layout,
	// erasures, and (below) every header and record read.
	fmt.Fprintf(r.input, "%s|%d|%d|%d|%s\n", desired.RunSpecHash(spec), r.o.Partitions, r.o.Shard, r.o.Shards, r.sup.Digest())

	t := time.Now()
	for i := range spec.Sources {
		if err := r.readSource(ctx, i, tables[i]); err != nil {
			return err
		}
		_ = tables[i].Close()
		tables[i] = nil
		r.prog.SourcesDone++
		r.progress(r.readPercent())
	}
	if err := errors.Join(r.spillErr, r.spill.finish(), r.rejects.finish()); err != nil {
		return err
	}
	r.report.Seconds.Read = time.Since(t).Seconds()
	r.report.RunKey = hex.EncodeToString(r.input.Sum(nil))[:32]

	err = r.mergeAll(ctx)
	r.report.Seconds.Merge = time.Duration(r.mergeSeconds.Load()).Seconds()
	if err != nil {
		return err
	}
	return r.finish(ctx)
}

func (r *runner) readPercent() int { return 50 * r.prog.SourcesDone / max(1, r.prog.SourcesTotal) }

func (r *runner) progress(percent int) {
	r.prog.Percent = percent
	if r.o.Progress != nil {
		r.o.Progress(r.prog)
	}
}

// openSources opens every source before reading any, so a missing one fails
// the run at once and the total size sets the partition count.
func (r *runner) openSources(ctx context.Context) ([]source.Table, int64, error) {
	tables := make([]source.Table, len(r.o.Spec.Sources))
	var total int64
	for i := range r.o.Spec.Sources {
		src := &r.o.Spec.Sources[i]
		tb, size, err := r.o.Opener.Open(ctx, i, src)
		if err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				return tables, 0, err
			}
			return tables, 0, fmt.Errorf("spec.sources[%d] (%s): %w", i, src.Name, err)
		}
		tables[i] = tb
		total += max(size, 0)
	}
	return tables, total, nil
}

// readSource streams one list into the spill.
func (r *runner) readSource(ctx context.Context, i int, tb source.Table) error {
	src := &r.o.Spec.Sources[i]
	where := fmt.Sprintf("spec.sources[%d] (%s)", i, src.Name)
	m, err := newMapping(r.o.Spec, i, tb.Header())
	if err != nil {
		return err
	}
	sr := &r.report.Sources[i]
	sr.Format, sr.Mapping = tb.Describe(), m.described
	fmt.Fprintf(r.input, "source %d %q\n", i, tb.Header())
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, line, err := tb.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var rowErr *source.RowError
		var fatal *source.FatalError
		switch {
		case errors.As(err, &rowErr):
			sr.RowsRead++
			r.prog.RowsRead++
			r.reject(sr, src.Name, rowErr.Line, normalize.ReasonMalformedRow, rowErr.Err.Error())
			continue
		case errors.As(err, &fatal):
			return &ConfigError{fmt.Errorf("%s: line %d: %w", where, fatal.Line, fatal.Err)}
		case err != nil:
			return fmt.Errorf("%s: %w", where, err)
		}
		sr.RowsRead++
		r.prog.RowsRead++
		for _, f := range rec {
			io.WriteString(r.input, f)
			r.input.Write([]byte{0})
		}
		row, reason, detail := r.parser.parse(m, i, line, rec)
		if reason != "" {
			r.reject(sr, src.Name, line, reason, detail)
			continue
		}
		if r.sup.Contains(row.Key) {
			sr.RowsSuppressed++
			continue
		}
		part := partitionOf(row.Key, r.o.Partitions)
		if !r.mine(part) {
			sr.RowsOtherShards++
			continue
		}
		if err := r.spill.add(part, &row); err != nil {
			return err
		}
		if r.prog.RowsRead%100000 == 0 {
			r.progress(r.readPercent())
		}
	}
}

func (r *runner) reject(sr *SourceReport, source string, line int, reason, detail string) {
	sr.RowsRejected++
	r.prog.RowsRejected++
	if sr.Rejections == nil {
		sr.Rejections = map[string]int64{}
	}
	sr.Rejections[reason]++
	if r.o.Shard == 0 {
		if err := r.rejects.add(store.Rejected{Source: source, Line: line, Reason: reason, Detail: truncate(detail, 200)}); err != nil {
			r.spillErr = err
		}
	}
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
			next, closeFile, err := r.rejects.each()
			if err != nil {
				return err
			}
			err = r.o.Store.ReplaceRejected(ctx, next)
			_ = closeFile()
			if err != nil {
				return fmt.Errorf("writing rejected rows: %w", err)
			}
		}
	}
	r.prog.Stage = "merging"
	var mine []int
	for p := range r.o.Partitions {
		if r.mine(p) {
			mine = append(mine, p)
		}
	}
	// Merging (CPU) and writing (the database) overlap: one goroutine merges
	// the next partitions while this one writes.
	type merged struct {
		part     int
		contacts []merge.Contact
		stats    store.PartStats
		skipped  bool
		err      error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan merged, 2)
	go func() {
		defer close(results)
		for _, p := range mine {
			m := merged{part: p}
			m.stats, m.skipped = done[p]
			if !m.skipped {
				m.contacts, m.stats, m.err = r.mergePartition(p)
			}
			select {
			case results <- m:
			case <-ctx.Done():
				return
			}
			if m.err != nil {
				return
			}
		}
	}()
	n := 0
	for m := range results {
		if m.err != nil {
			return m.err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if m.skipped {
			r.report.PartitionsResumed++
		} else if r.o.Store != nil {
			t := time.Now()
			if err := r.o.Store.WritePartition(ctx, r.report.RunKey, m.part, m.contacts, m.stats); err != nil {
				return fmt.Errorf("writing partition %d: %w", m.part, err)
			}
			r.report.Seconds.Write += time.Since(t).Seconds()
		}
		n++
		r.addStats(m.stats)
		r.progress(50 + 50*n/len(mine))
	}
	if n != len(mine) {
		return ctx.Err()
	}
	return nil
}

// mergePartition merges one partition's rows into contacts. It runs beside
// the writer, so it touches nothing the writer does.
func (r *runner) mergePartition(p int) ([]merge.Contact, store.PartStats, error) {
	t := time.Now()
	rows, err := r.spill.load(p)
	if err != nil {
		return nil, store.PartStats{}, err
	}
	stats := store.PartStats{RowsMerged: make([]int64, len(r.o.Spec.Sources))}
	var contacts []merge.Contact
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].Key == rows[start].Key {
			end++
		}
		c := r.rules.Merge(rows[start:end])
		for _, x := range rows[start:end] {
			stats.RowsMerged[x.Source]++
		}
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
		contacts = append(contacts, c)
		start = end
	}
	r.mergeSeconds.Add(int64(time.Since(t)))
	return contacts, stats, nil
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
	r.prog.Contacts, r.prog.DuplicatesMerged = rep.Contacts, rep.DuplicatesMerged
}

// finish checks the accounting, and records the segments and the report.
func (r *runner) finish(ctx context.Context) error {
	rep := r.report
	rep.UnknownLanguages = topCounts(r.parser.unknownLangs, 20)
	rep.UnknownOptOutValues = r.parser.unknownOptOuts
	rep.Suppressions = r.sup.Len()
	if err := rep.checkAccounting(); err != nil {
		return err
	}
	rep.FinishedAt = r.o.Now().UTC().Format(time.RFC3339)
	r.prog.Stage = "done"
	r.progress(100)
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
	return r.o.Store.FinishRun(ctx, rep.RunKey, r.o.Partitions, segments, data)
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
