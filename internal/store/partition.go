package store

import (
	"cmp"
	"context"
	"strings"
	"time"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/merge"
)

// PartitionWrite is one partition of a run, as the engine hands it over.
type PartitionWrite struct {
	RunKey string
	// Part of Partitions: the range of buckets the write replaces.
	Part, Partitions int
	Contacts         []merge.Contact
	// Stats are recorded with the checkpoint.
	Stats PartStats
	// RunAt dates the imported opt-outs whose list gives no time.
	RunAt time.Time
	// Erased is called, before Stats are recorded, for each contact dropped
	// because its key was erased after the lists were read: it moves the
	// contact's rows from merged to suppressed in stats. Nil drops them
	// uncounted.
	Erased func(i int, stats *PartStats)
}

// screen runs inside the transaction that rewrites w's partition, holding
// its buckets: it drops the contacts erased since the lists were read and
// lets every contact's own choices win over the lists. It returns the
// contacts to write.
func (p preferences) screen(ctx context.Context, c conn, w *PartitionWrite) ([]*merge.Contact, error) {
	lo, hi := BucketRange(w.Part, w.Partitions)
	erased, err := p.loadErased(ctx, c, lo, hi)
	if err != nil {
		return nil, err
	}
	o, err := loadOverrides(ctx, c, lo, hi)
	if err != nil {
		return nil, err
	}
	out := make([]*merge.Contact, 0, len(w.Contacts))
	for i := range w.Contacts {
		ct := &w.Contacts[i]
		if erased.contains(ct.Key) {
			if w.Erased != nil {
				w.Erased(i, &w.Stats)
			}
			continue
		}
		out = append(out, ct)
	}
	if err := o.importOptOuts(ctx, c, lo, hi, out, w.RunAt); err != nil {
		return nil, err
	}
	for _, ct := range out {
		o.apply(ct)
	}
	return out, nil
}

