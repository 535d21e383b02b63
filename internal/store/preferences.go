package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/contactconverter/contact-converter/internal/merge"
)

// ErrNotFound is returned for a contact the database does not hold.
var ErrNotFound = errors.New("contact not found")

// Actions a Change carries; they are also the actions consent_events
// records.
const (
	ActionSubscribe   = "subscribe"
	ActionUnsubscribe = "unsubscribe"
	// ActionUnsubscribeAll is the objection to direct marketing: a global
	// opt-out.
	ActionUnsubscribeAll = "unsubscribe-all"
	// ActionWithdrawObjection lifts a global opt-out, when the contact
	// subscribes to a topic again.
	ActionWithdrawObjection = "withdraw-objection"
	ActionRectify           = "rectify"
	ActionErase             = "erase"
)

// Change sources, as consent_events records them.
const (
	SourcePreferenceCenter = "preference-center"
	SourceOneClick         = "one-click"
	SourceAPI              = "api"
	SourceImport           = "import"
)

// Rectifiable fields, by their export names.
var rectifiable = map[string]string{"firstName": "first_name", "lastName": "last_name", "language": "language"}

// Change is one thing a contact, or staff for them, asked for.
type Change struct {
	Key    string `json:"key"`
	Action string `json:"action"`
	// Topic is what the contact saw (a topic name, "*" for all, or a field
	// name); Segment is the segment a (un)subscribe sets.
	Topic   string `json:"topic,omitempty"`
	Segment string `json:"segment,omitempty"`
	// Fields a rectification sets: firstName, lastName, language.
	Fields map[string]string `json:"fields,omitempty"`
	Source string            `json:"source"`
	// TextHash is a hash of the text the contact was shown.
	TextHash string    `json:"textHash,omitempty"`
	IP       string    `json:"ip,omitempty"`
	At       time.Time `json:"at"`
}

// Validate reports a change the store cannot apply.
func (c *Change) Validate() error {
	if c.Key == "" {
		return errors.New("change without a contact key")
	}
	switch c.Action {
	case ActionSubscribe, ActionUnsubscribe:
		if c.Segment == "" {
			return fmt.Errorf("%s without a segment", c.Action)
		}
	case ActionRectify:
		if len(c.Fields) == 0 {
			return errors.New("rectify without fields")
		}
		for f := range c.Fields {
			if rectifiable[f] == "" {
				return fmt.Errorf("rectify: field %q cannot be changed (only firstName, lastName, language)", f)
			}
		}
	case ActionUnsubscribeAll, ActionWithdrawObjection, ActionErase:
	default:
		return fmt.Errorf("unknown action %q", c.Action)
	}
	return nil
}

// ConsentEvent is one line of a contact's consent history.
type ConsentEvent struct {
	Topic    string `json:"topic"`
	Action   string `json:"action"`
	At       string `json:"at"`
	Source   string `json:"source"`
	TextHash string `json:"textHash,omitempty"`
	IP       string `json:"ip,omitempty"`
	// Detail is an imported opt-out's original reason.
	Detail string `json:"detail,omitempty"`
	// Kind is an imported opt-out's kind: Unsubscribe, Bounce or Complaint.
	Kind string `json:"kind,omitempty"`
}

// Preferences is what the preference center needs of the database.
type Preferences interface {
	// Contact returns a contact, or ErrNotFound.
	Contact(ctx context.Context, key string) (*Exported, error)
	// ConsentEvents returns a contact's consent history, oldest first.
	ConsentEvents(ctx context.Context, key string) ([]ConsentEvent, error)
	// Apply applies changes and records them as evidence, atomically.
	Apply(ctx context.Context, changes []Change) error
	// ApplyPending applies the changes an earlier version queued during
	// conversions, and returns how many.
	ApplyPending(ctx context.Context) (int, error)
	// Ping checks the database answers.
	Ping(ctx context.Context) error
}

