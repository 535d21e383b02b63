// Package prefcenter is the preference center: the pages where a contact
// chooses what they receive and exercises their GDPR rights, the one-click
// unsubscribe, and the mailing system's API.
package prefcenter

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/contactconverter/contact-converter/internal/linktoken"
	"github.com/contactconverter/contact-converter/internal/prefconfig"
	"github.com/contactconverter/contact-converter/internal/store"
)

//go:embed templates
var templateFiles embed.FS

// Limits on what a client may send.
const (
	maxFormBytes = 16 << 10
	// formTTL is how long a shown form can be posted.
	formTTL = 2 * time.Hour
	// commitTimeout is how long a change may wait for the database, as for
	// a conversion's write of the contact's partition. Past it the change
	// is refused (503 with Retry-After), never parked.
	commitTimeout = 2 * time.Second
	// retryAfter is the Retry-After of a refused change, in seconds.
	retryAfter = "5"
)

// errBusy is a change the database could not take within commitTimeout.
var errBusy = errors.New("the database is busy; try again in a few seconds")

// Options build a Server.
type Options struct {
	Config *prefconfig.Config
	Store  store.Preferences
	Signer *linktoken.Signer
	// APIToken is the bearer token of /api/v1; empty disables the API.
	APIToken string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Registerer receives the metrics; nil registers nothing.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// RatePerSecond and Burst limit the invalid links and API tokens each
	// client address may try; zero uses 5 per second with bursts of 40.
	// Valid links get twice that per contact; nothing else is limited.
	RatePerSecond float64
	Burst         int
}

// Server serves the pages, the one-click unsubscribe and the API.
type Server struct {
	cfg        *prefconfig.Config
	store      store.Preferences
	signer     *linktoken.Signer
	apiToken   string
	now        func() time.Time
	log        *slog.Logger
	ttl        time.Duration
	catalog    catalog
	pages      map[string]*template.Template
	css        []byte
	trusted    []netip.Prefix
	failures   *ipLimiter
	perContact *ipLimiter
	metrics    *metrics
}

