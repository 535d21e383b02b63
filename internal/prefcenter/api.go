package prefcenter

import (
	"crypto/subtle"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

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
				s.metrics.refused.WithLabelValues(refusedRateLimited).Inc()
				tooMany(w)
				return
			}
			s.metrics.refused.WithLabelValues(refusedBadAPIToken).Inc()
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
	// Error says why a key of a bulk request got no links.
	Error string `json:"error,omitempty"`
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

// Bulk links: a request may carry up to maxBulkKeys keys in up to
// maxBulkBytes; past either it is refused with 413 before anything is
// minted.
const (
	maxBulkKeys   = 1_000_000
	maxBulkBytes  = 64 << 20
	bulkReadTime  = 5 * time.Minute
	bulkWriteTime = 10 * time.Minute
)

// apiLinks mints links: JSON {"key": K} answers one object; {"keys": [...]}
// answers an array, and a CSV body with a "key" column answers CSV. Bulk
// keys are read whole first, packed in one buffer (a client that sends its
// body before reading the answer never deadlocks), then the links are
// written as a stream; a bad key is reported in its place.
func (s *Server) apiLinks(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > maxBulkBytes {
		apiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d MiB: send at most %d keys per request", maxBulkBytes>>20, maxBulkKeys))
		return
	}
	// A million keys in and their links out (some 330 MB) take longer than
	// the server's deadlines for pages.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bulkReadTime))
	_ = rc.SetWriteDeadline(time.Now().Add(bulkReadTime + bulkWriteTime))
	r.Body = http.MaxBytesReader(w, r.Body, maxBulkBytes)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var keys keyList
	var err error
	switch mediaType {
	case "application/json":
		var single *string
		single, err = readJSONKeys(r.Body, &keys)
		if err == nil && single != nil {
			l, err := s.links(*single)
			if err != nil {
				apiError(w, http.StatusUnprocessableEntity, err.Error())
				return
			}
			writeJSON(w, l)
			return
		}
	case "text/csv":
		err = readCSVKeys(r.Body, &keys)
	default:
		apiError(w, http.StatusUnsupportedMediaType, "Content-Type: send application/json or text/csv")
		return
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) || errors.Is(err, errTooManyKeys):
		apiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("send at most %d keys (%d MiB) per request, and split larger lists", maxBulkKeys, maxBulkBytes>>20))
		return
	case err != nil:
		apiError(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	if mediaType == "text/csv" {
		s.writeLinksCSV(w, &keys)
	} else {
		s.writeLinksJSON(w, &keys)
	}
}

var errTooManyKeys = errors.New("too many keys")

// keyList packs keys in 1 MiB blocks, each key behind its length: a
// million keys cost some 26 MB, with no copy as the list grows.
type keyList struct {
	blocks [][]byte
	n      int
}

const keyBlock = 1 << 20

func (k *keyList) add(key string) error {
	if k.n == maxBulkKeys {
		return errTooManyKeys
	}
	need := binary.MaxVarintLen64 + len(key)
	if len(k.blocks) == 0 || cap(k.blocks[len(k.blocks)-1])-len(k.blocks[len(k.blocks)-1]) < need {
		k.blocks = append(k.blocks, make([]byte, 0, max(keyBlock, need)))
	}
	b := &k.blocks[len(k.blocks)-1]
	*b = binary.AppendUvarint(*b, uint64(len(key)))
	*b = append(*b, key...)
	k.n++
	return nil
}

// each calls fn with every key, in order, releasing each block once read.
func (k *keyList) each(fn func(key string)) {
	for i, b := range k.blocks {
		for len(b) > 0 {
			n, size := binary.Uvarint(b)
			b = b[size:]
			fn(string(b[:n]))
			b = b[n:]
		}
		k.blocks[i] = nil
	}
}

// readJSONKeys reads {"key": K} (returned) or {"keys": [...]} (into keys),
// token by token.
func readJSONKeys(r io.Reader, keys *keyList) (*string, error) {
	const want = `send {"key": "..."} or {"keys": ["...", ...]}`
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("%s", want)
	}
	var single *string
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch name {
		case "key":
			var k string
			if err := dec.Decode(&k); err != nil {
				return nil, fmt.Errorf("key: %w", err)
			}
			single = &k
		case "keys":
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return nil, fmt.Errorf("keys must be an array of strings; %s", want)
			}
			for i := 0; dec.More(); i++ {
				t, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := t.(string)
				if !ok {
					return nil, fmt.Errorf("keys[%d] is not a string", i)
				}
				if err := keys.add(k); err != nil {
					return nil, err
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unknown field %v; %s", name, want)
		}
	}
	if single == nil && keys.n == 0 {
		return nil, fmt.Errorf("no key; %s", want)
	}
	return single, nil
}

// readCSVKeys reads the "key" column (or the only column) of a CSV body.
func readCSVKeys(r io.Reader, keys *keyList) error {
	in := csv.NewReader(r)
	in.FieldsPerRecord, in.ReuseRecord = -1, true
	header, err := in.Read()
	if err != nil {
		return errors.New("CSV: a header row with a key column is required")
	}
	col := slices.IndexFunc(header, func(h string) bool { return normalize.SameHeader(h, "key") })
	if col < 0 {
		if len(header) != 1 {
			return errors.New(`CSV: name the column of contact keys "key"`)
		}
		col = 0
	}
	for line := 2; ; line++ {
		rec, err := in.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return err
			}
			return fmt.Errorf("CSV line %d: %w", line, err)
		}
		key := ""
		if col < len(rec) {
			key = rec[col]
		}
		if err := keys.add(key); err != nil {
			return err
		}
	}
}

// flushEvery is how many links go out between two flushes.
const flushEvery = 1000

func (s *Server) writeLinksJSON(w http.ResponseWriter, keys *keyList) {
	w.Header().Set("Content-Type", "application/json")
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	_, _ = io.WriteString(w, "[")
	i := 0
	keys.each(func(raw string) {
		if i > 0 {
			_, _ = io.WriteString(w, ",")
		}
		l, err := s.links(raw)
		if err != nil {
			l = &Links{Key: raw, Error: err.Error()}
		}
		_ = enc.Encode(l)
		if i++; i%flushEvery == 0 {
			_ = rc.Flush()
		}
	})
	_, _ = io.WriteString(w, "]\n")
}

func (s *Server) writeLinksCSV(w http.ResponseWriter, keys *keyList) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	rc := http.NewResponseController(w)
	out := csvsafe.NewWriter(w)
	_ = out.Write([]string{"key", "preferencesURL", "listUnsubscribe", "listUnsubscribePost", "error"})
	i := 0
	keys.each(func(raw string) {
		if l, err := s.links(raw); err != nil {
			_ = out.Write([]string{raw, "", "", "", err.Error()})
		} else {
			_ = out.Write([]string{l.Key, l.PreferencesURL, l.ListUnsubscribe, l.ListUnsubscribePost, ""})
		}
		if i++; i%flushEvery == 0 {
			out.Flush()
			_ = rc.Flush()
		}
	})
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
		s.metrics.dbErrors.Inc()
		s.log.Error("api export", "error", err)
		apiError(w, http.StatusInternalServerError, "the database did not answer")
		return
	}
	events, err := s.store.ConsentEvents(r.Context(), key)
	if err != nil {
		s.metrics.dbErrors.Inc()
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
		s.metrics.dbErrors.Inc()
		s.log.Error("api erase", "error", err)
		apiError(w, http.StatusInternalServerError, "the database did not answer")
		return
	}
	writeJSON(w, map[string]any{"erased": true})
}
