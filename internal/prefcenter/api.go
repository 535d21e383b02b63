package prefcenter

import (
	"crypto/subtle"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/contactconverter/contact-converter/internal/csvsafe"
	"github.com/contactconverter/contact-converter/internal/linktoken"
	"github.com/contactconverter/contact-converter/internal/normalize"
	"github.com/contactconverter/contact-converter/internal/store"
)

// authorized checks the API's bearer token in constant time.
func (s *Server) authorized(h http.HandlerFunc) http.HandlerFunc {
	want := []byte("Bearer " + s.apiToken)
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			if !s.failed(r) {
				tooMany(w)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="contact-converter"`)
			apiError(w, http.StatusUnauthorized, "send the API token as Authorization: Bearer TOKEN")
			return
		}
		h(w, r)
	}
}

func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// Links are what a mailing needs for one contact.
type Links struct {
	Key                 string `json:"key"`
	PreferencesURL      string `json:"preferencesURL"`
	ListUnsubscribe     string `json:"listUnsubscribe"`
	ListUnsubscribePost string `json:"listUnsubscribePost"`
}

// contactKey normalises a key as the conversion did.
func (s *Server) contactKey(raw string) (string, error) {
	if s.cfg.KeyIsEmail {
		return normalize.EmailKey(raw)
	}
	return normalize.OtherKey(raw)
}

// links mints a contact's links.
func (s *Server) links(raw string) (*Links, error) {
	key, err := s.contactKey(raw)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", raw, err)
	}
	expires := s.now().Add(s.ttl)
	prefs, err := s.signer.Mint(key, linktoken.PurposePreferences, expires)
	if err != nil {
		return nil, err
	}
	unsub, err := s.signer.Mint(key, linktoken.PurposeUnsubscribe, expires)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(s.cfg.PublicURL, "/")
	return &Links{Key: key, PreferencesURL: base + "/p/" + prefs, ListUnsubscribe: "<" + base + "/u/" + unsub + ">",
		ListUnsubscribePost: "List-Unsubscribe=One-Click"}, nil
}

// apiLinks mints links: JSON {"key": K} or {"keys": [...]} answers JSON; a
// CSV body with a "key" column answers CSV, streamed.
func (s *Server) apiLinks(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAPIBytes)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mediaType {
	case "application/json":
		var req struct {
			Key  string   `json:"key"`
			Keys []string `json:"keys"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			apiError(w, http.StatusBadRequest, "body: "+err.Error()+`; send {"key": "..."} or {"keys": ["..."]}`)
			return
		}
		if req.Key != "" {
			l, err := s.links(req.Key)
			if err != nil {
				apiError(w, http.StatusUnprocessableEntity, err.Error())
				return
			}
			writeJSON(w, l)
			return
		}
		out := make([]*Links, 0, len(req.Keys))
		for _, k := range req.Keys {
			l, err := s.links(k)
			if err != nil {
				apiError(w, http.StatusUnprocessableEntity, err.Error())
				return
			}
			out = append(out, l)
		}
		writeJSON(w, out)
	case "text/csv":
		s.linksCSV(w, r)
	default:
		apiError(w, http.StatusUnsupportedMediaType, "Content-Type: send application/json or text/csv")
	}
}

func (s *Server) linksCSV(w http.ResponseWriter, r *http.Request) {
	in := csv.NewReader(r.Body)
	in.FieldsPerRecord = -1
	header, err := in.Read()
	if err != nil {
		apiError(w, http.StatusBadRequest, "CSV body: a header row with a key column is required")
		return
	}
	col := slices.IndexFunc(header, func(h string) bool { return normalize.SameHeader(h, "key") })
	if col < 0 {
		if len(header) != 1 {
			apiError(w, http.StatusBadRequest, `CSV body: name the column of contact keys "key"`)
			return
		}
		col = 0
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	out := csvsafe.NewWriter(w)
	_ = out.Write([]string{"key", "preferencesURL", "listUnsubscribe", "listUnsubscribePost", "error"})
	for line := 2; ; line++ {
		rec, err := in.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			_ = out.Write([]string{"", "", "", "", fmt.Sprintf("line %d: %v", line, err)})
			break
		}
		if col >= len(rec) {
			_ = out.Write([]string{"", "", "", "", fmt.Sprintf("line %d: no key column", line)})
			continue
		}
		l, err := s.links(rec[col])
		if err != nil {
			_ = out.Write([]string{rec[col], "", "", "", err.Error()})
			continue
		}
		_ = out.Write([]string{l.Key, l.PreferencesURL, l.ListUnsubscribe, l.ListUnsubscribePost, ""})
	}
	out.Flush()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// apiExport answers a data-subject access request handled by staff.
func (s *Server) apiExport(w http.ResponseWriter, r *http.Request) {
	key, err := s.contactKey(r.PathValue("key"))
	if err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	c, err := s.store.Contact(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		apiError(w, http.StatusNotFound, "no contact with this key")
		return
	}
	if err != nil {
		s.log.Error("api export", "error", err)
		apiError(w, http.StatusInternalServerError, "the database did not answer")
		return
	}
	events, err := s.store.ConsentEvents(r.Context(), key)
	if err != nil {
		s.log.Error("api export", "error", err)
		apiError(w, http.StatusInternalServerError, "the database did not answer")
		return
	}
	writeJSON(w, &portable{Exported: c, ConsentHistory: events})
}

// apiErase answers an erasure request handled by staff. The key is
// suppressed even when no contact holds it yet, so no import adds it.
func (s *Server) apiErase(w http.ResponseWriter, r *http.Request) {
	key, err := s.contactKey(r.PathValue("key"))
	if err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	err = s.commit(r.Context(), []store.Change{{Key: key, Action: store.ActionErase, Topic: "*",
		Source: store.SourceAPI, IP: s.clientIP(r), At: s.now()}})
	if errors.Is(err, errBusy) {
		w.Header().Set("Retry-After", retryAfter)
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if err != nil {
		s.log.Error("api erase", "error", err)
		apiError(w, http.StatusInternalServerError, "the database did not answer")
		return
	}
	writeJSON(w, map[string]any{"erased": true})
}
