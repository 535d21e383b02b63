package store

import (
	"encoding/json"
	"testing"

	"github.com/contactconverter/contact-converter/internal/merge"
)

// The hand-written JSON must read back exactly as encoding/json reads it.
func TestAppendJSON(t *testing.T) {
	strs := []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r", "\x01ctl", "élise 😀", "bad \xff byte", "<html>&"}
	m := map[string]string{}
	for i, s := range strs {
		m[s+string(rune('a'+i))] = s
	}
	var gotList []string
	if err := json.Unmarshal(appendJSONList(nil, strs), &gotList); err != nil {
		t.Fatal(err)
	}
	for i := range strs {
		want := strs[i]
		if want == "bad \xff byte" {
			want = "bad \ufffd byte"
		}
		if gotList[i] != want {
			t.Errorf("list[%d] = %q, want %q", i, gotList[i], want)
		}
	}
	var gotMap map[string]string
	if err := json.Unmarshal(appendJSONMap(nil, m), &gotMap); err != nil || len(gotMap) != len(m) {
		t.Fatalf("map: %v (%d keys)", err, len(gotMap))
	}
	std, _ := json.Marshal(map[string]string{"b": "2", "a": "1"})
	if string(appendJSONMap(nil, map[string]string{"b": "2", "a": "1"})) != string(std) {
		t.Errorf("map key order differs from encoding/json: %s", appendJSONMap(nil, map[string]string{"b": "2", "a": "1"}))
	}
	cs := []merge.Conflict{{Field: "firstName", Values: []string{"Jan", "Johan"}}, {Field: "x", Values: []string{"\"q\""}, Resolved: true}}
	var back []merge.Conflict
	if err := json.Unmarshal(appendConflicts(nil, cs), &back); err != nil || len(back) != 2 || back[1].Values[0] != `"q"` || !back[1].Resolved {
		t.Errorf("conflicts round trip: %v %+v", err, back)
	}
}
