package engine

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/normalize"
)

// A list whose first line is a contact, not a header: the error says what
// is wrong and how to fix it, and shows none of that line's cells, since the
// message ends up in the Job's log, the status and an Event.
func TestMappingErrorsShowNoCell(t *testing.T) {
	header := []string{"jan.peeters@example.be", "Jan", "Peeters", "E-mail"}
	for _, tc := range []struct {
		name    string
		columns map[string]string
		want    []string
	}{
		{"a mapped header the list lacks", map[string]string{"company": "Bedrijf"},
			[]string{`columns.company names the header "Bedrijf"`, "header row", `"E-mail"`, "3 other columns"}},
		{"no column holds the key", nil,
			[]string{`no column holds the unique key "customerNumber"`, "header row", "3 other columns"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &ccv1.ContactConversionSpec{Sources: []ccv1.Source{{Name: "fair", Columns: tc.columns}}}
			if tc.columns == nil {
				spec.UniqueKey = "customerNumber"
			}
			_, err := newMapping(spec, 0, header)
			if err == nil {
				t.Fatal("no error")
			}
			for _, cell := range header[:3] {
				if strings.Contains(err.Error(), cell) {
					t.Errorf("the error shows the cell %q: %v", cell, err)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error lacks %q: %v", w, err)
				}
			}
		})
	}
}

// Unknown language values are counted for the status; a value that could
// be personal data (an address, digits, a long text) is counted unshown.
func TestUnknownLanguagesShowNoPersonalData(t *testing.T) {
	p := &rowParser{languages: normalize.NewLanguages(nil, []string{"nl", "fr"}, "nl"), unknownLangs: map[string]int64{}}
	m := &mapping{keyIsEmail: true, key: 0, email: 0, firstName: -1, lastName: -1, lang: 1, optOut: -1, fullName: -1, width: 2}
	for _, lang := range []string{"klingon", "jan@example.be", "0475 12 34 56", strings.Repeat("x", 60), "klingon"} {
		p.parse(m, 0, 2, []string{"an@example.be", lang})
	}
	want := map[string]int64{"klingon": 2, unshownLanguage: 3}
	if len(p.unknownLangs) != len(want) || p.unknownLangs["klingon"] != 2 || p.unknownLangs[unshownLanguage] != 3 {
		t.Errorf("unknown languages = %v, want %v", p.unknownLangs, want)
	}
}

// What mail clients and macOS write: an address in display-name or mailto:
// form is read, its name fills the empty name columns (counted), and text
// is stored NFC.
func TestRowsAsRealToolsWriteThem(t *testing.T) {
	m := &mapping{keyIsEmail: true, key: 0, email: 0, firstName: 1, lastName: 2, lang: -1, optOut: -1, optOutTime: -1, optOutReason: -1, fullName: -1, width: 4,
		custom: []customColumn{{"company", 3}}}
	type got struct {
		Key, Email, FirstName, LastName, Company, Reason string
	}
	for _, tc := range []struct {
		rec  []string
		want got
	}{
		{[]string{`"Jan Peeters" <Jan.Peeters@example.be>`, "", "", ""},
			got{Key: "jan.peeters@example.be", Email: "Jan.Peeters@example.be", FirstName: "Jan", LastName: "Peeters"}},
		{[]string{"Peeters, Jan <jan@example.be>", "", "Peeters-Claes", ""},
			got{Key: "jan@example.be", Email: "jan@example.be", FirstName: "Jan", LastName: "Peeters-Claes"}},
		{[]string{"mailto:ame\u0301lie@example.fr", "Ame\u0301lie", "", "Cafe\u0301 Noir"},
			got{Key: "am\u00e9lie@example.fr", Email: "am\u00e9lie@example.fr", FirstName: "Am\u00e9lie", Company: "Caf\u00e9 Noir"}},
		{[]string{"Jan <jan at example.be>", "", "", ""}, got{Reason: normalize.ReasonInvalidEmail}},
	} {
		p := &rowParser{}
		row, reason, _ := p.parse(m, 0, 2, tc.rec)
		g := got{Reason: reason}
		if reason == "" {
			g = got{Key: row.Key, Email: row.Email, FirstName: row.FirstName, LastName: row.LastName, Company: row.Fields["company"]}
		}
		if diff := cmp.Diff(tc.want, g); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.rec, diff)
		}
	}
	p := &rowParser{}
	p.parse(m, 0, 2, []string{`"Jan Peeters" <jan@example.be>`, "", "", ""})
	p.parse(m, 0, 3, []string{`"Jan Peeters" <jan@example.be>`, "Jan", "Peeters", ""})
	if p.namesFromFullName != 1 {
		t.Errorf("names taken from a display name: %d, want 1", p.namesFromFullName)
	}
}

