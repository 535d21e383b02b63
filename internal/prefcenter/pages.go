package prefcenter

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/csvsafe"
	"github.com/contactconverter/contact-converter/internal/linktoken"
	"github.com/contactconverter/contact-converter/internal/merge"
	"github.com/contactconverter/contact-converter/internal/prefconfig"
	"github.com/contactconverter/contact-converter/internal/store"
)

// view is what a page template renders.
type view struct {
	Lang, Title, Body, Message string
	Org                        ccv1.Organization
	// Base is the page's link path; Query keeps the chosen language.
	Base, Query     string
	Action          string
	Button          string
	ButtonClass     string
	CSRF            string
	Rights          prefconfig.Rights
	Languages       []choice
	LanguageOptions []choice
	Contact         *store.Exported
	ContactLanguage string
	Topics          []topicView
	Events          []store.ConsentEvent
	catalog         catalog
}

// T is a text in the page's language.
func (v *view) T(key string, args ...any) string { return v.catalog.text(v.Lang, key, args...) }

type choice struct {
	Code, Name, URL string
	Current         bool
}

type topicView struct {
	Name, Segment, Title, Description string
	Checked                           bool
}

// visit is one request on a signed link.
type visit struct {
	key     string
	contact *store.Exported
	v       *view
}

// open verifies the link in the path and loads its contact. On failure it
// has answered already: the same page for any bad link, saying nothing
// about whether an address exists.
func (s *Server) open(w http.ResponseWriter, r *http.Request, purpose string) (*visit, bool) {
	token := r.PathValue("token")
	v := s.newView(r, "")
	key, err := s.signer.Verify(token, purpose, s.now())
	if err != nil {
		s.metrics.refusedLink(err)
		v.Title, v.Body = "invalid.title", "invalid.body"
		s.render(w, http.StatusForbidden, "message", v)
		return nil, false
	}
	c, err := s.store.Contact(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		v.Title, v.Body = "gone.title", "gone.body"
		s.render(w, http.StatusNotFound, "message", v)
		return nil, false
	}
	if err != nil {
		s.fail(w, r, v, err)
		return nil, false
	}
	v = s.newView(r, c.Language)
	v.Contact = c
	prefix := "/p/"
	if purpose == linktoken.PurposeUnsubscribe {
		prefix = "/u/"
	}
	v.Base = prefix + token
	if csrf, err := s.signer.Mint(key, linktoken.PurposeForm, s.now().Add(formTTL)); err == nil {
		v.CSRF = csrf
	}
	return &visit{key: key, contact: c, v: v}, true
}

// newView starts a page in the language the request and contact call for.
func (s *Server) newView(r *http.Request, contactLanguage string) *view {
	lang := pageLanguage(r, s.cfg.Languages, contactLanguage, s.cfg.DefaultLanguage)
	v := &view{Lang: lang, Org: s.cfg.Organization, Rights: s.cfg.Rights, catalog: s.catalog}
	if r.URL.Query().Has("lang") {
		v.Query = "?lang=" + url.QueryEscape(lang)
	}
	for _, l := range s.cfg.Languages {
		q := url.Values{"lang": {l}}
		v.Languages = append(v.Languages, choice{Code: l, Name: selfName(l), URL: r.URL.Path + "?" + q.Encode(), Current: l == lang})
	}
	return v
}

// posted parses a form and checks its CSRF token belongs to this contact.
func (s *Server) posted(w http.ResponseWriter, r *http.Request, vis *visit) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form is too large or malformed", http.StatusBadRequest)
		return false
	}
	if key, err := s.signer.Verify(r.PostForm.Get("csrf"), linktoken.PurposeForm, s.now()); err != nil || key != vis.key {
		s.metrics.refused.WithLabelValues(refusedFormExpired).Inc()
		vis.v.Message = "form.expired"
		return false
	}
	return true
}

func (s *Server) render(w http.ResponseWriter, status int, page string, v *view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := s.pages[page].ExecuteTemplate(w, "layout", v); err != nil {
		s.log.Error("rendering a page", "page", page, "error", err)
	}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	s.metrics.dbErrors.Inc()
	s.log.Error("request failed", "route", r.Pattern, "error", err)
	v.Title, v.Body, v.Base = "error.title", "error.body", ""
	s.render(w, http.StatusInternalServerError, "message", v)
}

