package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/contactconverter/contact-converter/internal/engine"
	"github.com/contactconverter/contact-converter/internal/pgtest"
	"github.com/contactconverter/contact-converter/internal/store"
)

// testDatabases make a fresh database of each kind, by name.
var testDatabases = map[string]func(t *testing.T) string{
	"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "contacts.db") },
	"postgres": func(t *testing.T) string { return pgtest.NewDatabase(t, pgtest.Start(t), "contacts") },
}

// optOutTenant writes a members list and a Mailchimp-style unsubscribed
// export (no opt-out column: every row is one), and a conversion reading
// them with the given optOuts and source order.
func optOutTenant(t *testing.T, optOuts string, suppressionFirst bool) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"members.csv": "Email Address,First Name\njan@example.be,Jan\nmarie@example.be,Marie\n",
		"unsubscribed_members_export.csv": "Email Address,UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_REASON\n" +
			"jan@example.be,2024-03-02 10:15:00,Spring sale,No longer interested\npete@example.be,2023-11-20 08:00:00,Newsletter,\n",
		"members-2025.csv": "Email Address,First Name\njan@example.be,Jan\nmarie@example.be,Marie\nzoe@example.be,Zoe\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	members := "    - {name: members, csv: {path: members.csv}}\n"
	unsub := "    - {name: unsubscribed, csv: {path: unsubscribed_members_export.csv}, optOuts: " + optOuts +
		", columns: {email: Email Address, optOutTime: UNSUB_TIME, optOutReason: UNSUB_REASON}}\n"
	sources := members + unsub
	if suppressionFirst {
		sources = unsub + members
	}
	manifest := "apiVersion: contacts.contactconverter.io/v1alpha1\nkind: ContactConversion\nmetadata: {name: mc}\nspec:\n" +
		"  defaultLanguage: nl\n  database: {sqlite: {persistentVolumeClaim: x}}\n  sources:\n" + sources
	if err := os.WriteFile(filepath.Join(dir, "conversion.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type optOutState struct {
	GlobalOptOut bool
	Segments     map[string]string
}

func optOutStates(t *testing.T, db string) map[string]optOutState {
	t.Helper()
	out := map[string]optOutState{}
	for key, e := range exported(t, db) {
		out[key] = optOutState{e.GlobalOptOut, e.Segments}
	}
	return out
}

// An unsubscribed export with audience-wide scope: jan is opted out
// everywhere whatever the order of the lists, pete (only in the export) is
// kept, subscribed to nothing, and a new members list changes none of it.
func TestAGlobalSuppressionListBeatsEveryList(t *testing.T) {
	for name, newDB := range testDatabases {
		t.Run(name, func(t *testing.T) {
			want := map[string]optOutState{
				"jan@example.be":   {true, map[string]string{"members": "unsubscribed", "unsubscribed": "unsubscribed"}},
				"marie@example.be": {false, map[string]string{"members": "subscribed"}},
				"pete@example.be":  {true, map[string]string{"unsubscribed": "unsubscribed"}},
			}
			for _, first := range []bool{false, true} {
				tenant := optOutTenant(t, "{allRows: true, scope: Global}", first)
				db := newDB(t)
				report := filepath.Join(t.TempDir(), "report.json")
				if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", db, "--report", report); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, optOutStates(t, db)); diff != "" {
					t.Errorf("suppression list first=%v (-want +got):\n%s", first, diff)
				}
				var rep engine.Report
				data, _ := os.ReadFile(report)
				if err := json.Unmarshal(data, &rep); err != nil {
					t.Fatal(err)
				}
				for _, s := range rep.Sources {
					wantCount, wantScope := int64(0), ""
					if s.Name == "unsubscribed" {
						wantCount, wantScope = 2, "Global"
					}
					if s.OptOutsImported != wantCount || s.OptOutScope != wantScope {
						t.Errorf("report of %s: %d opt-outs, scope %q; want %d, %q", s.Name, s.OptOutsImported, s.OptOutScope, wantCount, wantScope)
					}
				}

				// A new members list, jan in it again: still opted out.
				manifest := filepath.Join(tenant, "conversion.yaml")
				m, _ := os.ReadFile(manifest)
				if err := os.WriteFile(manifest, []byte(strings.Replace(string(m), "members.csv", "members-2025.csv", 1)), 0o644); err != nil {
					t.Fatal(err)
				}
				if _, err := run(t, "convert", "-f", manifest, "--database", db); err != nil {
					t.Fatal(err)
				}
				got := optOutStates(t, db)
				if !got["jan@example.be"].GlobalOptOut || got["jan@example.be"].Segments["members"] != "unsubscribed" || got["zoe@example.be"].Segments["members"] != "subscribed" {
					t.Errorf("after a new members list: jan %+v, zoe %+v", got["jan@example.be"], got["zoe@example.be"])
				}
			}
		})
	}
}

