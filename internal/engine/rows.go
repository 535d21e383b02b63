package engine

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/merge"
	"github.com/contactconverter/contact-converter/internal/normalize"
	"github.com/contactconverter/contact-converter/internal/store"
)

// ConfigError is a mistake in the conversion's spec or in how it fits the
// lists; retrying cannot fix it.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }

func (e *ConfigError) Unwrap() error { return e.Err }

// mapping says which column holds each contact field of one source.
type mapping struct {
	keyIsEmail                               bool
	key                                      int
	email, firstName, lastName, lang, optOut int
	custom                                   []customColumn
	width                                    int
	// allRows makes every row an opt-out (optOuts.allRows).
	allRows bool
	// optOutTime and optOutReason are the evidence columns, or -1.
	optOutTime, optOutReason int
	// fullName is a column holding whole names, or -1.
	fullName int
	// headerless: the list's first line is a row, not a header.
	headerless bool
	// Described lists how each field was found, for the report.
	described []string
}

type customColumn struct {
	name string
	col  int
}

// newMapping matches a source's header against its columns, then against the
// well-known header names for the fields columns leave out.
func newMapping(spec *ccv1.ContactConversionSpec, index int, header []string) (*mapping, error) {
	src := &spec.Sources[index]
	where := fmt.Sprintf("spec.sources[%d] (%s)", index, src.Name)
	m := &mapping{keyIsEmail: spec.KeyField() == normalize.FieldEmail, key: -1, email: -1, firstName: -1,
		lastName: -1, lang: -1, optOut: -1, width: len(header), allRows: src.OptOuts != nil && src.OptOuts.AllRows,
		optOutTime: -1, optOutReason: -1, fullName: -1}
	find := func(h string) int {
		return slices.IndexFunc(header, func(x string) bool { return normalize.SameHeader(x, h) })
	}
	assigned := map[string]int{}
	names := make([]string, 0, len(src.Columns))
	for f := range src.Columns {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, field := range names {
		h := src.Columns[field]
		col := find(h)
		if col < 0 {
			return nil, &ConfigError{fmt.Errorf("%s: columns.%s names the header %q, which the list does not have; %s",
				where, field, h, describeHeader(header, src.Columns))}
		}
		assigned[field] = col
		m.described = append(m.described, fmt.Sprintf("%s <- %q (columns)", field, header[col]))
	}
	for col, h := range header {
		field := normalize.HeaderField(h)
		if field == "" {
			continue
		}
		if _, done := assigned[field]; done || slices.Contains(mapValues(assigned), col) {
			continue
		}
		assigned[field] = col
		m.described = append(m.described, fmt.Sprintf("%s <- %q (recognised header)", field, h))
	}
	for field, col := range assigned {
		switch field {
		case normalize.FieldEmail:
			m.email = col
		case normalize.FieldFirstName:
			m.firstName = col
		case normalize.FieldLastName:
			m.lastName = col
		case normalize.FieldLanguage:
			m.lang = col
		case normalize.FieldOptOut:
			m.optOut = col
		case normalize.FieldOptOutTime:
			m.optOutTime = col
		case normalize.FieldOptOutReason:
			m.optOutReason = col
		case normalize.FieldFullName:
			m.fullName = col
		default:
			if _, declared := src.Columns[field]; declared {
				m.custom = append(m.custom, customColumn{field, col})
			}
		}
		if field == spec.KeyField() {
			m.key = col
		}
	}
	// Next to a first-name column and without a last-name one, "Name" is
	// the last name (Flexmail's "First name" and "Name").
	if m.fullName >= 0 && m.firstName >= 0 && m.lastName < 0 {
		m.lastName, m.fullName = m.fullName, -1
		for i, d := range m.described {
			if strings.HasPrefix(d, normalize.FieldFullName+" <- ") {
				m.described[i] = normalize.FieldLastName + strings.TrimPrefix(d, normalize.FieldFullName) + ", beside a first-name column"
			}
		}
	}
	slices.SortFunc(m.custom, func(a, b customColumn) int { return strings.Compare(a.name, b.name) })
	slices.Sort(m.described)
	// A plain address list has no header: its first line is an address.
	if m.key < 0 && m.keyIsEmail && len(header) == 1 && len(src.Columns) == 0 {
		if _, err := normalize.EmailKey(header[0]); err == nil {
			m.key, m.email, m.headerless = 0, 0, true
			m.described = append(m.described, "email <- column 1 (a plain address list without header: its first line is read as an address)")
		}
	}
	if m.key < 0 {
		return nil, &ConfigError{fmt.Errorf("%s: no column holds the unique key %q; map it in columns (%s)",
			where, spec.KeyField(), describeHeader(header, src.Columns))}
	}
	return m, nil
}

func mapValues(m map[string]int) []int {
	out := make([]int, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// describeHeader names the header cells a user can act on without showing
// any that may be personal data: the first line may be a contact, and the
// message reaches the Job's log, the status and an Event. Only cells that
// are known header names, or that a column mapping names, are shown.
func describeHeader(header []string, columns map[string]string) string {
	var shown []string
	for _, h := range header {
		mapped := slices.ContainsFunc(mapValuesOf(columns), func(c string) bool { return normalize.SameHeader(c, h) })
		if normalize.HeaderField(h) != "" || mapped {
			shown = append(shown, fmt.Sprintf("%q", h))
		}
	}
	hidden := len(header) - len(shown)
	msg := fmt.Sprintf("the first line has %d columns", len(header))
	if len(shown) > 0 {
		msg += "; the known headers among them are " + strings.Join(shown, ", ")
	}
	if hidden > 0 {
		msg += fmt.Sprintf("; %d other columns are not shown, as they may hold personal data. Check that the list starts with a header row, and that columns names its headers exactly", hidden)
	}
	return msg
}

func mapValuesOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// unshownLanguage counts the unknown language values not shown in the
// status because they may be personal data.
const unshownLanguage = "(not shown: may be personal data)"

// shownLanguage is an unknown language value as the status may show it:
// a short word, not an address or a number.
func shownLanguage(raw string) string {
	if len(raw) > 32 || strings.ContainsAny(raw, "@0123456789") {
		return unshownLanguage
	}
	return raw
}

// rowParser turns records into rows, counting what it normalised.
type rowParser struct {
	languages      *normalize.Languages
	unknownLangs   map[string]int64
	unknownOptOuts int64
	// unknownOptOutTimes counts opt-out times in no known format: the
	// opt-out is kept, dated by the run.
	unknownOptOutTimes int64
	// namesFromFullName counts rows whose empty name columns were filled
	// from a whole name: a display name around the address, or a full-name
	// column.
	namesFromFullName int64
}

// trimCell trims spaces and the invisible characters a copy from a web page
// or a word processor leaves around a value (zero-width space and joiner,
// word joiner, byte-order mark).
func trimCell(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\u2060' || r == '\ufeff'
	})
}

// nfc stores text in one Unicode form: macOS exports decompose accents.
func nfc(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return norm.NFC.String(s)
		}
	}
	return s
}

