package prefcenter

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/contactconverter/contact-converter/internal/linktoken"
	"github.com/contactconverter/contact-converter/internal/store"
)

// The series count what happened, by result and reason, with routes and
// configured topics as the only labels from a request.
func TestMetricsCountWhatHappened(t *testing.T) {
	f := newFixture(t, sqliteStore(t), nil)
	m := f.server.metrics
	oneClick := func(link string) int {
		res, err := http.Post(f.http.URL+link, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := oneClick(f.link(greta, linktoken.PurposeUnsubscribe)); code != http.StatusOK {
		t.Fatalf("one-click: %d", code)
	}
	if code := oneClick("/u/made-up"); code != http.StatusForbidden {
		t.Fatalf("one-click with a made-up link: %d", code)
	}
	expired := f.link(greta, linktoken.PurposePreferences)
	f.now = f.now.Add(2 * time.Hour)
	if r := f.get(expired); r.status != http.StatusForbidden {
		t.Fatalf("expired link: %d", r.status)
	}
	if r := f.do(http.MethodGet, "/api/v1/contacts/x", nil, map[string]string{"Authorization": "Bearer wrong"}); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong API token: %d", r.status)
	}
	for _, tc := range []struct {
		name string
		got  float64
		want float64
	}{
		{"one-click unsubscribed", testutil.ToFloat64(m.oneClick.WithLabelValues(oneClickUnsubscribed)), 1},
		{"one-click refused", testutil.ToFloat64(m.oneClick.WithLabelValues(oneClickRefused)), 1},
		{"one-click failed", testutil.ToFloat64(m.oneClick.WithLabelValues(oneClickFailed)), 0},
		{"refused bad token", testutil.ToFloat64(m.refused.WithLabelValues(refusedBadToken)), 1},
		{"refused expired", testutil.ToFloat64(m.refused.WithLabelValues(refusedExpired)), 1},
		{"refused bad API token", testutil.ToFloat64(m.refused.WithLabelValues(refusedBadAPIToken)), 1},
		{"unsubscribe-all applied", testutil.ToFloat64(m.changes.WithLabelValues(store.ActionUnsubscribeAll, "*", outcomeApplied)), 1},
		{"one-click requests answered 200", testutil.ToFloat64(m.requests.WithLabelValues("one-click", "post", "200")), 1},
		{"database errors", testutil.ToFloat64(m.dbErrors), 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if n := testutil.CollectAndCount(m.duration); n < 3 {
		t.Errorf("%d latency series, want one per route, method and code seen (3 or more)", n)
	}
	if got := f.server.topicLabel("made-up-topic"); got != "other" {
		t.Errorf("an unknown topic is labelled %q", got)
	}
}
