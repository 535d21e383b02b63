package csvsafe

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCellsASpreadsheetWouldRunAreEscaped(t *testing.T) {
	var b strings.Builder
	w := NewWriter(&b)
	if err := w.Write([]string{"=HYPERLINK(\"http://evil\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "jan@example.be", "Jan", ""}); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	want := "\"'=HYPERLINK(\"\"http://evil\"\")\",'+1,'-2+3,'@SUM(A1),'\tx,\"'\rx\",jan@example.be,Jan,\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
