package prefcenter

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/linktoken"
	"github.com/contactconverter/contact-converter/internal/merge"
	"github.com/contactconverter/contact-converter/internal/prefconfig"
	"github.com/contactconverter/contact-converter/internal/store"
)

func checked(body, topic string) bool {
	return strings.Contains(body, `value="`+topic+`" checked`)
}

// The whole journey of a contact, against both databases.
func TestPreferencePages(t *testing.T) {
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open(t), nil)
			prefs := f.link(greta, linktoken.PurposePreferences)

			page := f.get(prefs)
			if page.status != http.StatusOK {
				t.Fatalf("GET preferences: %d\n%s", page.status, page.body)
			}
			if !checked(page.body, "fairs") || !checked(page.body, "newsletter") || checked(page.body, "shop") {
				t.Errorf("ticks: fairs %v newsletter %v shop %v; want the two consented topics only",
					checked(page.body, "fairs"), checked(page.body, "newsletter"), checked(page.body, "shop"))
			}
			if !strings.Contains(page.body, "ACME &lt;Belgium&gt;") || strings.Contains(page.body, "ACME <Belgium>") {
				t.Error("the organization name is not HTML-escaped")
			}
			if !strings.Contains(page.body, `<html lang="nl">`) {
				t.Error("the page is not in the contact's language (nl)")
			}
			if got := f.get(prefs + "?lang=de").body; !strings.Contains(got, "Ihre E-Mail-Einstellungen") || !strings.Contains(got, "Rundbrief") {
				t.Error("?lang=de does not show the German page")
			}

			// Saving without a CSRF token changes nothing.
			if r := f.do(http.MethodPost, prefs, url.Values{"topic": {"fairs"}}, nil); r.status != http.StatusForbidden {
				t.Errorf("POST without CSRF: %d, want 403", r.status)
			}
			if f.contact(greta).Segments["newsletter-2017"] != merge.Subscribed {
				t.Fatal("a POST without CSRF changed the contact")
			}

			// Untick the newsletter.
			r := f.do(http.MethodPost, prefs, url.Values{"csrf": {f.csrf(prefs)}, "topic": {"fairs"}}, map[string]string{"X-Forwarded-For": "198.51.100.7"})
			if r.status != http.StatusOK || !strings.Contains(r.body, "Uw keuzes zijn bewaard") {
				t.Fatalf("save: %d\n%s", r.status, r.body)
			}
			c := f.contact(greta)
			if c.Segments["newsletter-2017"] != merge.Unsubscribed || c.Segments["salon-x-2018"] != merge.Subscribed {
				t.Errorf("segments after save = %v", c.Segments)
			}
			if _, ok := c.Segments["customers"]; ok {
				t.Error("an untouched, never-consented topic was written")
			}
			ev := f.events(greta)
			if len(ev) != 1 || ev[0].Action != store.ActionUnsubscribe || ev[0].Topic != "newsletter" ||
				ev[0].Source != store.SourcePreferenceCenter || !strings.HasPrefix(ev[0].TextHash, "sha256:") || ev[0].IP != "127.0.0.1" {
				t.Errorf("evidence = %+v; want one unsubscribe from 127.0.0.1 (X-Forwarded-For from an untrusted peer is ignored)", ev)
			}

			// Rectify.
			rect := prefs + "/rectify"
			r = f.do(http.MethodPost, rect, url.Values{"csrf": {f.csrf(rect)}, "firstName": {"  Grete "}, "lastName": {"Schmidt"}, "language": {"de"}}, nil)
			if r.status != http.StatusOK {
				t.Fatalf("rectify: %d\n%s", r.status, r.body)
			}
			if c := f.contact(greta); c.FirstName != "Grete" || c.Language != "de" {
				t.Errorf("after rectify: %q %q", c.FirstName, c.Language)
			}
			if r := f.do(http.MethodPost, rect, url.Values{"csrf": {f.csrf(rect)}, "firstName": {"x\x00y"}, "language": {"de"}}, nil); r.status != http.StatusBadRequest {
				t.Errorf("a name with a control character: %d, want 400", r.status)
			}

			// My data, as a page and as downloads.
			data := f.get(prefs + "/data")
			if data.status != http.StatusOK || !strings.Contains(data.body, "Salon X 2018") || !strings.Contains(data.body, "Newsletter 2017") {
				t.Errorf("data page: %d, sources missing", data.status)
			}
			dl := f.get(prefs + "/data.json")
			var doc struct {
				store.Exported
				ConsentHistory []store.ConsentEvent `json:"consentHistory"`
			}
			if err := json.Unmarshal([]byte(dl.body), &doc); err != nil {
				t.Fatalf("data.json: %v\n%s", err, dl.body)
			}
			if doc.Email != greta || doc.FirstName != "Grete" || len(doc.Sources) != 2 || len(doc.ConsentHistory) != 2 ||
				!strings.HasPrefix(dl.header.Get("Content-Disposition"), "attachment") {
				t.Errorf("data.json = %+v", doc)
			}
			rows, err := csv.NewReader(strings.NewReader(f.get(prefs + "/data.csv").body)).ReadAll()
			if err != nil || len(rows) < 8 || rows[0][0] != "field" || rows[2][1] != greta {
				t.Errorf("data.csv = %v, %v", rows, err)
			}

			// Unsubscribe from everything.
			unsub := prefs + "/unsubscribe"
			if r := f.do(http.MethodPost, unsub, url.Values{"csrf": {f.csrf(unsub)}}, nil); r.status != http.StatusOK {
				t.Fatalf("unsubscribe all: %d", r.status)
			}
			if !f.contact(greta).GlobalOptOut {
				t.Error("unsubscribe-all did not set the global opt-out")
			}
			if page := f.get(prefs); checked(page.body, "fairs") {
				t.Error("a topic shows ticked after unsubscribing from everything")
			}

			// Erase, after confirmation.
			erase := prefs + "/erase"
			if r := f.get(erase); !strings.Contains(r.body, `class="danger"`) {
				t.Error("the erasure page has no confirmation button")
			}
			if r := f.do(http.MethodPost, erase, url.Values{"csrf": {f.csrf(erase)}}, nil); r.status != http.StatusOK || !strings.Contains(r.body, "Ihre Daten sind gelöscht") {
				t.Fatalf("erase: %d\n%s", r.status, r.body)
			}
			if _, err := f.store.Contact(context.Background(), greta); err == nil {
				t.Error("the contact is still there")
			}
			sup, _ := f.store.Suppressions(context.Background())
			if !sup.Contains(greta) {
				t.Error("the erased key is not suppressed")
			}
			if r := f.get(prefs); r.status != http.StatusNotFound || strings.Contains(r.body, greta) {
				t.Errorf("the link after erasure: %d", r.status)
			}
		})
	}
}