// done shows the outcome of a change: applied, or refused while the
// database is busy (503: nothing was recorded, try again).
func (s *Server) done(w http.ResponseWriter, r *http.Request, vis *visit, changes []store.Change, title, body string) {
	err := s.commit(r.Context(), changes)
	if errors.Is(err, errBusy) {
		s.log.Warn("change refused", "route", r.Pattern, "error", err)
		w.Header().Set("Retry-After", retryAfter)
		vis.v.Title, vis.v.Body, vis.v.Base = "busy.title", "busy.body", ""
		s.render(w, http.StatusServiceUnavailable, "message", vis.v)
		return
	}
	if err != nil {
		s.fail(w, r, vis.v, err)
		return
	}
	vis.v.Title, vis.v.Body = title, body
	s.render(w, http.StatusOK, "message", vis.v)
}

func (s *Server) change(r *http.Request, vis *visit, action, topic string) store.Change {
	return store.Change{Key: vis.key, Action: action, Topic: topic, Source: store.SourcePreferenceCenter, IP: s.clientIP(r), At: s.now()}
}

// topics are the configured topics as this contact sees them. A topic is
// ticked only when the contact is subscribed to its segment and has not
// unsubscribed from everything: never by default.
func (s *Server) topics(v *view) []topicView {
	out := make([]topicView, 0, len(s.cfg.Topics))
	for i := range s.cfg.Topics {
		t := &s.cfg.Topics[i]
		tv := topicView{Name: t.Name, Segment: prefconfig.SegmentOf(t), Title: t.Title[v.Lang], Description: t.Description[v.Lang]}
		if tv.Title == "" {
			tv.Title = t.Title[s.cfg.DefaultLanguage]
		}
		tv.Checked = v.Contact.Segments[tv.Segment] == merge.Subscribed && !v.Contact.GlobalOptOut
		out = append(out, tv)
	}
	return out
}

func (s *Server) showPreferences(w http.ResponseWriter, r *http.Request) {
	vis, ok := s.open(w, r, linktoken.PurposePreferences)
	if !ok {
		return
	}
	vis.v.Title = "prefs.title"
	vis.v.Topics = s.topics(vis.v)
	s.render(w, http.StatusOK, "preferences", vis.v)
}

func (s *Server) savePreferences(w http.ResponseWriter, r *http.Request) {
	vis, ok := s.open(w, r, linktoken.PurposePreferences)
	if !ok {
		return
	}
	v := vis.v
	if !s.posted(w, r, vis) {
		if v.Message != "" {
			v.Title, v.Topics = "prefs.title", s.topics(v)
			s.render(w, http.StatusForbidden, "preferences", v)
		}
		return
	}
	ticked := r.PostForm["topic"]
	var changes []store.Change
	withdraw := vis.contact.GlobalOptOut && len(ticked) > 0
	for _, t := range s.topics(v) {
		want := slices.Contains(ticked, t.Name)
		// Withdrawing a global opt-out, the contact saw every topic
		// unticked: one left so stays unsubscribed, whatever the lists say.
		_, member := vis.contact.Segments[t.Segment]
		if want == t.Checked && !(withdraw && member && !want) {
			continue
		}
		action := store.ActionUnsubscribe
		if want {
			action = store.ActionSubscribe
		}
		c := s.change(r, vis, action, t.Name)
		c.Segment, c.TextHash = t.Segment, textHash(v.Lang, t.Title, t.Description)
		changes = append(changes, c)
	}
	if withdraw {
		c := s.change(r, vis, store.ActionWithdrawObjection, "*")
		c.TextHash = textHash(v.Lang, v.T("prefs.optedOut"))
		changes = append([]store.Change{c}, changes...)
	}
	s.done(w, r, vis, changes, "saved.title", "saved.body")
}

// confirm shows a page whose one button posts to action.
func (s *Server) confirm(w http.ResponseWriter, status int, v *view, what, action, button, class string) {
	v.Title, v.Body, v.Action, v.Button, v.ButtonClass = what+".title", what+".body", action, button, class
	s.render(w, status, "confirm", v)
}

// showOneClick answers a GET on a List-Unsubscribe link (a mail client or
// a person): it changes nothing, and asks for confirmation.
func (s *Server) showOneClick(w http.ResponseWriter, r *http.Request) {
	vis, ok := s.open(w, r, linktoken.PurposeUnsubscribe)
	if !ok {
		return
	}
	s.confirm(w, http.StatusOK, vis.v, "oneclick", vis.v.Base, "unsubscribe.confirm", "")
}