// importOptOuts keeps the opt-outs the lists carried, once: a re-run adds
// no second copy. One without its own time is dated by the first run that
// imported it. Each is recorded
//   - as consent evidence, marked as imported from its source;
//   - as a choice of the contact's at the opt-out's time, as the preference
//     center records them, so that it holds when the list is gone from
//     later runs, and only a choice the contact makes later wins over it.
//     One without a time yields to every choice the contact made: the list
//     cannot tell which came first.
//
// A partition's opt-outs are written in bulk (insertRows): a first run
// imports hundreds of thousands.
func (o *overrides) importOptOuts(ctx context.Context, c conn, lo, hi int, contacts []*merge.Contact, runAt time.Time) error {
	type optOut struct {
		bucket                                          int
		key, topic, source, kind, dated, action, reason string
	}
	n := 0
	for _, ct := range contacts {
		n += len(ct.OptOuts)
	}
	if n == 0 {
		return nil
	}
	all := make([]optOut, 0, n)
	sources := map[string]string{} // a list's name → the evidence's source
	for _, ct := range contacts {
		for _, x := range ct.OptOuts {
			action := ActionUnsubscribe
			if x.Topic == "*" {
				action = ActionUnsubscribeAll
			}
			source, ok := sources[x.Source]
			if !ok {
				source = SourceImport + ":" + x.Source
				sources[x.Source] = source
			}
			all = append(all, optOut{bucket: Bucket(ct.Key), key: ct.Key, topic: x.Topic, source: source,
				kind: string(x.Kind), dated: x.At, action: action, reason: x.Reason})
		}
	}
	// Which of them no earlier run recorded. The range's records are read
	// under the partition's lock (none on a first run), so the new ones go
	// in with plain inserts: a record there regardless would fail the
	// insert, and the partition, rather than be kept twice.
	type id struct{ key, topic, source, kind, dated string }
	recorded := make(map[id]bool, len(all))
	err := eachRow(ctx, c, `SELECT key, topic, source, kind, dated FROM imported_opt_outs WHERE bucket >= ? AND bucket < ?`, []any{lo, hi},
		func(scan func(...any) error) error {
			var k id
			if err := scan(&k.key, &k.topic, &k.source, &k.kind, &k.dated); err != nil {
				return err
			}
			recorded[k] = true
			return nil
		})
	if err != nil {
		return err
	}
	news := all[:0]
	for _, x := range all {
		if k := (id{x.key, x.topic, x.source, x.kind, x.dated}); !recorded[k] {
			recorded[k] = true // the first of identical rows is the one recorded
			news = append(news, x)
		}
	}
	if err := insertRows(ctx, c, "imported_opt_outs", importedColumns, len(news), func(i int, dst []any) []any {
		x := &news[i]
		return append(dst, x.bucket, x.key, x.topic, x.source, x.kind, x.dated)
	}, ""); err != nil {
		return err
	}
	// The evidence.
	if err := insertRows(ctx, c, "consent_events", []string{"bucket", "key", "topic", "action", "at", "source", "detail", "kind"}, len(news), func(i int, dst []any) []any {
		x := &news[i]
		return append(dst, x.bucket, x.key, x.topic, x.action, cmp.Or(x.dated, Timestamp(runAt)), x.source, x.reason, x.kind)
	}, ""); err != nil {
		return err
	}
	// The choices: per contact and topic the newest, kept unless the contact
	// chose later. A hard bounce also leaves the address undeliverable.
	type choice struct {
		bucket         int
		key, topic, at string
	}
	newest := make(map[[2]string]*choice, len(news))
	choices := make([]*choice, 0, len(news))
	var bounced []optOut
	bouncedKeys := map[string]bool{}
	for _, x := range news {
		at := cmp.Or(x.dated, undatedChoice)
		if ch := newest[[2]string{x.key, x.topic}]; ch != nil {
			ch.at = max(ch.at, at)
		} else {
			ch = &choice{x.bucket, x.key, x.topic, at}
			newest[[2]string{x.key, x.topic}] = ch
			choices = append(choices, ch)
		}
		if x.kind == string(ccv1.OptOutKindBounce) && !bouncedKeys[x.key] {
			bouncedKeys[x.key] = true
			bounced = append(bounced, x)
		}
	}
	// A choice recorded at the same time or before yields (the upsert's
	// condition says the same, should one have come in since it was read).
	var first, later []*choice
	for _, ch := range choices {
		prev, ok := o.changedAt[[2]string{ch.key, ch.topic}]
		switch {
		case !ok:
			first = append(first, ch)
		case prev <= ch.at:
			later = append(later, ch)
		default:
			continue
		}
		setIn(o.segments, ch.key, ch.topic, merge.Unsubscribed)
	}
	for _, set := range []struct {
		choices []*choice
		tail    string
	}{
		{first, ""},
		{later, `ON CONFLICT (bucket, key, segment) DO UPDATE SET status = excluded.status, changed_at = excluded.changed_at
			WHERE preference_overrides.changed_at <= excluded.changed_at`},
	} {
		if err := insertRows(ctx, c, "preference_overrides", []string{"bucket", "key", "segment", "status", "changed_at"}, len(set.choices), func(i int, dst []any) []any {
			ch := set.choices[i]
			return append(dst, ch.bucket, ch.key, ch.topic, merge.Unsubscribed, ch.at)
		}, set.tail); err != nil {
			return err
		}
	}
	for _, x := range bounced {
		setIn(o.fields, x.key, fieldUndeliverable, "true")
	}
	return insertRows(ctx, c, "field_overrides", []string{"bucket", "key", "field", "value", "changed_at"}, len(bounced), func(i int, dst []any) []any {
		x := &bounced[i]
		return append(dst, x.bucket, x.key, fieldUndeliverable, "true", cmp.Or(x.dated, undatedChoice))
	}, `ON CONFLICT (bucket, key, field) DO NOTHING`)
}

// importedColumns are imported_opt_outs' columns.
var importedColumns = []string{"bucket", "key", "topic", "source", "kind", "dated"}

// undatedChoice is when an imported opt-out without a time counts as the
// contact's choice: before any choice the contact made.
var undatedChoice = Timestamp(time.Time{})

