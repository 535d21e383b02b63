package store

import (
	"context"
	"slices"
	"strings"
)

// Inventory is what the database holds, counted, without personal data:
// the record of processing a tenant keeps.
type Inventory struct {
	Contacts      int64 `json:"contacts"`
	GlobalOptOuts int64 `json:"globalOptOuts"`
	Undeliverable int64 `json:"undeliverable"`
	// Sources counts the contacts each source (by display name) holds.
	Sources map[string]int64 `json:"sources"`
	// Segments counts each segment's members by status.
	Segments map[string]map[string]int64 `json:"segments"`
	// Languages counts the contacts by language.
	Languages map[string]int64 `json:"languages"`
	// ConsentEvents counts the evidence by action and month (YYYY-MM).
	ConsentEvents []EventCount `json:"consentEvents"`
	// Erasures counts the erased addresses, kept as salted hashes.
	Erasures int64 `json:"erasures"`
}

// EventCount is the number of consent events of one action in one month.
type EventCount struct {
	Action string `json:"action"`
	Month  string `json:"month"`
	Count  int64  `json:"count"`
}

// jsonQueries are the SQL each database needs to read the contacts' JSON
// columns: each contact's segments as (name, status) rows, and its sources
// as value rows.
type jsonQueries struct{ segments, sources string }

var (
	sqliteJSON = jsonQueries{
		segments: `SELECT j.key, j.value, count(*) FROM contacts, json_each(contacts.segments) AS j GROUP BY j.key, j.value`,
		sources:  `SELECT j.value, count(*) FROM contacts, json_each(contacts.sources) AS j GROUP BY j.value`,
	}
	postgresJSON = jsonQueries{
		segments: `SELECT s.key, s.value, count(*) FROM contacts, jsonb_each_text(contacts.segments) AS s GROUP BY s.key, s.value`,
		sources:  `SELECT s, count(*) FROM contacts, jsonb_array_elements_text(contacts.sources) AS s GROUP BY s`,
	}
)

// Inventory implements Store.
func (p preferences) Inventory(ctx context.Context) (*Inventory, error) {
	inv := &Inventory{Sources: map[string]int64{}, Segments: map[string]map[string]int64{}, Languages: map[string]int64{}}
	for _, q := range []struct {
		sql  string
		dest []any
	}{
		{`SELECT count(*), count(CASE WHEN global_opt_out THEN 1 END), count(CASE WHEN undeliverable THEN 1 END) FROM contacts`,
			[]any{&inv.Contacts, &inv.GlobalOptOuts, &inv.Undeliverable}},
		{`SELECT count(*) FROM suppressions`, []any{&inv.Erasures}},
	} {
		if _, err := queryOne(ctx, p.db, q.sql, nil, q.dest...); err != nil {
			return nil, err
		}
	}
	err := eachRow(ctx, p.db, p.json.segments, nil, func(scan func(...any) error) error {
		var name, status string
		var n int64
		if err := scan(&name, &status, &n); err != nil {
			return err
		}
		if inv.Segments[name] == nil {
			inv.Segments[name] = map[string]int64{}
		}
		inv.Segments[name][status] = n
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, q := range []struct {
		sql string
		m   map[string]int64
	}{{p.json.sources, inv.Sources}, {`SELECT language, count(*) FROM contacts GROUP BY language`, inv.Languages}} {
		if err := eachRow(ctx, p.db, q.sql, nil, func(scan func(...any) error) error {
			var name string
			var n int64
			if err := scan(&name, &n); err != nil {
				return err
			}
			q.m[name] = n
			return nil
		}); err != nil {
			return nil, err
		}
	}
	err = eachRow(ctx, p.db, `SELECT action, substr(at, 1, 7), count(*) FROM consent_events GROUP BY action, substr(at, 1, 7)`, nil,
		func(scan func(...any) error) error {
			var e EventCount
			if err := scan(&e.Action, &e.Month, &e.Count); err != nil {
				return err
			}
			inv.ConsentEvents = append(inv.ConsentEvents, e)
			return nil
		})
	slices.SortFunc(inv.ConsentEvents, func(a, b EventCount) int {
		if c := strings.Compare(a.Month, b.Month); c != 0 {
			return c
		}
		return strings.Compare(a.Action, b.Action)
	})
	return inv, err
}
