package store_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/merge"
	"github.com/contactconverter/contact-converter/internal/store"
	"github.com/contactconverter/contact-converter/internal/store/storetest"
)

// Every value comes back as it was written, whatever characters a list put
// in it: tabs, line breaks, backslashes, what looks like an escape or a
// NULL, quotes and any script.
func TestWrittenValuesComeBackExactly(t *testing.T) {
	hostile := []string{"tab\there", "line\nbreak", "cr\rlf\r\n", `back\slash\`, `\N`, `\t`, `"quoted"`, "'single'",
		"Zoë Noël", "日本語", "emoji 👍", "{\"json\": [1]}", " spaced ", ""}
	want := store.Exported{
		Key: "zoe@example.be", Email: "Zoë@Example.be", FirstName: hostile[0], LastName: hostile[1], Language: "nl",
		Fields:    map[string]string{},
		Sources:   hostile,
		Segments:  map[string]string{hostile[2]: merge.Subscribed, hostile[3]: merge.Subscribed},
		Conflicts: []merge.Conflict{{Field: "company", Values: hostile[4:]}},
	}
	for i, v := range hostile {
		want.Fields[string(rune('a'+i))] = v
	}
	var optOuts []merge.ImportedOptOut
	var wantEvents []store.ConsentEvent
	for i, v := range hostile[:6] {
		at := "2025-01-0" + string(rune('1'+i)) + "T00:00:00Z"
		optOuts = append(optOuts, merge.ImportedOptOut{Source: "list " + v, Topic: "news", At: at, Reason: v, Kind: ccv1.OptOutKindUnsubscribe})
		wantEvents = append(wantEvents, store.ConsentEvent{Topic: "news", Action: store.ActionUnsubscribe, At: at,
			Source: store.SourceImport + ":list " + v, Detail: v, Kind: string(ccv1.OptOutKindUnsubscribe)})
	}
	for name, st := range openBoth(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := merge.Contact{Key: want.Key, Email: want.Email, FirstName: want.FirstName, LastName: want.LastName, Language: want.Language,
				Fields: want.Fields, Sources: want.Sources, Segments: map[string]string{hostile[2]: merge.Subscribed, hostile[3]: merge.Subscribed},
				Conflicts: want.Conflicts, OptOuts: optOuts}
			if err := st.WritePartition(ctx, &store.PartitionWrite{RunKey: "run", Part: 0, Partitions: 1, Contacts: []merge.Contact{c}}); err != nil {
				t.Fatal(err)
			}
			got, err := st.Contact(ctx, want.Key)
			if err != nil {
				t.Fatal(err)
			}
			w := want
			w.Segments = map[string]string{hostile[2]: merge.Subscribed, hostile[3]: merge.Subscribed, "news": merge.Unsubscribed}
			if diff := cmp.Diff(&w, got); diff != "" {
				t.Errorf("contact (-want +got):\n%s", diff)
			}
			events, err := st.ConsentEvents(ctx, want.Key)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantEvents, events); diff != "" {
				t.Errorf("consent events (-want +got):\n%s", diff)
			}
		})
	}
}

// Each imported opt-out is recorded once, however often the lists and the
// runs repeat it: identical rows of one run make one record, and a second
// run records only the opt-out it adds. A choice of the contact's at the
// very time of an opt-out yields to it; a later one wins.
func TestImportedOptOutsAreRecordedOnce(t *testing.T) {
	at := func(day int) string { return store.Timestamp(time.Date(2025, 1, day, 0, 0, 0, 0, time.UTC)) }
	optOut := func(source, topic string, day int) merge.ImportedOptOut {
		return merge.ImportedOptOut{Source: source, Topic: topic, At: at(day), Kind: ccv1.OptOutKindUnsubscribe}
	}
	contact := func(key string, optOuts ...merge.ImportedOptOut) merge.Contact {
		return merge.Contact{Key: key, Email: key, Fields: map[string]string{}, Sources: []string{"a"},
			Segments: map[string]string{"news": merge.Subscribed, "fairs": merge.Subscribed}, OptOuts: optOuts}
	}
	for name, st := range openBoth(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			// an chose to receive news on day 5 and fairs on day 9.
			for _, choice := range []struct {
				topic string
				day   int
			}{{"news", 5}, {"fairs", 9}} {
				topic, day := choice.topic, choice.day
				if err := st.Apply(ctx, []store.Change{{Key: "an@example.be", Action: store.ActionSubscribe, Segment: topic, Topic: topic,
					Source: store.SourcePreferenceCenter, At: time.Date(2025, 1, day, 0, 0, 0, 0, time.UTC)}}); err != nil {
					t.Fatal(err)
				}
			}
			runs := [][]merge.Contact{
				{contact("an@example.be", optOut("old", "news", 5), optOut("old", "news", 5), optOut("old", "fairs", 3)), contact("bo@example.be", optOut("old", "*", 2))},
				{contact("an@example.be", optOut("old", "news", 5), optOut("old", "fairs", 3), optOut("new", "fairs", 10)), contact("bo@example.be", optOut("old", "*", 2))},
			}
			for i, contacts := range runs {
				if err := st.WritePartition(ctx, &store.PartitionWrite{RunKey: fmt.Sprint("run", i), Part: 0, Partitions: 1, Contacts: contacts}); err != nil {
					t.Fatal(err)
				}
			}
			imported := func(source, topic string, day int) store.ConsentEvent {
				action := store.ActionUnsubscribe
				if topic == "*" {
					action = store.ActionUnsubscribeAll
				}
				return store.ConsentEvent{Topic: topic, Action: action, At: at(day), Source: store.SourceImport + ":" + source, Kind: string(ccv1.OptOutKindUnsubscribe)}
			}
			chose := func(topic string, day int) store.ConsentEvent {
				return store.ConsentEvent{Topic: topic, Action: store.ActionSubscribe, At: at(day), Source: store.SourcePreferenceCenter}
			}
			want := map[string][]store.ConsentEvent{
				"an@example.be": {chose("news", 5), chose("fairs", 9), imported("old", "news", 5), imported("old", "fairs", 3), imported("new", "fairs", 10)},
				"bo@example.be": {imported("old", "*", 2)},
			}
			wantState := map[string]string{"an@example.be": "news unsubscribed, fairs unsubscribed, global false", "bo@example.be": "news subscribed, fairs subscribed, global true"}
			for key := range want {
				events, err := st.ConsentEvents(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want[key], events); diff != "" {
					t.Errorf("%s's events (-want +got):\n%s", key, diff)
				}
				c, err := st.Contact(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				if got := fmt.Sprintf("news %s, fairs %s, global %t", c.Segments["news"], c.Segments["fairs"], c.GlobalOptOut); got != wantState[key] {
					t.Errorf("%s: %s, want %s", key, got, wantState[key])
				}
			}
		})
	}
}

// Rejected rows stream in, more than one chunk of them, and replace the
// earlier run's.
func TestRejectedRowsAreReplaced(t *testing.T) {
	ctx := context.Background()
	for name, db := range openBothDBs(t) {
		t.Run(name, func(t *testing.T) {
			write := func(n int, reason string) {
				t.Helper()
				i := 0
				if err := db.ReplaceRejected(ctx, func() (store.Rejected, error) {
					if i++; i > n {
						return store.Rejected{}, io.EOF
					}
					return store.Rejected{Source: "list", Line: i, Reason: reason, Detail: fmt.Sprint("column ", i%7)}, nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			write(5000, "earlier")
			write(10001, "invalid-email")
			sqlDB, rebind := storetest.Open(t, db.URL)
			var n, lines int
			var reasons string
			if err := sqlDB.QueryRow(rebind(`SELECT count(*), sum(line), min(reason) || max(reason) FROM rejected_rows`)).Scan(&n, &lines, &reasons); err != nil {
				t.Fatal(err)
			}
			if n != 10001 || lines != 10001*10002/2 || reasons != "invalid-emailinvalid-email" {
				t.Errorf("rejected_rows holds %d rows, lines summing to %d, reasons %q; want 10001 rows of the second run", n, lines, reasons)
			}
		})
	}
}