// oneClick is RFC 8058's POST with List-Unsubscribe=One-Click, or the
// confirmation form of showOneClick. A one-click unsubscribe is recorded
// even for a contact the database does not hold (yet), as during a first
// conversion: the link is ours, and the opt-out waits for the import.
func (s *Server) oneClick(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseMultipartForm(maxFormBytes); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		http.Error(w, "the form is too large or malformed", http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("List-Unsubscribe") == "One-Click" {
		key, err := s.signer.Verify(r.PathValue("token"), linktoken.PurposeUnsubscribe, s.now())
		if err != nil {
			s.metrics.refusedLink(err)
			s.metrics.oneClick.WithLabelValues(oneClickRefused).Inc()
			http.Error(w, "this link is not valid or has expired", http.StatusForbidden)
			return
		}
		c := store.Change{Key: key, Action: store.ActionUnsubscribeAll, Topic: "*", Source: store.SourceOneClick, IP: s.clientIP(r), At: s.now()}
		if err := s.commit(r.Context(), []store.Change{c}); err != nil {
			result := oneClickBusy
			if !errors.Is(err, errBusy) {
				result = oneClickFailed
				s.metrics.dbErrors.Inc()
			}
			s.metrics.oneClick.WithLabelValues(result).Inc()
			s.log.Error("one-click unsubscribe", "error", err)
			w.Header().Set("Retry-After", retryAfter)
			http.Error(w, "not recorded: please try again in a few seconds", http.StatusServiceUnavailable)
			return
		}
		s.metrics.oneClick.WithLabelValues(oneClickUnsubscribed).Inc()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("unsubscribed\n"))
		return
	}
	vis, ok := s.open(w, r, linktoken.PurposeUnsubscribe)
	if !ok {
		return
	}
	if key, err := s.signer.Verify(r.PostForm.Get("csrf"), linktoken.PurposeForm, s.now()); err != nil || key != vis.key {
		vis.v.Message = "form.expired"
		s.confirm(w, http.StatusForbidden, vis.v, "oneclick", vis.v.Base, "unsubscribe.confirm", "")
		return
	}
	c := s.change(r, vis, store.ActionUnsubscribeAll, "*")
	c.TextHash = textHash(vis.v.Lang, vis.v.T("oneclick.body", s.cfg.Organization.Name))
	vis.v.Base = "" // a List-Unsubscribe link leads nowhere else
	s.done(w, r, vis, []store.Change{c}, "unsubscribed.title", "unsubscribed.body")
}

func (s *Server) showData(w http.ResponseWriter, r *http.Request) {
	vis, ok := s.open(w, r, linktoken.PurposePreferences)
	if !ok {
		return
	}
	events, err := s.store.ConsentEvents(r.Context(), vis.key)
	if err != nil {
		s.fail(w, r, vis.v, err)
		return
	}
	vis.v.Title, vis.v.Events = "data.title", events
	vis.v.ContactLanguage = languageName(vis.contact.Language, vis.v.Lang)
	s.render(w, http.StatusOK, "data", vis.v)
}

// portable is the data-portability document.
type portable struct {
	*store.Exported
	ConsentHistory []store.ConsentEvent `json:"consentHistory"`
}

func (s *Server) portable(w http.ResponseWriter, r *http.Request) (*portable, bool) {
	vis, ok := s.open(w, r, linktoken.PurposePreferences)
	if !ok {
		return nil, false
	}
	events, err := s.store.ConsentEvents(r.Context(), vis.key)
	if err != nil {
		s.fail(w, r, vis.v, err)
		return nil, false
	}
	return &portable{Exported: vis.contact, ConsentHistory: events}, true
}

func (s *Server) downloadJSON(w http.ResponseWriter, r *http.Request) {
	p, ok := s.portable(w, r)
	if !ok {
		return
	}
	attachment(w, "application/json", "my-data.json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(p)
}

func (s *Server) downloadCSV(w http.ResponseWriter, r *http.Request) {
	p, ok := s.portable(w, r)
	if !ok {
		return
	}
	attachment(w, "text/csv; charset=utf-8", "my-data.csv")
	writePortableCSV(w, p)
}

func attachment(w http.ResponseWriter, contentType, name string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
}

// writePortableCSV writes one "field,value" row per datum.
func writePortableCSV(w http.ResponseWriter, p *portable) {
	cw := csvsafe.NewWriter(w)
	row := func(field, value string) { _ = cw.Write([]string{field, value}) }
	row("field", "value")
	row("key", p.Key)
	row("email", p.Email)
	row("firstName", p.FirstName)
	row("lastName", p.LastName)
	row("language", p.Language)
	for _, k := range sortedKeys(p.Fields) {
		row("fields."+k, p.Fields[k])
	}
	for _, src := range p.Sources {
		row("source", src)
	}
	for _, k := range sortedKeys(p.Segments) {
		row("segments."+k, p.Segments[k])
	}
	row("globalOptOut", strconv.FormatBool(p.GlobalOptOut))
	row("undeliverable", strconv.FormatBool(p.Undeliverable))
	for _, e := range p.ConsentHistory {
		what := e.Action + " " + e.Topic + " (" + e.Source
		if e.Kind != "" {
			what += ", " + e.Kind
		}
		row("consent."+e.At, what+")")
	}
	cw.Flush()
}

// safeCell keeps a spreadsheet from reading a value as a formula.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (s *Server) showRectify(w http.ResponseWriter, r *http.Request) {
	vis, ok := s.open(w, r, linktoken.PurposePreferences)
	if !ok {
		return
	}
	s.rectifyForm(w, http.StatusOK, vis)
}

