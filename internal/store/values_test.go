package store_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/merge"
	"github.com/contactconverter/contact-converter/internal/store"
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