// New checks the options and builds a Server.
func New(o Options) (*Server, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Store == nil || o.Signer == nil {
		return nil, errors.New("prefcenter: a store and a signer are required")
	}
	s := &Server{cfg: o.Config, store: o.Store, signer: o.Signer, apiToken: o.APIToken, now: o.Now, log: o.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.ttl, _ = o.Config.TTL()
	// No token may live longer than the links and forms this server mints.
	o.Signer.MaxTTL = max(s.ttl, formTTL)
	var err error
	if s.catalog, err = loadCatalog(); err != nil {
		return nil, err
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if s.css, err = templateFiles.ReadFile("templates/style.css"); err != nil {
		return nil, err
	}
	for _, p := range o.Config.TrustedProxies {
		s.trusted = append(s.trusted, netip.MustParsePrefix(p))
	}
	rate, burst := o.RatePerSecond, o.Burst
	if rate == 0 {
		rate, burst = 5, 40
	}
	s.failures = newIPLimiter(rate, burst, s.now)
	s.perContact = newIPLimiter(rate*2, burst*2, s.now)
	s.perContact.whenFull = true // never refuse a valid link for others' sake
	s.metrics = newMetrics(o.Registerer)
	return s, nil
}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range []string{"preferences", "confirm", "message", "data", "rectify"} {
		t, err := template.ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// Handler routes every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	page := func(pattern, route string, h http.HandlerFunc) {
		purpose := linktoken.PurposePreferences
		if strings.HasPrefix(pattern, "GET /u/") || strings.HasPrefix(pattern, "POST /u/") {
			purpose = linktoken.PurposeUnsubscribe
		}
		s.handle(mux, pattern, route, s.limited(purpose, h))
	}
	page("GET /p/{token}", "preferences", s.showPreferences)
	page("POST /p/{token}", "preferences", s.savePreferences)
	page("GET /p/{token}/unsubscribe", "unsubscribe", s.ask(unsubscribeAll))
	page("POST /p/{token}/unsubscribe", "unsubscribe", s.decide(unsubscribeAll))
	page("GET /p/{token}/data", "data", s.right(s.cfg.Rights.Export, s.showData))
	page("GET /p/{token}/data.json", "data", s.right(s.cfg.Rights.Export, s.downloadJSON))
	page("GET /p/{token}/data.csv", "data", s.right(s.cfg.Rights.Export, s.downloadCSV))
	page("GET /p/{token}/rectify", "rectify", s.right(s.cfg.Rights.Rectification, s.showRectify))
	page("POST /p/{token}/rectify", "rectify", s.right(s.cfg.Rights.Rectification, s.rectify))
	page("GET /p/{token}/erase", "erase", s.right(s.cfg.Rights.Erasure, s.ask(erasure)))
	page("POST /p/{token}/erase", "erase", s.right(s.cfg.Rights.Erasure, s.decide(erasure)))
	page("GET /u/{token}", "one-click", s.showOneClick)
	page("POST /u/{token}", "one-click", s.oneClick)
	if s.apiToken != "" {
		api := func(pattern, route string, h http.HandlerFunc) {
			s.handle(mux, pattern, route, s.authorized(h))
		}
		api("POST /api/v1/links", "api-links", s.apiLinks)
		api("GET /api/v1/contacts/{key}", "api-contact", s.apiExport)
		api("DELETE /api/v1/contacts/{key}", "api-contact", s.apiErase)
	}
	s.handle(mux, "GET /static/style.css", "static", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(s.css)
	})
	s.handle(mux, "GET /healthz", "healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.handle(mux, "GET /readyz", "readyz", s.ready)
	s.handle(mux, "/", "other", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	return s.secured(mux)
}

// handle registers h, counting its requests under route.
func (s *Server) handle(mux *http.ServeMux, pattern, route string, h http.HandlerFunc) {
	mux.Handle(pattern, s.metrics.instrument(route, h))
}

// right hides a disabled right: its endpoints answer 404.
func (s *Server) right(enabled bool, h http.HandlerFunc) http.HandlerFunc {
	if !enabled {
		return http.NotFound
	}
	return h
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("database not answering", "error", err)
		http.Error(w, "database not answering", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// secured sets the security headers on every response.
func (s *Server) secured(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' https: http:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.cfg.HSTS {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// limited applies the rate limits of a link for purpose: a bad link spends
// its address's budget of failures, a valid one its contact's budget.
func (s *Server) limited(purpose string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allowed bool
		if key, err := s.signer.Verify(r.PathValue("token"), purpose, s.now()); err != nil {
			allowed = s.failed(r)
		} else {
			allowed = s.perContact.allow(key)
		}
		if !allowed {
			s.metrics.refused.WithLabelValues(refusedRateLimited).Inc()
			tooMany(w)
			return
		}
		h(w, r)
	}
}

// failed counts a bad link or API token against the client's address, and
// tells whether it may still be answered.
func (s *Server) failed(r *http.Request) bool { return s.failures.allow(clientKey(s.clientIP(r))) }

func tooMany(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "10")
	http.Error(w, "too many requests", http.StatusTooManyRequests)
}

// clientIP is the address recorded as evidence: the peer, or, when the peer
// is a trusted proxy, the last address in X-Forwarded-For that is not one.
func (s *Server) clientIP(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	addr := peer.Addr().Unmap()
	if !s.isTrusted(addr) {
		return addr.String()
	}
	hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		hop = hop.Unmap()
		if !s.isTrusted(hop) {
			return hop.String()
		}
		addr = hop
	}
	return addr.String()
}

func (s *Server) isTrusted(a netip.Addr) bool {
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// topicLabel is a change's topic as a metric label: a configured topic, "*"
// (all) or a rectified field; anything else is "other", so a request cannot
// add series.
func (s *Server) topicLabel(topic string) string {
	switch topic {
	case "*", "firstName", "lastName", "language", "":
		return topic
	}
	for _, t := range s.cfg.Topics {
		if t.Name == topic {
			return topic
		}
	}
	return "other"
}

// textHash is the evidence of what a contact was shown.
func textHash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// commit applies changes within commitTimeout. A conversion running or
// paused does not hold them back: each partition write applies the changes
// made before it, and the ones made after it land on what it wrote.
func (s *Server) commit(ctx context.Context, changes []store.Change) error {
	if len(changes) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	err := s.store.Apply(ctx, changes)
	outcome := outcomeApplied
	switch {
	case err == nil:
	case ctx.Err() != nil || store.IsBusy(err):
		outcome, err = outcomeBusy, fmt.Errorf("%w (%d changes)", errBusy, len(changes))
	default:
		outcome, err = outcomeFailed, fmt.Errorf("recording %d changes: %w", len(changes), err)
	}
	for _, c := range changes {
		s.metrics.changes.WithLabelValues(c.Action, s.topicLabel(c.Topic), outcome).Inc()
	}
	return err
}
