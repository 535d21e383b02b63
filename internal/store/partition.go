package store

import (
	"context"
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
		if err := o.importOptOuts(ctx, c, ct, w.RunAt); err != nil {
			return nil, err
		}
		o.apply(ct)
		out = append(out, ct)
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
func (o *overrides) importOptOuts(ctx context.Context, c conn, ct *merge.Contact, runAt time.Time) error {
	for _, x := range ct.OptOuts {
		action := ActionUnsubscribe
		if x.Topic == "*" {
			action = ActionUnsubscribeAll
		}
		source := SourceImport + ":" + x.Source
		at, sameAt := x.At, `AND at = ?`
		if at == "" {
			at, sameAt = Timestamp(runAt), `AND ? <> ''`
		}
		kind := string(x.Kind)
		added, err := c.exec(ctx, `INSERT INTO consent_events (key, topic, action, at, source, detail, kind)
			SELECT ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM consent_events
				WHERE key = ? AND topic = ? AND action = ? AND source = ? AND kind = ? `+sameAt+`)`,
			ct.Key, x.Topic, action, at, source, x.Reason, kind, ct.Key, x.Topic, action, source, kind, at)
		if err != nil {
			return err
		}
		if added == 0 {
			continue
		}
		choiceAt := x.At
		if choiceAt == "" {
			choiceAt = Timestamp(time.Time{})
		}
		won, err := setOverride(ctx, c, Bucket(ct.Key), ct.Key, x.Topic, merge.Unsubscribed, choiceAt)
		if err != nil {
			return err
		}
		if won {
			setIn(o.segments, ct.Key, x.Topic, merge.Unsubscribed)
		}
		// A hard bounce is a fact about the address, kept as a field no list
		// can clear.
		if x.Kind == ccv1.OptOutKindBounce {
			if _, err := c.exec(ctx, `INSERT INTO field_overrides (bucket, key, field, value, changed_at) VALUES (?, ?, ?, 'true', ?)
				ON CONFLICT (bucket, key, field) DO NOTHING`, Bucket(ct.Key), ct.Key, fieldUndeliverable, choiceAt); err != nil {
				return err
			}
			setIn(o.fields, ct.Key, fieldUndeliverable, "true")
		}
	}
	return nil
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
}

func loadOverrides(ctx context.Context, c conn, lo, hi int) (*overrides, error) {
	rows, err := c.query(ctx, `SELECT key, 's', segment, status FROM preference_overrides WHERE bucket >= ? AND bucket < ?
		UNION ALL SELECT key, 'f', field, value FROM field_overrides WHERE bucket >= ? AND bucket < ?`, lo, hi, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	o := &overrides{segments: map[string]map[string]string{}, fields: map[string]map[string]string{}}
	for rows.Next() {
		var key, kind, name, value string
		if err := rows.Scan(&key, &kind, &name, &value); err != nil {
			return nil, err
		}
		m := o.segments
		if kind == "f" {
			m = o.fields
		}
		setIn(m, key, name, value)
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