// Scoped to its segment, a suppression list unsubscribes only that segment.
func TestASegmentSuppressionListAffectsOnlyItsSegment(t *testing.T) {
	tenant := optOutTenant(t, "{allRows: true}", false)
	db := "sqlite:" + filepath.Join(t.TempDir(), "contacts.db")
	if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", db); err != nil {
		t.Fatal(err)
	}
	want := map[string]optOutState{
		"jan@example.be":   {false, map[string]string{"members": "subscribed", "unsubscribed": "unsubscribed"}},
		"marie@example.be": {false, map[string]string{"members": "subscribed"}},
		"pete@example.be":  {false, map[string]string{"unsubscribed": "unsubscribed"}},
	}
	if diff := cmp.Diff(want, optOutStates(t, db)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Each imported opt-out is kept as consent evidence, marked as imported from
// its source, with the original time (the run's, when the list has none);
// running again adds no second copy.
func TestImportedOptOutsAreKeptAsEvidence(t *testing.T) {
	for name, newDB := range testDatabases {
		t.Run(name, func(t *testing.T) {
			tenant := optOutTenant(t, "{allRows: true, scope: Global}", false)
			db := newDB(t)
			for range 2 {
				if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", db); err != nil {
					t.Fatal(err)
				}
			}
			st, err := store.Open(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for key, want := range map[string][]store.ConsentEvent{
				"jan@example.be":   {{Topic: "*", Action: store.ActionUnsubscribeAll, At: "2024-03-02T10:15:00.000000000Z", Source: "import:unsubscribed", Detail: "No longer interested", Kind: "Unsubscribe"}},
				"pete@example.be":  {{Topic: "*", Action: store.ActionUnsubscribeAll, At: "2023-11-20T08:00:00.000000000Z", Source: "import:unsubscribed", Kind: "Unsubscribe"}},
				"marie@example.be": {},
			} {
				got, err := st.ConsentEvents(context.Background(), key)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", key, diff)
				}
			}
		})
	}
}