// Bad links all get the same page, and never data.
func TestBadLinks(t *testing.T) {
	f := newFixture(t, sqliteStore(t), nil)
	good := f.link(greta, linktoken.PurposePreferences)
	expired, _ := f.signer.Mint(greta, linktoken.PurposePreferences, f.now.Add(-time.Minute))
	other, _ := linktoken.NewSigner(map[string][]byte{"k1": []byte(strings.Repeat("x", 32))})
	foreign, _ := other.Mint(greta, linktoken.PurposePreferences, f.now.Add(time.Hour))
	var first string
	for name, path := range map[string]string{
		"tampered":      good[:len(good)-3] + "AAA",
		"expired":       "/p/" + expired,
		"other key":     "/p/" + foreign,
		"wrong purpose": strings.Replace(f.link(greta, linktoken.PurposeUnsubscribe), "/u/", "/p/", 1),
		"garbage":       "/p/not-a-token",
	} {
		r := f.get(path)
		if r.status != http.StatusForbidden || strings.Contains(r.body, "greta") || !strings.Contains(r.body, "Dieser Link") && !strings.Contains(r.body, "This link does not work") {
			t.Errorf("%s: %d\n%s", name, r.status, r.body)
		}
		main := r.body[strings.Index(r.body, "<main"):]
		if first == "" {
			first = main
		} else if main != first {
			t.Errorf("%s: a different page than other bad links", name)
		}
	}
}