// preferences implements Preferences, and Suppress, once for both
// databases: db runs single statements, inTx runs fn in a transaction.
type preferences struct {
	db   conn
	inTx func(ctx context.Context, fn func(conn) error) error
	// salt, when set, hashes erased keys instead of the database's own.
	salt []byte
	// afterErasure, when set, runs after a committed erasure.
	afterErasure func(ctx context.Context) error
	// json reads the contacts' JSON columns in this database's dialect.
	json jsonQueries
}

// Suppressions implements Store.
func (p preferences) Suppressions(ctx context.Context) (*Suppressions, error) {
	return loadSuppressions(ctx, p.db, p.saltOf)
}

// SuppressionCount implements Store.
func (p preferences) SuppressionCount(ctx context.Context) (int, error) {
	var n int
	_, err := queryOne(ctx, p.db, `SELECT count(*) FROM suppressions`, nil, &n)
	return n, err
}

// Suppress implements Store: the erasure of a contact.
func (p preferences) Suppress(ctx context.Context, key, origin string) error {
	return p.Apply(ctx, []Change{{Key: key, Action: ActionErase, Topic: "*", Source: origin, At: time.Now()}})
}

// Contact implements Preferences.
func (p preferences) Contact(ctx context.Context, key string) (*Exported, error) {
	return contact(ctx, p.db, key)
}

// ConsentEvents implements Preferences.
func (p preferences) ConsentEvents(ctx context.Context, key string) ([]ConsentEvent, error) {
	return consentEvents(ctx, p.db, key)
}