func (s *Server) rectifyForm(w http.ResponseWriter, status int, vis *visit) {
	v := vis.v
	v.Title = "rectify.title"
	codes := slices.Clone(s.cfg.Languages)
	if vis.contact.Language != "" && !slices.Contains(codes, vis.contact.Language) {
		codes = append(codes, vis.contact.Language)
	}
	for _, c := range codes {
		v.LanguageOptions = append(v.LanguageOptions, choice{Code: c, Name: languageName(c, v.Lang), Current: c == vis.contact.Language})
	}
	s.render(w, status, "rectify", v)
}

func (s *Server) rectify(w http.ResponseWriter, r *http.Request) {
	vis, ok := s.open(w, r, linktoken.PurposePreferences)
	if !ok {
		return
	}
	if !s.posted(w, r, vis) {
		if vis.v.Message != "" {
			s.rectifyForm(w, http.StatusForbidden, vis)
		}
		return
	}
	fields := map[string]string{}
	for _, f := range []struct{ name, old string }{{"firstName", vis.contact.FirstName}, {"lastName", vis.contact.LastName}} {
		value, ok := cleanName(r.PostForm.Get(f.name))
		if !ok {
			http.Error(w, f.name+": at most 200 characters, without control characters", http.StatusBadRequest)
			return
		}
		if value != f.old {
			fields[f.name] = value
		}
	}
	if lang := r.PostForm.Get("language"); lang != vis.contact.Language {
		if !slices.Contains(s.cfg.Languages, lang) {
			http.Error(w, "language: choose one of the offered languages", http.StatusBadRequest)
			return
		}
		fields["language"] = lang
	}
	var changes []store.Change
	if len(fields) > 0 {
		c := s.change(r, vis, store.ActionRectify, "profile")
		c.Fields = fields
		changes = append(changes, c)
	}
	s.done(w, r, vis, changes, "rectified.title", "rectified.body")
}

// cleanName trims a name and refuses control characters and excess length.
func cleanName(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > 200 {
		return "", false
	}
	return v, !strings.ContainsFunc(v, unicode.IsControl)
}

// decision is a page whose one button, after the contact confirms, makes a
// change: unsubscribing from everything, or erasing their data.
type decision struct {
	// what names the texts: what.title and what.body; done names those of
	// the outcome.
	what, done   string
	path, button string
	class        string
	action       string
	// gone: nothing is left to go back to afterwards.
	gone bool
}

var (
	unsubscribeAll = decision{what: "unsubscribe", done: "unsubscribed", path: "/unsubscribe", button: "unsubscribe.confirm",
		action: store.ActionUnsubscribeAll}
	erasure = decision{what: "erase", done: "erased", path: "/erase", button: "erase.confirm", class: "danger",
		action: store.ActionErase, gone: true}
)

// ask shows the decision's confirmation page.
func (s *Server) ask(d decision) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vis, ok := s.open(w, r, linktoken.PurposePreferences)
		if !ok {
			return
		}
		s.confirm(w, http.StatusOK, vis.v, d.what, vis.v.Base+d.path, d.button, d.class)
	}
}

// decide makes the confirmed change, recording the text the contact saw.
func (s *Server) decide(d decision) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vis, ok := s.open(w, r, linktoken.PurposePreferences)
		if !ok {
			return
		}
		if !s.posted(w, r, vis) {
			if vis.v.Message != "" {
				s.confirm(w, http.StatusForbidden, vis.v, d.what, vis.v.Base+d.path, d.button, d.class)
			}
			return
		}
		c := s.change(r, vis, d.action, "*")
		c.TextHash = textHash(vis.v.Lang, vis.v.T(d.what+".body", s.cfg.Organization.Name))
		if d.gone {
			vis.v.Base = ""
		}
		s.done(w, r, vis, []store.Change{c}, d.done+".title", d.done+".body")
	}
}
