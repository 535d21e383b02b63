// Package statusreport writes a running conversion's progress, conflicts and
// language counts into its ContactConversion status, with server-side apply
// under its own field manager, so the reconciler's conditions are never
// touched; and fills the conflict-report Secret and the inventory
// ConfigMap.
package statusreport

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/csvsafe"
	"github.com/contactconverter/contact-converter/internal/engine"
	"github.com/contactconverter/contact-converter/internal/inventory"
	"github.com/contactconverter/contact-converter/internal/mask"
	"github.com/contactconverter/contact-converter/internal/store"
)

// FieldManager owns the status fields the engine writes.
const FieldManager = "contact-converter-engine"

// MaxReportBytes keeps the conflict report below the 1 MiB object limit.
const MaxReportBytes = 900 << 10

// SampleSize is how many unresolved conflicts the status shows.
const SampleSize = 20

// Reporter writes one conversion's status.
type Reporter struct {
	Client client.Client
	CC     *ccv1.ContactConversion
	// Shard of Shards is the part of a sharded run this process does.
	Shard, Shards int
	// Every is the least time between two progress writes.
	Every time.Duration
	Now   func() time.Time
	last  time.Time
}

// Progress writes the progress, at most once per Every (and always at
// 100%). A shard of a sharded run writes its own entry of
// status.progress.shards, then the totals summed over every shard's entry.
func (r *Reporter) Progress(ctx context.Context, p engine.Progress) error {
	now := r.Now()
	if p.Percent < 100 && now.Sub(r.last) < r.Every {
		return nil
	}
	r.last = now
	own := progressOf(p)
	if r.Shards <= 1 {
		return r.apply(ctx, ccv1.ContactConversionStatus{Progress: own})
	}
	entry := ccv1.ShardProgress{Index: int32(r.Shard), Job: r.CC.Status.JobName, Percent: own.Percent, SourcesDone: own.SourcesDone,
		RowsRead: own.RowsRead, RowsRejected: own.RowsRejected, OptOutsImported: own.OptOutsImported,
		Contacts: own.Contacts, DuplicatesMerged: own.DuplicatesMerged}
	cc := &ccv1.ContactConversion{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(r.CC), cc); err != nil {
		return err
	}
	var shards []ccv1.ShardProgress
	if cc.Status.Progress != nil {
		shards = cc.Status.Progress.Shards
	}
	// The totals first: they make status.progress valid before the first
	// shard's entry lands in it.
	if err := r.apply(ctx, ccv1.ContactConversionStatus{Progress: SumShards(shards, entry, r.Shards, len(r.CC.Spec.Sources))}); err != nil {
		return err
	}
	return r.applyShard(ctx, entry)
}

// SumShards is the progress of a sharded run: each shard reads its share of
// the lists and merges its share of the partitions, so sources and rows
// read, opt-outs imported, contacts and duplicates add up over the shards;
// the percent is the mean over all shards (a shard that has not reported
// counts as 0; an entry of an earlier run's Job does not count). entry is
// this shard's newest entry, which the list read back may not hold yet;
// sources is how many sources the run has.
func SumShards(shards []ccv1.ShardProgress, entry ccv1.ShardProgress, total, sources int) *ccv1.Progress {
	sum := &ccv1.Progress{SourcesTotal: int32(sources)}
	byIndex := map[int32]ccv1.ShardProgress{entry.Index: entry}
	for _, s := range shards {
		if s.Index != entry.Index && s.Job == entry.Job {
			byIndex[s.Index] = s
		}
	}
	var percents int64
	for _, s := range byIndex {
		sum.SourcesDone += s.SourcesDone
		sum.RowsRead += s.RowsRead
		sum.RowsRejected += s.RowsRejected
		sum.Contacts += s.Contacts
		sum.DuplicatesMerged += s.DuplicatesMerged
		if o := s.OptOutsImported; o != nil {
			if sum.OptOutsImported == nil {
				sum.OptOutsImported = &ccv1.OptOutCounts{}
			}
			sum.OptOutsImported.Segment += o.Segment
			sum.OptOutsImported.Global += o.Global
		}
		percents += int64(s.Percent)
	}
	sum.Percent = int32(percents / int64(max(total, 1)))
	return sum
}