// RFC 8058: a POST with List-Unsubscribe=One-Click unsubscribes without a
// page; a GET (a mail client's prefetch) changes nothing.
func TestOneClickUnsubscribe(t *testing.T) {
	f := newFixture(t, sqliteStore(t), nil)
	link := f.link(greta, linktoken.PurposeUnsubscribe)
	if r := f.get(link); r.status != http.StatusOK || f.contact(greta).GlobalOptOut {
		t.Fatalf("GET: %d, opted out %v", r.status, f.contact(greta).GlobalOptOut)
	}
	res, err := http.Post(f.http.URL+link, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !f.contact(greta).GlobalOptOut {
		t.Fatalf("one-click POST: %d, opted out %v", res.StatusCode, f.contact(greta).GlobalOptOut)
	}
	if ev := f.events(greta); len(ev) != 1 || ev[0].Source != store.SourceOneClick || ev[0].Action != store.ActionUnsubscribeAll {
		t.Errorf("evidence = %+v", ev)
	}
	// An unsubscribe link opens no preference page.
	if r := f.get(strings.Replace(link, "/u/", "/p/", 1)); r.status != http.StatusForbidden {
		t.Errorf("an unsubscribe link opened the preferences: %d", r.status)
	}
}

// Back after unsubscribing from everything, a contact sees nothing ticked;
// saving with one topic ticked subscribes that one only, also after the
// next run merges the lists again.
func TestResubscribingAfterAGlobalOptOutTicksOnlyWhatWasTicked(t *testing.T) {
	f := newFixture(t, sqliteStore(t), nil)
	prefs := f.link(greta, linktoken.PurposePreferences)
	unsub := prefs + "/unsubscribe"
	if r := f.do(http.MethodPost, unsub, url.Values{"csrf": {f.csrf(unsub)}}, nil); r.status != http.StatusOK {
		t.Fatalf("unsubscribe all: %d", r.status)
	}
	if page := f.get(prefs); checked(page.body, "fairs") || checked(page.body, "newsletter") {
		t.Fatal("a topic shows ticked after unsubscribing from everything")
	}
	f.now = f.now.Add(time.Minute)
	if r := f.do(http.MethodPost, prefs, url.Values{"csrf": {f.csrf(prefs)}, "topic": {"fairs"}}, nil); r.status != http.StatusOK {
		t.Fatalf("save: %d", r.status)
	}
	want := map[string]bool{"fairs": true, "newsletter": false, "shop": false}
	for _, when := range []string{"after saving", "after the next run"} {
		page := f.get(prefs)
		got := map[string]bool{}
		for topic := range want {
			got[topic] = checked(page.body, topic)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ticked %s (-want +got):\n%s", when, diff)
		}
		seed(t, f.store)
	}
}

// An address an old platform cleaned after a hard bounce: its page ticks
// nothing, and its data says so, in the page, the history and the downloads.
func TestAHardBouncedAddressShowsAsUndeliverable(t *testing.T) {
	f := newFixture(t, sqliteStore(t), nil)
	cleaned := filepath.Join(t.TempDir(), "cleaned_members_export.csv")
	if err := os.WriteFile(cleaned, []byte("Email Address,CLEAN_TIME\ngreta@example.de,2022-06-01 03:12:09\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	seed(t, f.store, ccv1.Source{Name: "mailchimp-cleaned", CSV: &ccv1.CSVSource{Path: cleaned},
		Columns: map[string]string{"email": "Email Address", "optOutTime": "CLEAN_TIME"},
		OptOuts: &ccv1.OptOuts{AllRows: true, Scope: ccv1.OptOutScopeGlobal, Kind: ccv1.OptOutKindBounce}})
	prefs := f.link(greta, linktoken.PurposePreferences)
	if page := f.get(prefs); checked(page.body, "fairs") || checked(page.body, "newsletter") {
		t.Error("a topic shows ticked for a cleaned address")
	}
	data := f.get(prefs + "/data?lang=en").body
	for _, want := range []string{"Mail to this address cannot be delivered", "2022-06-01T03:12:09", "Bounce", "import:mailchimp-cleaned"} {
		if !strings.Contains(data, want) {
			t.Errorf("the data page does not show %q", want)
		}
	}
	var doc struct {
		Undeliverable  bool                 `json:"undeliverable"`
		ConsentHistory []store.ConsentEvent `json:"consentHistory"`
	}
	if err := json.Unmarshal([]byte(f.get(prefs+"/data.json").body), &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Undeliverable || len(doc.ConsentHistory) != 1 || doc.ConsentHistory[0].Kind != "Bounce" {
		t.Errorf("data.json: %+v", doc)
	}
	if csv := f.get(prefs + "/data.csv").body; !strings.Contains(csv, "undeliverable,true") {
		t.Errorf("data.csv has no undeliverable row:\n%s", csv)
	}
}

// A change is never parked: it lands at once, or waits at most two seconds
// for the conversion's write of the contact's partition, or is refused with
// 503 and Retry-After, so the mail provider or the person tries again.
func TestChangesApplyAtOnceOrAreRefused(t *testing.T) {
	for name, open := range lockableStores {
		t.Run(name, func(t *testing.T) {
			st, lock := open(t)
			f := newFixture(t, st, nil)
			oneClick := func(key string) response {
				return f.do(http.MethodPost, f.link(key, linktoken.PurposeUnsubscribe), url.Values{"List-Unsubscribe": {"One-Click"}}, nil)
			}
			if r := oneClick(greta); r.status != http.StatusOK {
				t.Fatalf("one-click: %d, want 200", r.status)
			}
			if !f.contact(greta).GlobalOptOut {
				t.Fatal("the one-click unsubscribe did not take effect at once")
			}

			// A conversion holds the partition of these contacts longer than
			// a change may wait.
			const other = "tom@example.be"
			release := lock(t, other)
			r := oneClick(other)
			if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
				t.Errorf("one-click while the contact's partition is held: %d, Retry-After %q; want 503 with Retry-After",
					r.status, r.header.Get("Retry-After"))
			}
			prefs := f.link(other, linktoken.PurposePreferences)
			page := f.do(http.MethodPost, prefs+"/unsubscribe?lang=nl", url.Values{"csrf": {f.csrf(prefs)}}, nil)
			if page.status != http.StatusServiceUnavailable || !strings.Contains(page.body, "opnieuw") {
				t.Errorf("page while the partition is held: %d; want 503 asking to try again", page.status)
			}
			release()
			if r := oneClick(other); r.status != http.StatusOK || !f.contact(other).GlobalOptOut {
				t.Errorf("one-click after the write: %d, opted out %v", r.status, f.contact(other).GlobalOptOut)
			}
		})
	}
}

func TestDisabledRightsAreHidden(t *testing.T) {
	f := newFixture(t, sqliteStore(t), func(c *prefconfig.Config) { c.Rights = prefconfig.Rights{Export: true} })
	prefs := f.link(greta, linktoken.PurposePreferences)
	page := f.get(prefs).body
	if !strings.Contains(page, "/data") || strings.Contains(page, "/erase") || strings.Contains(page, "/rectify") {
		t.Error("the page shows a disabled right, or hides an enabled one")
	}
	for _, p := range []string{"/erase", "/rectify"} {
		if r := f.get(prefs + p); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, r.status)
		}
		if r := f.do(http.MethodPost, prefs+p, url.Values{}, nil); r.status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", p, r.status)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, sqliteStore(t), func(c *prefconfig.Config) { c.HSTS = true })
	r := f.get(f.link(greta, linktoken.PurposePreferences))
	for h, want := range map[string]string{
		"Content-Security-Policy":   "frame-ancestors 'none'",
		"Referrer-Policy":           "no-referrer",
		"X-Frame-Options":           "DENY",
		"Strict-Transport-Security": "max-age=",
		"Cache-Control":             "no-store",
	} {
		if !strings.Contains(r.header.Get(h), want) {
			t.Errorf("%s = %q, want %q in it", h, r.header.Get(h), want)
		}
	}
	big := url.Values{"csrf": {strings.Repeat("x", maxFormBytes)}}
	if r := f.do(http.MethodPost, f.link(greta, linktoken.PurposePreferences), big, nil); r.status != http.StatusBadRequest {
		t.Errorf("an oversized form: %d, want 400", r.status)
	}
	if r := f.get("/readyz"); r.status != http.StatusOK {
		t.Errorf("/readyz: %d", r.status)
	}
	_ = f.store.Close()
	if r := f.get("/readyz"); r.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database closed: %d, want 503", r.status)
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, sqliteStore(t), nil)
	srv, err := New(Options{Config: f.server.cfg, Store: f.store, Signer: f.signer, Now: f.clock, RatePerSecond: 1, Burst: 3})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	codes := []int{}
	for range 5 {
		req, _ := http.NewRequest(http.MethodGet, "/p/x", nil)
		req.RemoteAddr = "192.0.2.9:1234"
		w := &recorder{header: http.Header{}}
		h.ServeHTTP(w, req)
		codes = append(codes, w.status)
	}
	if codes[2] != http.StatusForbidden || codes[3] != http.StatusTooManyRequests {
		t.Errorf("statuses = %v, want three answers then 429", codes)
	}
}

