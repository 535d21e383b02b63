package prefcenter

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	changes  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "preference_center_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "preference_center_changes_total", Help: "Changes contacts made, by action and outcome: applied, busy (refused with 503 to be tried again) or failed.",
		}, []string{"action", "outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.changes)
	}
	return m
}

// count counts a route's requests by status code.
func (m *metrics) count(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		m.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