// backfillImported fills imported_opt_outs, once, from the evidence an
// earlier version recorded without it, so that a run after the upgrade
// records none of those opt-outs twice. The evidence keeps no trace of
// whether a list gave the time, so each counts as dated by its time.
func (p preferences) backfillImported(ctx context.Context) error {
	const flag = "imported_opt_outs_backfilled"
	if done, err := queryOne(ctx, p.db, `SELECT 1 FROM settings WHERE name = ?`, []any{flag}, new(int)); err != nil || done {
		return err
	}
	return p.inTx(ctx, func(c conn) error {
		rows, err := c.query(ctx, `SELECT key, topic, source, kind, at FROM consent_events WHERE source LIKE 'import:%'`)
		if err != nil {
			return err
		}
		var args [][]any
		for rows.Next() {
			var key, topic, source, kind, at string
			if err := rows.Scan(&key, &topic, &source, &kind, &at); err != nil {
				rows.Close()
				return err
			}
			args = append(args, []any{Bucket(key), key, topic, source, kind, at})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := insertRows(ctx, c, "imported_opt_outs", importedColumns, len(args), func(i int, dst []any) []any {
			return append(dst, args[i]...)
		}, `ON CONFLICT DO NOTHING`); err != nil {
			return err
		}
		_, err = c.exec(ctx, `INSERT INTO settings (name, value) VALUES (?, 'true') ON CONFLICT (name) DO NOTHING`, flag)
		return err
	})
}

// replaceContacts replaces the contacts of buckets [lo, hi).
func replaceContacts(ctx context.Context, c conn, lo, hi int, contacts []*merge.Contact) error {
	if _, err := c.exec(ctx, `DELETE FROM contacts WHERE bucket >= ? AND bucket < ?`, lo, hi); err != nil {
		return err
	}
	var buf []byte
	return insertRows(ctx, c, "contacts", contactColumns, len(contacts), func(i int, dst []any) []any {
		dst, buf = contactRow(dst, contacts[i], buf)
		return dst
	}, "")
}

// insertRows inserts n rows into table's cols, row i's values appended by
// values, and ends the statement with tail (ON CONFLICT).
func insertRows(ctx context.Context, c conn, table string, cols []string, n int, values func(i int, dst []any) []any, tail string) error {
	if n == 0 {
		return nil
	}
	return c.insert(ctx, table, cols, n, values, tail)
}

// chunkParams bounds a multi-row statement's parameters, well below
// SQLite's limit.
const chunkParams = 1800

// placeholders is "(?, ?), (?, ?)" for rows rows of cols columns.
func placeholders(cols, rows int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

// erasedSet is the erasures of a range of buckets.
type erasedSet struct {
	salt    []byte
	hashes  map[string]bool
	buckets map[int]bool
	// anyBucket is set by erasures recorded without their bucket.
	anyBucket bool
}

func (p preferences) loadErased(ctx context.Context, c conn, lo, hi int) (*erasedSet, error) {
	rows, err := c.query(ctx, `SELECT key_hash, bucket FROM suppressions WHERE (bucket >= ? AND bucket < ?) OR bucket < 0`, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	e := &erasedSet{hashes: map[string]bool{}, buckets: map[int]bool{}}
	for rows.Next() {
		var h string
		var b int
		if err := rows.Scan(&h, &b); err != nil {
			return nil, err
		}
		e.hashes[h] = true
		e.buckets[b] = true
		e.anyBucket = e.anyBucket || b < 0
	}
	if err := rows.Err(); err != nil || len(e.hashes) == 0 {
		return e, err
	}
	e.salt, err = p.saltOf(ctx, c)
	return e, err
}

// contains tells whether key was erased; only keys in a bucket with an
// erasure pay for the hash.
func (e *erasedSet) contains(key string) bool {
	if len(e.hashes) == 0 || (!e.anyBucket && !e.buckets[Bucket(key)]) {
		return false
	}
	return e.hashes[HashKey(e.salt, key)]
}

// overrides are a partition's preference-center changes: key -> segment
// ('*' for the global opt-out) -> status, and key -> field -> value.
type overrides struct {
	segments map[string]map[string]string
	fields   map[string]map[string]string
	// changedAt is when each segment's choice was made, by key and
	// segment.
	changedAt map[[2]string]string
}

func loadOverrides(ctx context.Context, c conn, lo, hi int) (*overrides, error) {
	rows, err := c.query(ctx, `SELECT key, 's', segment, status, changed_at FROM preference_overrides WHERE bucket >= ? AND bucket < ?
		UNION ALL SELECT key, 'f', field, value, changed_at FROM field_overrides WHERE bucket >= ? AND bucket < ?`, lo, hi, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	o := &overrides{segments: map[string]map[string]string{}, fields: map[string]map[string]string{}, changedAt: map[[2]string]string{}}
	for rows.Next() {
		var key, kind, name, value, at string
		if err := rows.Scan(&key, &kind, &name, &value, &at); err != nil {
			return nil, err
		}
		if kind == "f" {
			setIn(o.fields, key, name, value)
			continue
		}
		setIn(o.segments, key, name, value)
		o.changedAt[[2]string{key, name}] = at
	}
	return o, rows.Err()
}

// fieldUndeliverable is the field override a hard bounce leaves.
const fieldUndeliverable = "undeliverable"

func setIn(m map[string]map[string]string, key, name, value string) {
	if m[key] == nil {
		m[key] = map[string]string{}
	}
	m[key][name] = value
}

// apply lets the contact's own choices win over what the lists said.
func (o *overrides) apply(c *merge.Contact) {
	for seg, status := range o.segments[c.Key] {
		if seg == "*" {
			c.GlobalOptOut = status == merge.Unsubscribed
			continue
		}
		c.Segments[seg] = status
	}
	for field, value := range o.fields[c.Key] {
		switch field {
		case "firstName":
			c.FirstName = value
		case "lastName":
			c.LastName = value
		case "language":
			c.Language, c.LanguageDefaulted = value, false
		case fieldUndeliverable:
			c.Undeliverable = true
		}
	}
}
