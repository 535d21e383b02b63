package engine

import (
	"fmt"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/source"
)

// Report is what a run did, per source and in total.
type Report struct {
	RunKey string `json:"runKey"`
	// InputKey identifies the lists (by fingerprint), spec and build a run
	// read, when every list has a fingerprint.
	InputKey string `json:"inputKey,omitempty"`
	// Unchanged marks a run that found the last run's InputKey: nothing
	// was read or written, and the counts are that run's.
	Unchanged           bool              `json:"unchanged,omitempty"`
	FinishedAt          string            `json:"finishedAt,omitempty"`
	Sources             []SourceReport    `json:"sources"`
	Contacts            int64             `json:"contacts"`
	DuplicatesMerged    int64             `json:"duplicatesMerged"`
	Conflicts           int64             `json:"conflicts"`
	Unresolved          int64             `json:"unresolvedConflicts"`
	LanguageDefault     int64             `json:"languageDefaultAssigned"`
	UnknownLanguages    []ccv1.ValueCount `json:"unknownLanguages,omitempty"`
	UnknownOptOutValues int64             `json:"unknownOptOutValues"`
	// UnknownOptOutTimes are opt-out times in no known format: the opt-outs
	// are kept, dated by the run.
	UnknownOptOutTimes int64 `json:"unknownOptOutTimes,omitempty"`
	// NamesFromFullName counts rows whose empty first or last name was
	// taken from a whole name: the display name around the address ("Jan
	// Peeters" <jan@...>) or a full-name column.
	NamesFromFullName int64   `json:"namesFromFullName,omitempty"`
	Suppressions      int     `json:"suppressions"`
	Partitions        int     `json:"partitions"`
	PartitionsResumed int     `json:"partitionsResumed"`
	Seconds           Timings `json:"seconds"`
	// Shard is, in the report of one shard of a sharded run, what that
	// shard read itself.
	Shard *ShardReport `json:"shard,omitempty"`
}

// ShardReport is what one shard of a sharded run read itself.
type ShardReport struct {
	Index int `json:"index"`
	// Sources are the sources it read, by index.
	Sources  []int `json:"sources"`
	RowsRead int64 `json:"rowsRead"`
}

// Timings split a run's time.
type Timings struct {
	Read float64 `json:"read"`
	// Exchange is a shard's handing out of the rows it read, and Wait its
	// wait for the other shards to do so.
	Exchange float64 `json:"exchange,omitempty"`
	Wait     float64 `json:"wait,omitempty"`
	// CPU splits the process's CPU time (user and system) the same way;
	// merging and writing overlap, so they count together.
	CPU   CPUTimings `json:"cpu"`
	Merge float64    `json:"merge"`
	// Write is the time some partition was being written (partitions
	// written at once count once).
	Write float64 `json:"write"`
	Total float64 `json:"total"`
}

// CPUTimings split a run's CPU seconds.
type CPUTimings struct {
	Read       float64 `json:"read"`
	Exchange   float64 `json:"exchange,omitempty"`
	MergeWrite float64 `json:"mergeWrite"`
	Total      float64 `json:"total"`
}

// SourceReport accounts for one source's rows.
type SourceReport struct {
	Name            string   `json:"name"`
	DisplayName     string   `json:"displayName"`
	Format          string   `json:"format"`
	Mapping         []string `json:"mapping"`
	RowsRead        int64    `json:"rowsRead"`
	RowsMerged      int64    `json:"rowsMerged"`
	RowsRejected    int64    `json:"rowsRejected"`
	RowsSuppressed  int64    `json:"rowsSuppressed"`
	RowsOtherShards int64    `json:"rowsOtherShards,omitempty"`
	// OptOutsImported counts the rows that carried an opt-out, applied with
	// OptOutScope (Segment or Global).
	OptOutsImported int64  `json:"optOutsImported,omitempty"`
	OptOutScope     string `json:"optOutScope,omitempty"`
	// OptOutKind is Unsubscribe, Bounce or Complaint.
	OptOutKind string           `json:"optOutKind,omitempty"`
	Rejections map[string]int64 `json:"rejections,omitempty"`
	// Files are the files read, with their rows, sizes and checksums, for
	// a source read from files (csv.path, csv.s3, csv.persistentVolumeClaim).
	Files []source.FileCount `json:"files,omitempty"`
}

func newReport(spec *ccv1.ContactConversionSpec) *Report {
	r := &Report{}
	for _, s := range spec.Sources {
		r.Sources = append(r.Sources, SourceReport{Name: s.Name, DisplayName: s.SourceDisplayName()})
	}
	return r
}

// RowsRead totals the rows read.
func (r *Report) RowsRead() (n int64) {
	for _, s := range r.Sources {
		n += s.RowsRead
	}
	return n
}

// RowsRejected totals the rows rejected.
func (r *Report) RowsRejected() (n int64) {
	for _, s := range r.Sources {
		n += s.RowsRejected
	}
	return n
}

// checkAccounting proves that every row read is merged, rejected,
// suppressed or left to another shard, per source.
func (r *Report) checkAccounting() error {
	for i, s := range r.Sources {
		if got := s.RowsMerged + s.RowsRejected + s.RowsSuppressed + s.RowsOtherShards; got != s.RowsRead {
			return fmt.Errorf("accounting failed for spec.sources[%d] (%s): %d rows read, but %d merged + %d rejected + %d suppressed + %d for other shards = %d",
				i, s.Name, s.RowsRead, s.RowsMerged, s.RowsRejected, s.RowsSuppressed, s.RowsOtherShards, got)
		}
	}
	return nil
}

// CombineShards sums the reports of a sharded run's shards into the run's.
// Every shard's report holds what all shards read, so rows read and
// rejected, and the language counts, are taken once; merged rows, imported
// opt-outs and contacts add.
func CombineShards(shards []*Report) (*Report, error) {
	if len(shards) == 0 {
		return nil, fmt.Errorf("no shard report")
	}
	out := *shards[0]
	out.Sources = append([]SourceReport(nil), shards[0].Sources...)
	out.Shard = nil
	for i := range out.Sources {
		out.Sources[i].RowsOtherShards = 0
	}
	for _, r := range shards[1:] {
		if len(r.Sources) != len(out.Sources) || r.RunKey != out.RunKey {
			return nil, fmt.Errorf("shard reports of different runs")
		}
		// Rows merged, rows of contacts erased during the run and opt-outs
		// are counted by the shard that wrote them.
		for i, s := range r.Sources {
			o := &out.Sources[i]
			o.RowsMerged += s.RowsMerged
			o.RowsSuppressed += s.RowsSuppressed
			o.OptOutsImported += s.OptOutsImported
			o.OptOutScope = max(o.OptOutScope, s.OptOutScope)
			o.OptOutKind = max(o.OptOutKind, s.OptOutKind)
		}
		out.Contacts += r.Contacts
		out.DuplicatesMerged += r.DuplicatesMerged
		out.Conflicts += r.Conflicts
		out.Unresolved += r.Unresolved
		out.LanguageDefault += r.LanguageDefault
		out.PartitionsResumed += r.PartitionsResumed
		out.Seconds.Total = max(out.Seconds.Total, r.Seconds.Total)
		out.Seconds.CPU.Total += r.Seconds.CPU.Total
	}
	return &out, out.checkAccounting()
}
