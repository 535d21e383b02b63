package prefcenter

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/contactconverter/contact-converter/internal/linktoken"
	"github.com/contactconverter/contact-converter/internal/store"
)

func (f *fixture) api(method, path, contentType, body string) response {
	f.t.Helper()
	header := map[string]string{"Authorization": "Bearer api-token-0123456789"}
	if contentType != "" {
		header["Content-Type"] = contentType
	}
	return f.send(method, path, strings.NewReader(body), header)
}

func TestAPIRequiresTheToken(t *testing.T) {
	f := newFixture(t, sqliteStore(t), nil)
	for _, auth := range []string{"", "Bearer wrong", "api-token-0123456789"} {
		req, _ := http.NewRequest(http.MethodGet, f.http.URL+"/api/v1/contacts/"+greta, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d, want 401", auth, res.StatusCode)
		}
	}
}

// The links the API mints open the pages and unsubscribe in one click.
func TestAPIMintsWorkingLinks(t *testing.T) {
	f := newFixture(t, sqliteStore(t), nil)
	r := f.api(http.MethodPost, "/api/v1/links", "application/json", `{"key": " Greta@Example.DE "}`)
	var l Links
	if err := json.Unmarshal([]byte(r.body), &l); err != nil || r.status != http.StatusOK {
		t.Fatalf("links: %d %s", r.status, r.body)
	}
	if l.Key != greta || l.ListUnsubscribePost != "List-Unsubscribe=One-Click" || strings.Contains(l.PreferencesURL, "greta") {
		t.Errorf("links = %+v", l)
	}
	if page := f.get(strings.TrimPrefix(l.PreferencesURL, f.http.URL)); page.status != http.StatusOK {
		t.Errorf("minted preferences URL: %d", page.status)
	}
	unsub := strings.Trim(l.ListUnsubscribe, "<>")
	res, err := http.PostForm(unsub, url.Values{"List-Unsubscribe": {"One-Click"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !f.contact(greta).GlobalOptOut {
		t.Errorf("minted List-Unsubscribe URL: %d", res.StatusCode)
	}

	// In bulk, as CSV: a bad key is reported on its row, not fatal.
	r = f.api(http.MethodPost, "/api/v1/links", "text/csv", "Key\ngreta@example.de\nnot-an-email\ninfo@café.be\n")
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("CSV links: %v %v", rows, err)
	}
	if rows[1][0] != greta || rows[2][4] == "" || rows[3][0] != "info@xn--caf-dma.be" || !strings.HasPrefix(rows[3][1], f.http.URL+"/p/") {
		t.Errorf("CSV links = %v", rows)
	}
	if r := f.api(http.MethodPost, "/api/v1/links", "text/plain", "x"); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body: %d", r.status)
	}
}

func TestAPIExportAndErase(t *testing.T) {
	f := newFixture(t, sqliteStore(t), nil)
	r := f.api(http.MethodGet, "/api/v1/contacts/"+url.PathEscape("GRETA@example.de"), "", "")
	var doc portable
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil || doc.Exported == nil || doc.Email != greta {
		t.Fatalf("export: %d %s", r.status, r.body)
	}
	if r := f.api(http.MethodGet, "/api/v1/contacts/nobody@example.be", "", ""); r.status != http.StatusNotFound {
		t.Errorf("unknown contact: %d", r.status)
	}
	if r := f.api(http.MethodDelete, "/api/v1/contacts/"+greta, "", ""); r.status != http.StatusOK {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	if page := f.get(f.link(greta, linktoken.PurposePreferences)); page.status != http.StatusNotFound {
		t.Errorf("page after erasure: %d", page.status)
	}
	// A key never imported is suppressed too, so no list brings it in.
	if r := f.api(http.MethodDelete, "/api/v1/contacts/future@example.be", "", ""); r.status != http.StatusOK {
		t.Fatalf("erase of an unknown key: %d", r.status)
	}
	sup, _ := f.store.Suppressions(t.Context())
	if !sup.Contains(greta) || !sup.Contains("future@example.be") {
		t.Error("erasures are not suppressed")
	}
	events, _ := f.store.ConsentEvents(t.Context(), sup.Hash(greta))
	if len(events) != 1 || events[0].Source != store.SourceAPI {
		t.Errorf("erasure evidence = %+v", events)
	}
}

// Bulk links: every key gets its links, a bad key is reported in its place,
// and a request over the limit is refused with 413 before anything is
// minted. (make bench measures the service's memory on a million keys.)
func TestBulkLinks(t *testing.T) {
	f := newFixture(t, sqliteStore(t), nil)
	keys := func(n int, quote string, sep string) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(sep)
			}
			fmt.Fprintf(&b, "%sreader-%d@example.org%s", quote, i, quote)
		}
		return b.String()
	}
	for _, tc := range []struct{ contentType, body string }{
		{"application/json", `{"keys": [` + keys(5000, `"`, ",") + `, "not-an-email"]}`},
		{"text/csv", "key\n" + keys(5000, "", "\n") + "\nnot-an-email\n"},
	} {
		t.Run(tc.contentType, func(t *testing.T) {
			r := f.api(http.MethodPost, "/api/v1/links", tc.contentType, tc.body)
			if r.status != http.StatusOK || strings.Count(r.body, "/p/") != 5000 || !strings.Contains(r.body, "not-an-email") {
				t.Errorf("%d, %d links; want 200, 5000 links and the bad key reported", r.status, strings.Count(r.body, "/p/"))
			}
			if tc.contentType == "application/json" {
				var got []Links
				if err := json.Unmarshal([]byte(r.body), &got); err != nil || len(got) != 5001 || got[5000].Error == "" || got[0].Error != "" {
					t.Errorf("JSON answer: %d elements, err %v", len(got), err)
				}
			}
		})
	}
	over := f.api(http.MethodPost, "/api/v1/links", "text/csv", "key\n"+strings.Repeat("a\n", maxBulkKeys+1))
	if over.status != http.StatusRequestEntityTooLarge || !strings.Contains(over.body, "at most 1000000 keys") {
		t.Errorf("%d keys: %d %s; want 413 saying the limit", maxBulkKeys+1, over.status, over.body)
	}
}