// Apply implements Preferences.
func (p preferences) Apply(ctx context.Context, changes []Change) error {
	err := p.inTx(ctx, func(c conn) error {
		salt, err := p.saltOf(ctx, c)
		if err != nil {
			return err
		}
		for i := range changes {
			if err := applyChange(ctx, c, salt, &changes[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || p.afterErasure == nil || !slices.ContainsFunc(changes, func(c Change) bool { return c.Action == ActionErase }) {
		return err
	}
	// Best effort: a reader (a running conversion) can keep the WAL from
	// emptying; the next erasure's checkpoint copies it then.
	_ = p.afterErasure(ctx)
	return nil
}

// ApplyPending implements Preferences: queued changes oldest first, each
// with the removal of its queue row in one transaction, so a crash neither
// loses nor repeats one.
func (p preferences) ApplyPending(ctx context.Context) (int, error) {
	applied := 0
	for {
		var id int64
		var raw []byte
		found, err := queryOne(ctx, p.db, `SELECT id, change FROM pending_changes ORDER BY id LIMIT 1`, nil, &id, &raw)
		if err != nil || !found {
			return applied, err
		}
		var ch Change
		if err := json.Unmarshal(raw, &ch); err != nil {
			return applied, fmt.Errorf("pending change %d: %w", id, err)
		}
		err = p.inTx(ctx, func(c conn) error {
			n, err := c.exec(ctx, `DELETE FROM pending_changes WHERE id = ?`, id)
			if err != nil || n == 0 { // another replica applied it
				return err
			}
			salt, err := p.saltOf(ctx, c)
			if err != nil {
				return err
			}
			return applyChange(ctx, c, salt, &ch)
		})
		if err != nil {
			return applied, fmt.Errorf("applying pending change %d: %w", id, err)
		}
		applied++
	}
}

// contactSelect reads contacts in scanExported's order; CAST reads
// PostgreSQL's jsonb as text.
const contactSelect = `SELECT key, email, first_name, last_name, language, CAST(fields AS text), CAST(sources AS text),
	CAST(segments AS text), global_opt_out, CAST(conflicts AS text), undeliverable FROM contacts`

func scanExported(rows rowScanner) (*Exported, error) {
	var e Exported
	var fields, sources, segments, conflicts []byte
	if err := rows.Scan(&e.Key, &e.Email, &e.FirstName, &e.LastName, &e.Language, &fields, &sources, &segments,
		&e.GlobalOptOut, &conflicts, &e.Undeliverable); err != nil {
		return nil, err
	}
	return &e, decodeExported(&e, fields, sources, segments, conflicts)
}

func contact(ctx context.Context, c conn, key string) (*Exported, error) {
	rows, err := c.query(ctx, contactSelect+` WHERE bucket = ? AND key = ?`, Bucket(key), key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, ErrNotFound
	}
	return scanExported(rows)
}

func consentEvents(ctx context.Context, c conn, key string) ([]ConsentEvent, error) {
	rows, err := c.query(ctx, `SELECT topic, action, at, source, text_hash, ip, detail, kind FROM consent_events WHERE bucket IN (?, -1) AND key = ? ORDER BY id`, Bucket(key), key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	events := []ConsentEvent{}
	for rows.Next() {
		var e ConsentEvent
		if err := rows.Scan(&e.Topic, &e.Action, &e.At, &e.Source, &e.TextHash, &e.IP, &e.Detail, &e.Kind); err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, rows.Err()
}

// Timestamp is a time as stored: fixed width, so that text order is time
// order down to the nanosecond.
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

// applyChange applies one change inside a transaction, holding the
// contact's bucket.
//   - A change to a contact the database does not hold (yet) is still kept
//     as an override, so an import never undoes it.
//   - Per contact and topic (a segment, the global opt-out, a field), the
//     change made last wins, whatever the order changes arrive in; every
//     change is kept as evidence.
//   - An erased address is never written again: a later change for it is
//     dropped, evidence included.
func applyChange(ctx context.Context, c conn, salt []byte, ch *Change) error {
	if err := ch.Validate(); err != nil {
		return err
	}
	bucket := Bucket(ch.Key)
	if err := c.lockBucket(ctx, bucket); err != nil {
		return err
	}
	hash := HashKey(salt, ch.Key)
	erased, err := queryOne(ctx, c, `SELECT 1 FROM suppressions WHERE key_hash = ?`, []any{hash}, new(int))
	if err != nil || erased {
		return err
	}
	at := Timestamp(ch.At)
	eventKey := ch.Key
	switch ch.Action {
	case ActionSubscribe, ActionUnsubscribe:
		status := merge.Subscribed
		if ch.Action == ActionUnsubscribe {
			status = merge.Unsubscribed
		}
		won, err := setOverride(ctx, c, bucket, ch.Key, ch.Segment, status, at)
		if err != nil {
			return err
		}
		if won {
			if err := setContactSegment(ctx, c, bucket, ch.Key, ch.Segment, status); err != nil {
				return err
			}
		}
	case ActionUnsubscribeAll, ActionWithdrawObjection:
		optOut := ch.Action == ActionUnsubscribeAll
		status := merge.Subscribed
		if optOut {
			status = merge.Unsubscribed
		}
		won, err := setOverride(ctx, c, bucket, ch.Key, "*", status, at)
		if err != nil {
			return err
		}
		if won {
			if _, err := c.exec(ctx, `UPDATE contacts SET global_opt_out = ? WHERE bucket = ? AND key = ?`, optOut, bucket, ch.Key); err != nil {
				return err
			}
		}
	case ActionRectify:
		for field, value := range ch.Fields {
			won, err := c.exec(ctx, `INSERT INTO field_overrides (bucket, key, field, value, changed_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (bucket, key, field) DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at
				WHERE field_overrides.changed_at <= excluded.changed_at`,
				bucket, ch.Key, field, value, at)
			if err != nil {
				return err
			}
			if won == 0 {
				continue
			}
			q := `UPDATE contacts SET ` + rectifiable[field] + ` = ?`
			if field == "language" {
				q += `, language_defaulted = false`
			}
			if _, err := c.exec(ctx, q+` WHERE bucket = ? AND key = ?`, value, bucket, ch.Key); err != nil {
				return err
			}
		}
	case ActionErase:
		if _, err := c.exec(ctx, `INSERT INTO suppressions (key_hash, created_at, origin, bucket) VALUES (?, ?, ?, ?) ON CONFLICT (key_hash) DO NOTHING`,
			hash, at, ch.Source, bucket); err != nil {
			return err
		}
		for _, q := range erasures {
			if _, err := c.exec(ctx, q+` WHERE key = ?`, ch.Key); err != nil {
				return err
			}
		}
		// The partition holding the key is merged again by the next run, so
		// its report counts the erased rows as suppressed.
		if _, err := c.exec(ctx, `DELETE FROM checkpoints WHERE (lo <= ? AND ? < hi) OR lo < 0`, bucket, bucket); err != nil {
			return err
		}
		// The history stays as evidence, under the salted hash instead of
		// the key.
		eventKey = hash
		if _, err := c.exec(ctx, `UPDATE consent_events SET key = ?, bucket = ? WHERE bucket IN (?, -1) AND key = ?`,
			hash, Bucket(hash), bucket, ch.Key); err != nil {
			return err
		}
	}
	topic := ch.Topic
	if topic == "" {
		topic = ch.Segment
	}
	_, err = c.exec(ctx, `INSERT INTO consent_events (bucket, key, topic, action, at, source, text_hash, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		Bucket(eventKey), eventKey, topic, ch.Action, at, ch.Source, ch.TextHash, ch.IP)
	return err
}

// setOverride records a contact's choice for a segment ('*' for the global
// opt-out) unless a later one is already recorded, and reports whether it
// did.
func setOverride(ctx context.Context, c conn, bucket int, key, segment, status, at string) (bool, error) {
	n, err := c.exec(ctx, `INSERT INTO preference_overrides (bucket, key, segment, status, changed_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (bucket, key, segment) DO UPDATE SET status = excluded.status, changed_at = excluded.changed_at
		WHERE preference_overrides.changed_at <= excluded.changed_at`,
		bucket, key, segment, status, at)
	return n > 0, err
}

func setContactSegment(ctx context.Context, c conn, bucket int, key, segment, status string) error {
	var raw []byte
	found, err := queryOne(ctx, c, `SELECT segments FROM contacts WHERE bucket = ? AND key = ?`, []any{bucket, key}, &raw)
	if err != nil || !found {
		return err
	}
	segments := map[string]string{}
	if err := json.Unmarshal(raw, &segments); err != nil {
		return err
	}
	segments[segment] = status
	_, err = c.exec(ctx, `UPDATE contacts SET segments = ? WHERE bucket = ? AND key = ?`,
		string(appendJSONMap(nil, segments)), bucket, key)
	return err
}

// useSalt takes an erasure salt from outside the database, unless the
// database already holds erasures hashed with its own, and then removes the
// database's own, unused salt.
func (p *preferences) useSalt(ctx context.Context, salt []byte) error {
	if len(salt) == 0 {
		return nil
	}
	if len(salt) < 32 {
		return fmt.Errorf("the erasure salt has %d bytes; it needs at least 32 random bytes", len(salt))
	}
	var legacy int64
	if _, err := queryOne(ctx, p.db, `SELECT count(*) FROM suppressions s, settings t WHERE t.name = 'suppression_salt'`, nil, &legacy); err != nil {
		return err
	}
	if legacy > 0 {
		return nil // those hashes need the salt they were made with
	}
	p.salt = salt
	_, err := p.db.exec(ctx, `DELETE FROM settings WHERE name = 'suppression_salt'`)
	return err
}

// saltOf is the erasure salt: the one given, or the database's own.
func (p preferences) saltOf(ctx context.Context, c conn) ([]byte, error) {
	if p.salt != nil {
		return p.salt, nil
	}
	return dbSalt(ctx, c)
}

// dbSalt reads the database's own suppression salt, creating it on first
// use.
func dbSalt(ctx context.Context, c conn) ([]byte, error) {
	if _, err := c.exec(ctx, `INSERT INTO settings (name, value) VALUES ('suppression_salt', ?) ON CONFLICT (name) DO NOTHING`, newSalt()); err != nil {
		return nil, err
	}
	var salt string
	if _, err := queryOne(ctx, c, `SELECT value FROM settings WHERE name = 'suppression_salt'`, nil, &salt); err != nil {
		return nil, err
	}
	return []byte(salt), nil
}
