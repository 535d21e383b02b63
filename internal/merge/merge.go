// Package merge holds the GDPR-safe rules that turn all the rows sharing one
// key into one contact: sources are appended, opt-outs always win, equal
// values merge, and different values become conflicts settled by policy or
// resolution. It is pure.
package merge

import (
	"slices"
	"strings"

	"golang.org/x/text/unicode/norm"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// Membership statuses of a contact in a segment.
const (
	Subscribed   = "subscribed"
	Unsubscribed = "unsubscribed"
)

// Row is one normalised source row.
type Row struct {
	Key    string
	Source int // index into the spec's sources
	Line   int
	// Email is the address as given (the key is its normalised form).
	Email     string
	FirstName string
	LastName  string
	// Language is an ISO 639-1 code, or "" when the row had none usable.
	Language string
	OptOut   bool
	// OptOutAt is the opt-out's original time (stored form), or "";
	// OptOutReason its reason.
	OptOutAt, OptOutReason string
	// Fields are the custom fields, by name.
	Fields map[string]string
}

// Conflict is one field with different values across a contact's rows.
type Conflict struct {
	Field  string   `json:"field"`
	Values []string `json:"values"`
	// Resolved tells whether a policy or resolution settled it.
	Resolved bool `json:"resolved"`
}

// Contact is the merged result.
type Contact struct {
	Key       string
	Email     string
	FirstName string
	LastName  string
	Language  string
	// LanguageDefaulted tells that no row had a usable language.
	LanguageDefaulted bool
	Fields            map[string]string
	// Sources are display names, in source order, each once.
	Sources []string
	// Segments maps a segment to Subscribed or Unsubscribed.
	Segments     map[string]string
	GlobalOptOut bool
	Conflicts    []Conflict
	// OptOuts are the opt-outs the lists carried, kept as consent evidence.
	OptOuts []ImportedOptOut
	// Undeliverable tells that a list reported a hard bounce.
	Undeliverable bool
}

// ImportedOptOut is one opt-out a list carried.
type ImportedOptOut struct {
	// Source is the spec's source name.
	Source string
	// Topic is the segment it unsubscribes, or "*" for a global opt-out.
	Topic string
	// At is the original time (stored form), or "" when the list has none.
	At     string
	Reason string
	// Kind is the source's opt-out kind: Unsubscribe, Bounce or Complaint.
	Kind ccv1.OptOutKind
}

// Rules configure a merge.
type Rules struct {
	Policy ccv1.ConflictPolicy
	// Resolutions by key, then field.
	Resolutions map[string]map[string]string
	// DisplayNames and Segments are indexed by source.
	DisplayNames []string
	Segments     []string
	// DefaultLanguage is given when no row has a usable language.
	DefaultLanguage string
	// RuleSegments are computed after the merge.
	RuleSegments []ccv1.RuleSegment
	// SourceNames are the spec's source names, by index, for rule matching.
	SourceNames []string
	// GlobalOptOuts tells, by source, that its opt-outs are audience-wide.
	GlobalOptOuts []bool
	// OptOutKinds are the sources' opt-out kinds, by source.
	OptOutKinds []ccv1.OptOutKind
}

// NewRules reads the rules from a spec.
func NewRules(spec *ccv1.ContactConversionSpec) *Rules {
	r := &Rules{Policy: spec.ConflictPolicyOrDefault(), Resolutions: map[string]map[string]string{},
		DefaultLanguage: string(spec.DefaultLanguage), RuleSegments: spec.Segments}
	for _, res := range spec.Conflicts.Resolutions {
		if r.Resolutions[res.Key] == nil {
			r.Resolutions[res.Key] = map[string]string{}
		}
		r.Resolutions[res.Key][res.Field] = res.Value
	}
	for i := range spec.Sources {
		s := &spec.Sources[i]
		r.DisplayNames = append(r.DisplayNames, s.SourceDisplayName())
		r.Segments = append(r.Segments, s.SegmentName())
		r.SourceNames = append(r.SourceNames, s.Name)
		r.GlobalOptOuts = append(r.GlobalOptOuts, s.OptOutScope() == ccv1.OptOutScopeGlobal)
		r.OptOutKinds = append(r.OptOutKinds, s.OptOutKind())
	}
	return r
}

// Merge turns the rows of one key, in source then line order, into a
// contact.
func (r *Rules) Merge(rows []Row) Contact {
	c := Contact{Key: rows[0].Key, Segments: map[string]string{}}
	resolutions := r.Resolutions[c.Key]
	pick := func(field string, value func(Row) string) string {
		v, conflict := r.settle(rows, field, value, resolutions)
		if conflict != nil {
			c.Conflicts = append(c.Conflicts, *conflict)
		}
		return v
	}
	c.Email = pick("email", func(x Row) string { return x.Email })
	c.FirstName = pick("firstName", func(x Row) string { return x.FirstName })
	c.LastName = pick("lastName", func(x Row) string { return x.LastName })
	c.Language = pick("language", func(x Row) string { return x.Language })
	if c.Language == "" {
		c.Language, c.LanguageDefaulted = r.DefaultLanguage, true
	}
	var names []string
	for _, x := range rows {
		for name := range x.Fields {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	for _, name := range names {
		if v := pick(name, func(x Row) string { return x.Fields[name] }); v != "" {
			if c.Fields == nil {
				c.Fields = map[string]string{}
			}
			c.Fields[name] = v
		}
	}
	for _, x := range rows {
		if name := r.DisplayNames[x.Source]; !slices.Contains(c.Sources, name) {
			c.Sources = append(c.Sources, name)
		}
		seg := r.Segments[x.Source]
		// An opt-out in any row of a segment's sources wins over every
		// subscribe.
		if x.OptOut {
			c.Segments[seg] = Unsubscribed
			c.GlobalOptOut = c.GlobalOptOut || r.GlobalOptOuts[x.Source]
			topic := seg
			if r.GlobalOptOuts[x.Source] {
				topic = "*"
			}
			kind := r.OptOutKinds[x.Source]
			c.Undeliverable = c.Undeliverable || kind == ccv1.OptOutKindBounce
			c.OptOuts = append(c.OptOuts, ImportedOptOut{Source: r.SourceNames[x.Source], Topic: topic, At: x.OptOutAt, Reason: x.OptOutReason, Kind: kind})
		} else if _, seen := c.Segments[seg]; !seen {
			c.Segments[seg] = Subscribed
		}
	}
	// An audience-wide opt-out in any list wins over every subscribe in
	// every other list, whatever their order.
	if c.GlobalOptOut {
		for seg := range c.Segments {
			c.Segments[seg] = Unsubscribed
		}
	}
	r.applyRuleSegments(&c, rows)
	return c
}

// settle merges one field. Values equal after trimming, Unicode
// normalisation, collapsing spaces and case-folding are one value (the first
// spelling is kept); empty values never conflict.
func (r *Rules) settle(rows []Row, field string, value func(Row) string, resolutions map[string]string) (string, *Conflict) {
	var distinct []string
	for _, x := range rows {
		v := strings.TrimSpace(value(x))
		if v == "" || slices.ContainsFunc(distinct, func(d string) bool { return sameValue(d, v) }) {
			continue
		}
		distinct = append(distinct, v)
	}
	switch len(distinct) {
	case 0:
		return "", nil
	case 1:
		return distinct[0], nil
	}
	conflict := &Conflict{Field: field, Values: distinct, Resolved: true}
	if v, ok := resolutions[field]; ok {
		return v, conflict
	}
	switch r.Policy {
	case ccv1.ConflictPolicyFirstSource:
		return distinct[0], conflict
	case ccv1.ConflictPolicyLastSource:
		return distinct[len(distinct)-1], conflict
	}
	conflict.Resolved = false
	return distinct[0], conflict
}

// applyRuleSegments adds the rule segments the contact matches: subscribed
// when it is subscribed to at least one of its sources' segments.
func (r *Rules) applyRuleSegments(c *Contact, rows []Row) {
	if len(r.RuleSegments) == 0 {
		return
	}
	status := Unsubscribed
	for _, s := range c.Segments {
		if s == Subscribed {
			status = Subscribed
		}
	}
	for _, seg := range r.RuleSegments {
		if r.matches(c, rows, seg.Match) {
			c.Segments[seg.Name] = status
		}
	}
}

func (r *Rules) matches(c *Contact, rows []Row, m ccv1.SegmentMatch) bool {
	if m.Language != "" && c.Language != string(m.Language) {
		return false
	}
	if len(m.Sources) > 0 && !slices.ContainsFunc(rows, func(x Row) bool { return slices.Contains(m.Sources, r.SourceNames[x.Source]) }) {
		return false
	}
	for field, want := range m.Fields {
		if !strings.EqualFold(strings.TrimSpace(c.field(field)), strings.TrimSpace(want)) {
			return false
		}
	}
	return true
}

func (c *Contact) field(name string) string {
	switch name {
	case "email":
		return c.Email
	case "firstName":
		return c.FirstName
	case "lastName":
		return c.LastName
	case "language":
		return c.Language
	}
	return c.Fields[name]
}

// sameValue tells whether two trimmed values are one: equal after Unicode
// normalisation (a macOS export writes accents decomposed), with runs of
// spaces collapsed, ignoring case.
func sameValue(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	return strings.EqualFold(canonical(a), canonical(b))
}

func canonical(s string) string {
	return strings.Join(strings.Fields(norm.NFC.String(s)), " ")
}
