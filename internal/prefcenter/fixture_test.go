package prefcenter

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/engine"
	"github.com/contactconverter/contact-converter/internal/engine/enginetest"
	"github.com/contactconverter/contact-converter/internal/linktoken"
	"github.com/contactconverter/contact-converter/internal/pgtest"
	"github.com/contactconverter/contact-converter/internal/prefconfig"
	"github.com/contactconverter/contact-converter/internal/store"
)

// greta is in two of the sample tenant's lists: salon-x-2018 and
// newsletter-2017, and in no other segment.
const greta = "greta@example.de"

// testConfig offers three topics; greta never consented to "shop".
func testConfig(publicURL string) *prefconfig.Config {
	return &prefconfig.Config{
		Organization:    ccv1.Organization{Name: "ACME <Belgium>", PrivacyPolicyURL: "https://acme.example/privacy", ContactEmail: "privacy@acme.example"},
		Languages:       []string{"nl", "fr", "en", "de"},
		DefaultLanguage: "en",
		Topics: []ccv1.Topic{
			{Name: "fairs", Segment: "salon-x-2018", Title: map[string]string{"en": "Fairs", "nl": "Beurzen", "fr": "Salons", "de": "Messen"}},
			{Name: "newsletter", Segment: "newsletter-2017", Title: map[string]string{"en": "Newsletter", "de": "Rundbrief"},
				Description: map[string]string{"en": "Our monthly news."}},
			{Name: "shop", Segment: "customers", Title: map[string]string{"en": "Shop offers"}},
		},
		Rights:         prefconfig.Rights{Export: true, Erasure: true, Rectification: true},
		LinkTTL:        "720h",
		PublicURL:      publicURL,
		KeyIsEmail:     true,
		TrustedProxies: []string{"10.0.0.0/8"},
		SigningKeysDir: "/unused",
	}
}

// fixture is a preference center on a database the sample tenant's
// conversion filled.
type fixture struct {
	t      testing.TB
	store  store.Store
	signer *linktoken.Signer
	server *Server
	http   *httptest.Server
	now    time.Time
}

// seed runs the sample tenant's conversion into st, with the extra sources
// given (their csv.path absolute).
func seed(t testing.TB, st store.Store, extra ...ccv1.Source) {
	t.Helper()
	spec, opener := enginetest.SampleTenant(t)
	spec.Sources = append(spec.Sources, extra...)
	if _, err := engine.Run(context.Background(), engine.Options{Spec: spec, Opener: opener, Store: st, SpillDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
}

func sqliteStore(t testing.TB) store.Store {
	return openService(t, "sqlite:"+filepath.Join(t.TempDir(), "contacts.db"))
}

func postgresStore(t testing.TB) store.Store {
	return openService(t, pgtest.NewDatabase(t, pgtest.Start(t), "prefs"))
}

// lockableStores open each database with a way to hold a contact's
// partition as a conversion's write does, until release is called.
var lockableStores = map[string]func(*testing.T) (store.Store, func(t *testing.T, key string) (release func())){
	"sqlite": func(t *testing.T) (store.Store, func(*testing.T, string) func()) {
		path := filepath.Join(t.TempDir(), "contacts.db")
		st := openService(t, "sqlite:"+path)
		return st, func(t *testing.T, _ string) func() {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
				t.Fatal(err)
			}
			return func() { _, _ = conn.ExecContext(context.Background(), "ROLLBACK"); _ = conn.Close(); _ = db.Close() }
		}
	},
	"postgres": func(t *testing.T) (store.Store, func(*testing.T, string) func()) {
		url := pgtest.NewDatabase(t, pgtest.Start(t), "prefs")
		st := openService(t, url)
		return st, func(t *testing.T, key string) func() {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, 0x4343, store.Bucket(key)); err != nil {
				t.Fatal(err)
			}
			return func() { _ = tx.Rollback(ctx); _ = conn.Close(ctx) }
		}
	},
}

func openService(t testing.TB, url string) store.Store {
	st, err := store.OpenService(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// stores are the two databases every handler test runs against.
var stores = map[string]func(testing.TB) store.Store{"sqlite": sqliteStore, "postgres": postgresStore}

func newFixture(t testing.TB, st store.Store, edit func(*prefconfig.Config)) *fixture {
	t.Helper()
	seed(t, st)
	f := &fixture{t: t, store: st, now: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	var err error
	if f.signer, err = linktoken.NewSigner(map[string][]byte{"k1": []byte(strings.Repeat("s", 32))}); err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	f.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(f.http.Close)
	cfg := testConfig(f.http.URL)
	if edit != nil {
		edit(cfg)
	}
	if f.server, err = New(Options{Config: cfg, Store: st, Signer: f.signer, APIToken: "api-token-0123456789", Now: f.clock,
		RatePerSecond: 1e6, Burst: 1e6}); err != nil {
		t.Fatal(err)
	}
	handler = f.server.Handler()
	return f
}

func (f *fixture) clock() time.Time { return f.now }

// link is a signed link path for a key.
func (f *fixture) link(key, purpose string) string {
	f.t.Helper()
	tok, err := f.signer.Mint(key, purpose, f.now.Add(time.Hour))
	if err != nil {
		f.t.Fatal(err)
	}
	if purpose == linktoken.PurposeUnsubscribe {
		return "/u/" + tok
	}
	return "/p/" + tok
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends a form, or nothing when form is nil.
func (f *fixture) do(method, path string, form url.Values, header map[string]string) response {
	f.t.Helper()
	if form == nil {
		return f.send(method, path, nil, header)
	}
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range header {
		h[k] = v
	}
	return f.send(method, path, strings.NewReader(form.Encode()), h)
}

// send makes a request with header and reads the whole answer.
func (f *fixture) send(method, path string, body io.Reader, header map[string]string) response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.http.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, string(data)}
}

func (f *fixture) get(path string) response { return f.do(http.MethodGet, path, nil, nil) }

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the form on the page at path.
func (f *fixture) csrf(path string) string {
	f.t.Helper()
	m := csrfField.FindStringSubmatch(f.get(path).body)
	if m == nil {
		f.t.Fatalf("no CSRF field on %s", path)
	}
	return m[1]
}

func (f *fixture) contact(key string) *store.Exported {
	f.t.Helper()
	c, err := f.store.Contact(context.Background(), key)
	if err != nil {
		f.t.Fatalf("contact %s: %v", key, err)
	}
	return c
}

func (f *fixture) events(key string) []store.ConsentEvent {
	f.t.Helper()
	e, err := f.store.ConsentEvents(context.Background(), key)
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