// A flood of made-up links from one address (an attacker, or everyone
// behind one Ingress without trustedProxies) slows only the bad links: the
// valid one-clicks and pages from that same address all answer 2xx.
func TestAFloodOfBadLinksBlocksNoValidRequest(t *testing.T) {
	f := newFixture(t, sqliteStore(t), nil)
	srv, err := New(Options{Config: f.server.cfg, Store: f.store, Signer: f.signer, Now: f.clock}) // the default limits
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	serve := func(method, path, body string) int {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.RemoteAddr = "192.0.2.7:4000"
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	var keys []string
	if err := f.store.Export(context.Background(), func(e *store.Exported) error { keys = append(keys, e.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad, refused := 0, []string{}
	for i := range 1000 {
		wg.Go(func() {
			code := serve(http.MethodPost, fmt.Sprintf("/u/made-up-%d", i), "List-Unsubscribe=One-Click")
			mu.Lock()
			defer mu.Unlock()
			if code == http.StatusTooManyRequests {
				bad++
			}
		})
		if i%10 != 0 {
			continue
		}
		n := i / 10 // 100 valid requests among the bad ones
		wg.Go(func() {
			key := keys[n%len(keys)]
			path, method, body := f.link(key, linktoken.PurposePreferences), http.MethodGet, ""
			if n%2 == 0 {
				key = fmt.Sprintf("reader-%d@example.org", n)
				path, method, body = f.link(key, linktoken.PurposeUnsubscribe), http.MethodPost, "List-Unsubscribe=One-Click"
			}
			code := serve(method, path, body)
			if code/100 != 2 {
				mu.Lock()
				refused = append(refused, fmt.Sprintf("%s %d", method, code))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(refused) > 0 {
		t.Errorf("%d of 100 valid requests refused during the flood: %v", len(refused), refused)
	}
	if bad < 900 {
		t.Errorf("only %d of 1,000 bad links were slowed down with 429", bad)
	}
	t.Logf("flood: 1,000 bad links (%d answered 429) and 100 valid requests (%d refused) from one address", bad, len(refused))
}

// The limiter's memory is bounded: an idle address costs nothing, and a
// whole IPv6 /64 is one client.
func TestRateLimiterIsBounded(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	l := newIPLimiter(5, 40, func() time.Time { return now })
	l.max = 1000
	for i := range 5000 {
		l.allow(clientKey(fmt.Sprintf("2001:db8:%x::1", i)))
	}
	if n := len(l.clients); n > 1000 {
		t.Errorf("%d entries after 5,000 addresses, want at most 1,000", n)
	}
	if clientKey("2001:db8:1:2:aaaa::1") != clientKey("2001:db8:1:2:bbbb::9") {
		t.Error("two addresses of one /64 are two clients")
	}
	if clientKey("192.0.2.1") == clientKey("192.0.2.2") {
		t.Error("two IPv4 addresses are one client")
	}
}

type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return len(b), nil
}
func (r *recorder) WriteHeader(code int) { r.status = code }

func TestClientIP(t *testing.T) {
	s := &Server{cfg: &prefconfig.Config{}}
	s.trusted = append(s.trusted, mustPrefix("10.0.0.0/8"))
	for _, tc := range []struct{ peer, xff, want string }{
		{"192.0.2.1:5", "", "192.0.2.1"},
		{"192.0.2.1:5", "203.0.113.9", "192.0.2.1"},                          // untrusted peer: header ignored
		{"10.1.2.3:5", "203.0.113.9", "203.0.113.9"},                         // one trusted proxy
		{"10.1.2.3:5", "198.51.100.1, 203.0.113.9, 10.9.9.9", "203.0.113.9"}, // spoofed first hop ignored
		{"10.1.2.3:5", "", "10.1.2.3"},
		{"[::ffff:192.0.2.1]:5", "", "192.0.2.1"},
	} {
		req := &http.Request{RemoteAddr: tc.peer, Header: http.Header{"X-Forwarded-For": {tc.xff}}}
		if got := s.clientIP(req); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}

func TestPageLanguage(t *testing.T) {
	offered := []string{"nl", "fr", "en"}
	for _, tc := range []struct{ query, accept, contact, want string }{
		{"", "", "", "en"},
		{"", "", "fr", "fr"},
		{"", "", "de", "en"},             // not offered: default
		{"?lang=nl", "", "fr", "nl"},     // explicit choice wins
		{"?lang=xx", "", "fr", "fr"},     // unknown choice ignored
		{"", "fr-BE,fr;q=0.9", "", "fr"}, // browser
		{"", "nl-BE;q=0.8, de;q=0.9", "", "nl"},
		{"", "ja", "", "en"},
	} {
		r := &http.Request{URL: &url.URL{RawQuery: strings.TrimPrefix(tc.query, "?")}, Header: http.Header{"Accept-Language": {tc.accept}}}
		if got := pageLanguage(r, offered, tc.contact, "en"); got != tc.want {
			t.Errorf("query %q accept %q contact %q: %s, want %s", tc.query, tc.accept, tc.contact, got, tc.want)
		}
	}
}

// Every language has every text the English pages use.
func TestTranslationsComplete(t *testing.T) {
	c, err := loadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range prefconfig.Translated {
		for key := range c["en"] {
			if strings.TrimSpace(c[lang][key]) == "" {
				t.Errorf("%s: %q is missing", lang, key)
			}
		}
		for key := range c[lang] {
			if _, ok := c["en"][key]; !ok {
				t.Errorf("%s: %q is not an English key", lang, key)
			}
		}
	}
}

// A one-click unsubscribe for a contact not imported yet is kept, and the
// import that brings the contact in honours it.
func TestOneClickBeforeImport(t *testing.T) {
	f := newFixture(t, sqliteStore(t), nil)
	res, err := http.Post(f.http.URL+f.link("newcomer@example.be", linktoken.PurposeUnsubscribe), "application/x-www-form-urlencoded",
		strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("one-click for a contact not imported yet: %d", res.StatusCode)
	}
	if err := f.store.WritePartition(context.Background(), &store.PartitionWrite{RunKey: "later", Part: 0, Partitions: 1,
		Contacts: []merge.Contact{{Key: "newcomer@example.be", Email: "newcomer@example.be",
			Fields: map[string]string{}, Segments: map[string]string{"fairs": merge.Subscribed}}}}); err != nil {
		t.Fatal(err)
	}
	if !f.contact("newcomer@example.be").GlobalOptOut {
		t.Error("the import overrode an unsubscribe received before it")
	}
}

// A live link never reaches the logs: the route is logged, not the path.
func TestNoTokenInTheLogs(t *testing.T) {
	f := newFixture(t, sqliteStore(t), nil)
	var logs strings.Builder
	srv, err := New(Options{Config: f.server.cfg, Store: f.store, Signer: f.signer, Now: f.clock,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	link := f.link(greta, linktoken.PurposePreferences)
	_ = f.store.Close() // every request now fails, and is logged
	req := httptest.NewRequest(http.MethodGet, link, nil)
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, req)
	token := strings.TrimPrefix(link, "/p/")
	if w.Code != http.StatusInternalServerError || logs.Len() == 0 {
		t.Fatalf("status %d, %d bytes of logs; want a logged failure", w.Code, logs.Len())
	}
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), greta) {
		t.Errorf("the logs hold the link or the address:\n%s", logs.String())
	}
}