// A whole name in one column fills the empty first and last names; next to
// a first-name column, "Name" is the last name (Flexmail's "First name" and
// "Name").
func TestAFullNameColumn(t *testing.T) {
	spec := &ccv1.ContactConversionSpec{Sources: []ccv1.Source{{Name: "list"}}}
	for _, tc := range []struct {
		header, rec []string
		first, last string
	}{
		{[]string{"email", "name"}, []string{"jan@example.be", "Jan Peeters"}, "Jan", "Peeters"},
		{[]string{"Name", "Given Name", "Family Name", "E-mail 1 - Value"}, []string{"Jan Peeters", "", "Peeters", "jan@example.be"}, "Jan", "Peeters"},
		{[]string{"E-mail", "First name", "Name"}, []string{"jan@example.be", "Jan", "Peeters"}, "Jan", "Peeters"},
	} {
		m, err := newMapping(spec, 0, tc.header)
		if err != nil {
			t.Fatal(err)
		}
		p := &rowParser{}
		row, reason, _ := p.parse(m, 0, 2, tc.rec)
		if reason != "" || row.FirstName != tc.first || row.LastName != tc.last {
			t.Errorf("%q: %q %q (%s); want %q %q", tc.header, row.FirstName, row.LastName, reason, tc.first, tc.last)
		}
	}
}

// Zero-width characters pasted from a web page around an address are not
// part of it.
func TestInvisibleCharactersAroundCells(t *testing.T) {
	m := &mapping{keyIsEmail: true, key: 0, email: 0, firstName: 1, lastName: -1, lang: -1, optOut: -1, optOutTime: -1, optOutReason: -1, fullName: -1, width: 2}
	row, reason, _ := (&rowParser{}).parse(m, 0, 2, []string{"\u200bjan@example.be\u200b\u00a0", "\ufeffJan\u2060"})
	if reason != "" || row.Key != "jan@example.be" || row.FirstName != "Jan" {
		t.Errorf("row %q %q, reason %q", row.Key, row.FirstName, reason)
	}
}

// A source's digest is the SHA-256 of its header line, then of every field
// followed by a zero byte: the run key built on it must stay the same from
// one version to the next, so an interrupted run resumes after an upgrade.
// Digesting a record allocates nothing.
func TestRecordDigest(t *testing.T) {
	records := [][]string{{"jan@example.be", "Jan", ""}, {"élise@example.be", "Élise", "fr"}, {""}}
	want := sha256.New()
	want.Write([]byte("source 0 [\"email\" \"first\" \"lang\"]\n"))
	for _, rec := range records {
		for _, f := range rec {
			want.Write([]byte(f))
			want.Write([]byte{0})
		}
	}
	d := newRecordDigest(fmt.Sprintf("source %d %q\n", 0, []string{"email", "first", "lang"}))
	for _, rec := range records {
		d.add(rec)
	}
	if got := d.sum(); !bytes.Equal(got, want.Sum(nil)) {
		t.Errorf("digest = %x, want %x", got, want.Sum(nil))
	}
	if n := testing.AllocsPerRun(100, func() { d.add(records[1]) }); n != 0 {
		t.Errorf("digesting a record allocates %.0f times", n)
	}
}