// An imported opt-out is never lost: with the suppression list gone from a
// later run, jan and pete stay opted out, and no list subscribes them.
func TestAnImportedOptOutOutlivesItsList(t *testing.T) {
	for name, newDB := range testDatabases {
		t.Run(name, func(t *testing.T) {
			tenant := optOutTenant(t, "{allRows: true, scope: Global}", false)
			db := newDB(t)
			manifest := filepath.Join(tenant, "conversion.yaml")
			if _, err := run(t, "convert", "-f", manifest, "--database", db); err != nil {
				t.Fatal(err)
			}
			// The next run reads only a new members list, pete in it too.
			m, _ := os.ReadFile(manifest)
			spec, _, _ := strings.Cut(string(m), "    - {name: unsubscribed")
			if err := os.WriteFile(manifest, []byte(strings.Replace(spec, "members.csv", "members-2025.csv", 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(tenant, "members-2025.csv"), []byte("Email Address\njan@example.be\nzoe@example.be\npete@example.be\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := run(t, "convert", "-f", manifest, "--database", db); err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{"jan@example.be": true, "zoe@example.be": false, "pete@example.be": true}
			got := map[string]bool{}
			for key, s := range optOutStates(t, db) {
				got[key] = s.GlobalOptOut
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("global opt-outs after the suppression list left the spec (-want +got):\n%s", diff)
			}
		})
	}
}

// Re-subscribing on the preference page after an imported opt-out is fresh
// consent and wins; a choice made before the opt-out's time does not.
func TestOnlyALaterChoiceWinsOverAnImportedOptOut(t *testing.T) {
	for name, newDB := range testDatabases {
		t.Run(name, func(t *testing.T) {
			tenant := optOutTenant(t, "{allRows: true, scope: Global}", false)
			db := newDB(t)
			ctx := context.Background()
			st, err := store.Open(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			// pete withdrew his objection before his imported opt-out (2023-11-20);
			// jan did after his (2024-03-02).
			for key, at := range map[string]time.Time{
				"pete@example.be": time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC),
				"jan@example.be":  time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
			} {
				if err := st.Apply(ctx, []store.Change{{Key: key, Action: store.ActionWithdrawObjection, Topic: "*", Source: store.SourcePreferenceCenter, At: at}}); err != nil {
					t.Fatal(err)
				}
			}
			st.Close()
			if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", db); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for key, s := range optOutStates(t, db) {
				got[key] = s.GlobalOptOut
			}
			if diff := cmp.Diff(map[string]bool{"jan@example.be": false, "marie@example.be": false, "pete@example.be": true}, got); diff != "" {
				t.Errorf("global opt-outs (-want +got):\n%s", diff)
			}
		})
	}
}

// exportsTenant is a members list and one suppression export from each
// platform a tenant leaves, as that platform writes it (testdata/exports).
func exportsTenant(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir("testdata/exports")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata/exports", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	members := "email,first name\njan@example.be,Jan\npieter@example.be,Pieter\nmarie@example.be,Marie\nluc@exemple.fr,Luc\n" +
		"élise@exemple.fr,Élise\nsofie@example.nl,Sofie\ntom@example.de,Tom\nanna@example.be,Anna\nkees@example.nl,Kees\nzoe@example.be,Zoë\n"
	manifest := `apiVersion: contacts.contactconverter.io/v1alpha1
kind: ContactConversion
metadata: {name: leaving}
spec:
  defaultLanguage: nl
  database: {sqlite: {persistentVolumeClaim: x}}
  sources:
    - {name: members, csv: {path: members.csv}}
    - name: mailchimp-unsubscribed
      csv: {path: mailchimp_unsubscribed_members_export_4c3e0f1a2b.csv}
      columns: {email: Email Address, optOutTime: UNSUB_TIME, optOutReason: UNSUB_REASON}
      optOuts: {allRows: true, scope: Global}
    - name: mailchimp-cleaned
      csv: {path: mailchimp_cleaned_members_export_4c3e0f1a2b.csv}
      columns: {email: Email Address, optOutTime: CLEAN_TIME}
      optOuts: {allRows: true, scope: Global, kind: Bounce}
    - name: brevo-blocklist
      csv: {path: brevo_blocklist_export.csv}
      columns: {email: EMAIL, optOutTime: DATE_BLACKLIST}
      optOuts: {allRows: true, scope: Global}
    - name: hubspot-unsubscribed
      csv: {path: hubspot-crm-exports-unsubscribed-contacts-2024-05-01.csv}
      columns: {email: Email, optOut: Unsubscribed from all email, optOutTime: Last Modified Date}
      optOuts: {scope: Global}
    - name: listmonk-blocklisted
      csv: {path: listmonk_subscribers.csv}
      columns: {email: email, optOutTime: updated_at}
      optOuts: {allRows: true, scope: Global, kind: Complaint}
    - name: do-not-email
      csv: {path: do-not-email.txt}
      optOuts: {allRows: true, scope: Global}
`
	for name, data := range map[string]string{"members.csv": members, "conversion.yaml": manifest} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Every platform's suppression export, read as it comes: everyone in one is
// opted out of everything, with the original time, reason and kind as
// evidence; the hard bounce leaves the address undeliverable.
func TestEveryPlatformsSuppressionExport(t *testing.T) {
	for name, newDB := range testDatabases {
		t.Run(name, func(t *testing.T) {
			tenant := exportsTenant(t)
			db := newDB(t)
			report := filepath.Join(t.TempDir(), "report.json")
			before := time.Now()
			if _, err := run(t, "convert", "-f", filepath.Join(tenant, "conversion.yaml"), "--database", db, "--report", report); err != nil {
				t.Fatal(err)
			}
			after := time.Now()

			type state struct {
				GlobalOptOut, Undeliverable bool
				Subscribed                  []string
			}
			got := map[string]state{}
			for key, e := range exported(t, db) {
				s := state{GlobalOptOut: e.GlobalOptOut, Undeliverable: e.Undeliverable}
				for seg, status := range e.Segments {
					if status == "subscribed" {
						s.Subscribed = append(s.Subscribed, seg)
					}
				}
				got[key] = s
			}
			optedOut := state{GlobalOptOut: true}
			want := map[string]state{
				"jan@example.be": optedOut, "pieter@example.be": optedOut, "marie@example.be": {GlobalOptOut: true, Undeliverable: true},
				"luc@exemple.fr": optedOut, "élise@exemple.fr": optedOut, "sofie@example.nl": optedOut, "tom@example.de": optedOut,
				"anna@example.be": optedOut, "kees@example.nl": optedOut, "zoe@example.be": {Subscribed: []string{"members"}},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("contacts (-want +got):\n%s", diff)
			}

			st, err := store.Open(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			imported := func(source, at, reason, kind string) []store.ConsentEvent {
				return []store.ConsentEvent{{Topic: "*", Action: store.ActionUnsubscribeAll, At: at, Source: "import:" + source, Detail: reason, Kind: kind}}
			}
			const runTime = "(the run's time)"
			wantEvents := map[string][]store.ConsentEvent{
				"jan@example.be":    imported("mailchimp-unsubscribed", "2024-03-02T10:15:00.000000000Z", "No longer interested", "Unsubscribe"),
				"pieter@example.be": imported("mailchimp-unsubscribed", "2023-11-20T08:00:00.000000000Z", "Other", "Unsubscribe"),
				"marie@example.be":  imported("mailchimp-cleaned", "2022-06-01T03:12:09.000000000Z", "", "Bounce"),
				"luc@exemple.fr":    imported("brevo-blocklist", "2024-01-15T09:12:00.000000000Z", "", "Unsubscribe"),
				"élise@exemple.fr":  imported("brevo-blocklist", "2023-07-03T18:40:00.000000000Z", "", "Unsubscribe"),
				"sofie@example.nl":  imported("hubspot-unsubscribed", "2024-02-11T16:04:00.000000000Z", "", "Unsubscribe"),
				"tom@example.de":    imported("listmonk-blocklisted", "2024-01-15T08:12:44.654321000Z", "", "Complaint"),
				"anna@example.be":   imported("do-not-email", runTime, "", "Unsubscribe"),
				"kees@example.nl":   imported("do-not-email", runTime, "", "Unsubscribe"),
				"zoe@example.be":    {},
			}
			for key, want := range wantEvents {
				events, err := st.ConsentEvents(context.Background(), key)
				if err != nil {
					t.Fatal(err)
				}
				for i, e := range events {
					if at, err := time.Parse(time.RFC3339Nano, e.At); err == nil && !at.Before(before.Truncate(time.Second)) && !at.After(after) {
						events[i].At = runTime
					}
				}
				if diff := cmp.Diff(want, events); diff != "" {
					t.Errorf("evidence of %s (-want +got):\n%s", key, diff)
				}
			}

			out, err := run(t, "export", "--database", db, "--format", "csv")
			if err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			col := slices.Index(rows[0], "undeliverable")
			undeliverable := map[string]string{}
			for _, r := range rows[1:] {
				if col >= 0 && r[col] == "true" {
					undeliverable[r[0]] = r[col]
				}
			}
			if diff := cmp.Diff(map[string]string{"marie@example.be": "true"}, undeliverable); diff != "" {
				t.Errorf("undeliverable in the CSV export (-want +got):\n%s", diff)
			}

			var rep engine.Report
			data, _ := os.ReadFile(report)
			if err := json.Unmarshal(data, &rep); err != nil {
				t.Fatal(err)
			}
			counts := map[string]string{}
			for _, s := range rep.Sources {
				counts[s.Name] = fmt.Sprintf("%d %s %s, %d rejected", s.OptOutsImported, s.OptOutScope, s.OptOutKind, s.RowsRejected)
			}
			wantCounts := map[string]string{
				"members": "0  , 0 rejected", "mailchimp-unsubscribed": "2 Global Unsubscribe, 0 rejected",
				"mailchimp-cleaned": "1 Global Bounce, 0 rejected", "brevo-blocklist": "2 Global Unsubscribe, 0 rejected",
				"hubspot-unsubscribed": "1 Global Unsubscribe, 0 rejected", "listmonk-blocklisted": "1 Global Complaint, 0 rejected",
				"do-not-email": "2 Global Unsubscribe, 0 rejected",
			}
			if diff := cmp.Diff(wantCounts, counts); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}