// applyShard server-side applies this shard's entry of
// status.progress.shards, under a field manager of its own, so the shards'
// entries never overwrite each other.
func (r *Reporter) applyShard(ctx context.Context, entry ccv1.ShardProgress) error {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&entry)
	if err != nil {
		return err
	}
	return r.applyStatus(ctx, map[string]any{"progress": map[string]any{"shards": []any{obj}}},
		fmt.Sprintf("%s-shard-%d", FieldManager, r.Shard))
}

func progressOf(p engine.Progress) *ccv1.Progress {
	return &ccv1.Progress{SourcesTotal: int32(p.SourcesTotal), SourcesDone: int32(p.SourcesDone), RowsRead: p.RowsRead,
		RowsRejected: p.RowsRejected, Contacts: p.Contacts, DuplicatesMerged: p.DuplicatesMerged, Percent: int32(p.Percent),
		OptOutsImported: &ccv1.OptOutCounts{Segment: p.OptOutsSegment, Global: p.OptOutsGlobal}}
}

// Final writes the run's totals, a sample of unresolved conflicts and the
// full conflict report.
func (r *Reporter) Final(ctx context.Context, rep *engine.Report, st store.Store) error {
	name := r.CC.ConflictsSecretName()
	sample, data, err := conflictReport(ctx, st, rep)
	if err != nil {
		return err
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.CC.Namespace, Name: name}}
	patch := client.MergeFrom(secret.DeepCopy())
	secret.Data = data
	if err := r.Client.Patch(ctx, secret, patch); err != nil {
		return fmt.Errorf("writing the conflict report Secret %s: %w", name, err)
	}
	status := ccv1.ContactConversionStatus{
		Progress: &ccv1.Progress{SourcesTotal: int32(len(rep.Sources)), SourcesDone: int32(len(rep.Sources)), RowsRead: rep.RowsRead(),
			RowsRejected: rep.RowsRejected(), Contacts: rep.Contacts, DuplicatesMerged: rep.DuplicatesMerged, Percent: 100,
			OptOutsImported: optOutCounts(rep)},
		Conflicts: &ccv1.ConflictsStatus{Total: rep.Conflicts, Unresolved: rep.Unresolved, Sample: sample, ReportSecret: name},
		Languages: &ccv1.LanguagesStatus{AssignedDefault: rep.LanguageDefault, UnknownValues: rep.UnknownLanguages},
	}
	if err := r.apply(ctx, status); err != nil {
		return err
	}
	return r.writeInventory(ctx, rep, st)
}

// writeInventory fills the inventory ConfigMap: counts and names, no
// personal data.
func (r *Reporter) writeInventory(ctx context.Context, rep *engine.Report, st store.Store) error {
	inv, err := st.Inventory(ctx)
	if err != nil {
		return fmt.Errorf("counting the inventory: %w", err)
	}
	data, err := json.MarshalIndent(Inventory(r.CC, rep, inv), "", "  ")
	if err != nil {
		return err
	}
	name := r.CC.InventoryConfigMapName()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: r.CC.Namespace, Name: name}}
	patch := client.MergeFrom(cm.DeepCopy())
	cm.Data = map[string]string{"inventory.json": string(data)}
	if err := r.Client.Patch(ctx, cm, patch); err != nil {
		return fmt.Errorf("writing the inventory ConfigMap %s: %w", name, err)
	}
	return nil
}

