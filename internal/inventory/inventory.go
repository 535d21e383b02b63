// Package inventory is the record of processing a tenant keeps for the
// GDPR: which data the contact database holds, where each part came from,
// where it lives and what was done with consent. It holds counts and names
// of lists, fields and segments, never a contact's data. The conversion Job
// writes it; `kubectl contacts inventory` prints it as Markdown.
package inventory

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strings"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// Document is the inventory of one conversion's database.
type Document struct {
	Conversion string `json:"conversion"`
	// LastImport is when the last run finished (RFC 3339).
	LastImport string `json:"lastImport"`
	// Database says where the data lives.
	Database      string     `json:"database"`
	Sources       []Source   `json:"sources"`
	Segments      []Segment  `json:"segments"`
	Languages     []Count    `json:"languages"`
	Contacts      int64      `json:"contacts"`
	GlobalOptOuts int64      `json:"globalOptOuts"`
	Undeliverable int64      `json:"undeliverable"`
	Erasures      int64      `json:"erasures"`
	ConsentEvents []Activity `json:"consentEvents"`
}

// Source is one old list.
type Source struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	// Origin is the kind of place it is read from, and its name.
	Origin       string   `json:"origin"`
	Segment      string   `json:"segment"`
	RowsRead     int64    `json:"rowsRead"`
	RowsRejected int64    `json:"rowsRejected"`
	Contacts     int64    `json:"contacts"`
	FieldsKept   []string `json:"fieldsKept"`
	// OptOuts is how its opt-outs apply, when it carried some.
	OptOuts string `json:"optOuts,omitempty"`
}

// Segment counts a segment's members.
type Segment struct {
	Name         string `json:"name"`
	Subscribed   int64  `json:"subscribed"`
	Unsubscribed int64  `json:"unsubscribed"`
}

// Count is a value and how often it occurs.
type Count struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// Activity is the number of consent events of one action in one month.
type Activity struct {
	Month  string `json:"month"`
	Action string `json:"action"`
	Count  int64  `json:"count"`
}

// Origin describes where a source is read from, naming no credential: a
// URL shows its host only.
func Origin(s *ccv1.Source) string {
	switch {
	case s.SQL != nil:
		return "PostgreSQL query, connection in Secret " + s.SQL.SecretRef.Name
	case s.CSV == nil:
		return "unknown"
	case s.CSV.ConfigMapKeyRef != nil:
		return fmt.Sprintf("file %s in ConfigMap %s", s.CSV.ConfigMapKeyRef.Key, s.CSV.ConfigMapKeyRef.Name)
	case s.CSV.SecretKeyRef != nil:
		return fmt.Sprintf("file %s in Secret %s", s.CSV.SecretKeyRef.Key, s.CSV.SecretKeyRef.Name)
	case s.CSV.URL != "":
		if u, err := url.Parse(s.CSV.URL); err == nil {
			return "download from " + u.Host
		}
		return "download"
	case s.CSV.S3 != nil:
		return fmt.Sprintf("object store, bucket %s, key %s", s.CSV.S3.Bucket, s.CSV.S3.Key)
	case s.CSV.PersistentVolumeClaim != nil:
		return fmt.Sprintf("file %s on PersistentVolumeClaim %s", s.CSV.PersistentVolumeClaim.Path, s.CSV.PersistentVolumeClaim.ClaimName)
	}
	return "file " + s.CSV.Path
}

// Database says where the data lives.
func Database(spec *ccv1.ContactConversionSpec) string {
	switch {
	case spec.Database.Postgres != nil:
		return "PostgreSQL, connection in Secret " + spec.Database.Postgres.SecretRef.Name
	case spec.Database.SQLite != nil:
		return "SQLite on PersistentVolumeClaim " + spec.Database.SQLite.PersistentVolumeClaim
	}
	return "unknown"
}

// FieldsKept are the contact fields a mapping fills, from the report's
// "field <- header" lines.
func FieldsKept(mapping []string) []string {
	var out []string
	for _, m := range mapping {
		if f, _, ok := strings.Cut(m, " <- "); ok && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// Sorted turns a map of counts into a list, largest first.
func Sorted(m map[string]int64) []Count {
	out := make([]Count, 0, len(m))
	for v, n := range m {
		out = append(out, Count{v, n})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Value, b.Value)) })
	return out
}

// PreferenceCenter is what the record says of a preference center.
type PreferenceCenter struct {
	Name, URL, LinkTTL string
	Rights             []string
}

// Markdown prints the record, ready for a processing register.
func Markdown(d *Document, pcs []PreferenceCenter) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	cell := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	p("# Contact data inventory: %s", d.Conversion)
	p("")
	p("- Last import: %s", cmp.Or(d.LastImport, "none yet"))
	p("- Where the data lives: %s", d.Database)
	p("- Contacts: %d, of which %d opted out of everything and %d undeliverable", d.Contacts, d.GlobalOptOuts, d.Undeliverable)
	p("- Erased on request: %d (only a salted hash of each address is kept, so it is never imported again)", d.Erasures)
	p("")
	p("## Where the data came from")
	p("")
	p("| Source | Origin | Segment | Rows read | Rejected | Contacts | Fields kept | Opt-outs |")
	p("|---|---|---|---:|---:|---:|---|---|")
	for _, s := range d.Sources {
		p("| %s | %s | %s | %d | %d | %d | %s | %s |", cell(s.DisplayName), cell(s.Origin), cell(s.Segment), s.RowsRead, s.RowsRejected,
			s.Contacts, cell(strings.Join(s.FieldsKept, ", ")), cmp.Or(cell(s.OptOuts), "-"))
	}
	p("")
	p("## Segments")
	p("")
	p("| Segment | Subscribed | Unsubscribed |")
	p("|---|---:|---:|")
	for _, s := range d.Segments {
		p("| %s | %d | %d |", cell(s.Name), s.Subscribed, s.Unsubscribed)
	}
	p("")
	p("## Languages")
	p("")
	p("| Language | Contacts |")
	p("|---|---:|")
	for _, l := range d.Languages {
		p("| %s | %d |", cell(cmp.Or(l.Value, "(none)")), l.Count)
	}
	p("")
	p("## Consent evidence by month")
	p("")
	p("| Month | Action | Events |")
	p("|---|---|---:|")
	for _, a := range d.ConsentEvents {
		p("| %s | %s | %d |", a.Month, a.Action, a.Count)
	}
	if len(pcs) > 0 {
		p("")
		p("## Preference center")
		p("")
		p("| Name | Address | Links valid for | Rights offered |")
		p("|---|---|---|---|")
		for _, pc := range pcs {
			p("| %s | %s | %s | %s |", cell(pc.Name), cell(cmp.Or(pc.URL, "-")), cell(pc.LinkTTL), cell(strings.Join(pc.Rights, ", ")))
		}
	}
	return b.String()
}