// parse builds a row, or says why the record is rejected.
func (p *rowParser) parse(m *mapping, source int, line int, rec []string) (merge.Row, string, string) {
	if len(rec) > m.width {
		return merge.Row{}, normalize.ReasonMalformedRow, fmt.Sprintf("%d fields under a header of %d", len(rec), m.width)
	}
	cell := func(col int) string {
		if col < 0 || col >= len(rec) {
			return ""
		}
		return nfc(trimCell(rec[col]))
	}
	row := merge.Row{Source: source, Line: line, FirstName: cell(m.firstName), LastName: cell(m.lastName)}
	var displayName string
	row.Email, displayName = normalize.SplitAddress(cell(m.email))
	var err error
	if m.keyIsEmail {
		row.Key, err = normalize.EmailKey(row.Email)
	} else {
		row.Key, err = normalize.OtherKey(cell(m.key))
	}
	if err != nil {
		return row, err.Error(), cell(m.key)
	}
	if displayName == "" {
		displayName = cell(m.fullName)
	}
	if displayName != "" && (row.FirstName == "" || row.LastName == "") {
		first, last := normalize.NameParts(displayName)
		if row.FirstName == "" && first != "" || row.LastName == "" && last != "" {
			p.namesFromFullName++
		}
		row.FirstName = cmp.Or(row.FirstName, first)
		row.LastName = cmp.Or(row.LastName, last)
	}
	if raw := cell(m.lang); raw != "" {
		code, outcome := p.languages.Match(raw)
		switch outcome {
		case normalize.Recognised:
			row.Language = code
		case normalize.Unknown, normalize.NotOffered:
			p.unknownLangs[shownLanguage(raw)]++
		}
	}
	if m.allRows {
		row.OptOut = true
	} else if m.optOut >= 0 {
		opted, known := normalize.OptOut(cell(m.optOut))
		row.OptOut = opted
		if !known {
			p.unknownOptOuts++
		}
	}
	if row.OptOut {
		if raw := cell(m.optOutTime); raw != "" {
			if at, ok := normalize.OptOutTime(raw); ok {
				row.OptOutAt = store.Timestamp(at)
			} else {
				p.unknownOptOutTimes++
			}
		}
		row.OptOutReason = truncate(cell(m.optOutReason), 200)
	}
	for _, c := range m.custom {
		if v := cell(c.col); v != "" {
			if row.Fields == nil {
				row.Fields = make(map[string]string, len(m.custom))
			}
			row.Fields[c.name] = v
		}
	}
	return row, "", ""
}