// Inventory builds the record of processing from the spec, the run's
// report and the database's counts.
func Inventory(cc *ccv1.ContactConversion, rep *engine.Report, inv *store.Inventory) *inventory.Document {
	d := &inventory.Document{Conversion: cc.Namespace + "/" + cc.Name, LastImport: rep.FinishedAt, Database: inventory.Database(&cc.Spec),
		Languages: inventory.Sorted(inv.Languages), Contacts: inv.Contacts, GlobalOptOuts: inv.GlobalOptOuts,
		Undeliverable: inv.Undeliverable, Erasures: inv.Erasures}
	for i := range cc.Spec.Sources {
		src := &cc.Spec.Sources[i]
		s := inventory.Source{Name: src.Name, DisplayName: src.SourceDisplayName(), Origin: inventory.Origin(src), Segment: src.SegmentName(),
			Contacts: inv.Sources[src.SourceDisplayName()]}
		if i < len(rep.Sources) {
			r := rep.Sources[i]
			s.RowsRead, s.RowsRejected, s.FieldsKept = r.RowsRead, r.RowsRejected, inventory.FieldsKept(r.Mapping)
			if r.OptOutsImported > 0 {
				s.OptOuts = fmt.Sprintf("%d, %s, %s", r.OptOutsImported, r.OptOutScope, r.OptOutKind)
			}
		}
		d.Sources = append(d.Sources, s)
	}
	for name, by := range inv.Segments {
		d.Segments = append(d.Segments, inventory.Segment{Name: name, Subscribed: by["subscribed"], Unsubscribed: by["unsubscribed"]})
	}
	slices.SortFunc(d.Segments, func(a, b inventory.Segment) int { return strings.Compare(a.Name, b.Name) })
	for _, e := range inv.ConsentEvents {
		d.ConsentEvents = append(d.ConsentEvents, inventory.Activity{Month: e.Month, Action: e.Action, Count: e.Count})
	}
	return d
}

// optOutCounts sums the report's imported opt-outs by scope.
func optOutCounts(rep *engine.Report) *ccv1.OptOutCounts {
	c := &ccv1.OptOutCounts{}
	for _, s := range rep.Sources {
		if s.OptOutScope == string(ccv1.OptOutScopeGlobal) {
			c.Global += s.OptOutsImported
		} else {
			c.Segment += s.OptOutsImported
		}
	}
	return c
}

// conflictReport builds the status sample and the Secret's data.
func conflictReport(ctx context.Context, st store.Store, rep *engine.Report) ([]ccv1.ConflictSample, map[string][]byte, error) {
	var sample []ccv1.ConflictSample
	var buf bytes.Buffer
	w := csvsafe.NewWriter(&buf)
	_ = w.Write([]string{"key", "field", "values", "resolved"})
	shown, truncated := 0, false
	err := st.Conflicts(ctx, func(c store.ConflictRow) error {
		if !c.Resolved && len(sample) < SampleSize {
			sample = append(sample, ccv1.ConflictSample{Key: mask.Key(c.Key), Field: c.Field, Values: int32(len(c.Values))})
		}
		if truncated {
			return nil
		}
		_ = w.Write([]string{c.Key, c.Field, strings.Join(c.Values, " | "), fmt.Sprint(c.Resolved)})
		w.Flush()
		if buf.Len() > MaxReportBytes {
			truncated = true
			return nil
		}
		shown++
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	summary := fmt.Sprintf("%d conflicts, %d unresolved; conflicts.csv lists %d", rep.Conflicts, rep.Unresolved, shown)
	if truncated {
		summary += fmt.Sprintf(" (cut to stay under 1 MiB; run `contact-converter conflicts` on the database for all %d)", rep.Conflicts)
		data := buf.Bytes()
		data = data[:bytes.LastIndexByte(data[:MaxReportBytes], '\n')+1]
		buf = *bytes.NewBuffer(data)
	}
	return sample, map[string][]byte{"summary": []byte(summary), "conflicts.csv": buf.Bytes()}, nil
}

// apply server-side applies the given status fields.
func (r *Reporter) apply(ctx context.Context, status ccv1.ContactConversionStatus) error {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		return err
	}
	return r.applyStatus(ctx, obj, FieldManager)
}

// applyStatus server-side applies status fields under a field manager.
func (r *Reporter) applyStatus(ctx context.Context, status map[string]any, manager string) error {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": ccv1.GroupVersion.String(), "kind": "ContactConversion",
		"metadata": map[string]any{"name": r.CC.Name, "namespace": r.CC.Namespace},
		"status":   status,
	}}
	return r.Client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(manager), client.ForceOwnership)
}
