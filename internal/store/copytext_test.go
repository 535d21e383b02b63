package store

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func TestAppendCopyRow(t *testing.T) {
	for _, tc := range []struct {
		name string
		row  []any
		want string
		err  string
	}{
		{name: "values", row: []any{7, int64(-8), true, false, "plain", ""}, want: "7\t-8\tt\tf\tplain\t\n"},
		{name: "escapes", row: []any{"a\tb\nc\rd\\e", `\N`}, want: `a\tb\nc\rd\\e` + "\t" + `\\N` + "\n"},
		{name: "unicode as is", row: []any{"Zoë 日本 👍"}, want: "Zoë 日本 👍\n"},
		{name: "no text form", row: []any{"a", 1.5}, err: "column 2: a float64 has no COPY text form"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := appendCopyRow(nil, tc.row)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}

// Rows longer than a read carry over to the next, whole and in order.
func TestCopyRowsAcrossReads(t *testing.T) {
	words := []string{"one", "two\tthree", strings.Repeat("long ", 40), "", "last"}
	r := &copyRows{n: len(words), values: func(i int, dst []any) []any { return append(dst, i, words[i]) }}
	got, err := io.ReadAll(iotest.OneByteReader(r))
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i, w := range words {
		row, _ := appendCopyRow(nil, []any{i, w})
		want.Write(row)
	}
	if diff := cmp.Diff(want.String(), string(got)); diff != "" {
		t.Errorf("stream (-want +got):\n%s", diff)
	}
}
