package prefcenter

import (
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/contactconverter/contact-converter/internal/linktoken"
)

// Why a request was refused (the refused_total reason label).
const (
	refusedRateLimited = "rate_limited"
	refusedBadToken    = "bad_token"
	refusedExpired     = "expired"
	refusedFormExpired = "form_expired"
	refusedBadAPIToken = "bad_api_token"
)

// Outcomes of an RFC 8058 one-click unsubscribe.
const (
	oneClickUnsubscribed = "unsubscribed"
	oneClickRefused      = "refused"
	oneClickBusy         = "busy"
	oneClickFailed       = "failed"
)

// Outcomes of a change.
const (
	outcomeApplied = "applied"
	outcomeBusy    = "busy"
	outcomeFailed  = "failed"
)

// metrics are the preference center's series. No label carries personal
// data: routes, actions, configured topic names, outcomes and reasons only.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	changes  *prometheus.CounterVec
	oneClick *prometheus.CounterVec
	refused  *prometheus.CounterVec
	dbErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contact_converter_preference_center_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "contact_converter_preference_center_request_duration_seconds", Help: "Time to answer an HTTP request, by route, method and status code.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "code"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contact_converter_preference_center_consent_changes_total",
			Help: "Changes contacts made, by action, topic and outcome: applied, busy (refused with 503 to be tried again) or failed.",
		}, []string{"action", "topic", "outcome"}),
		oneClick: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contact_converter_preference_center_one_click_total",
			Help: "RFC 8058 one-click unsubscribes by result: unsubscribed, refused (bad or expired link), busy or failed.",
		}, []string{"result"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "contact_converter_preference_center_refused_total",
			Help: "Requests refused, by reason: rate_limited, bad_token, expired, form_expired, bad_api_token.",
		}, []string{"reason"}),
		dbErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "contact_converter_preference_center_database_errors_total", Help: "Database reads and writes that failed.",
		}),
	}
	// Every result and reason exists from the start, so rates and alerts
	// see zero rather than nothing.
	for _, r := range []string{oneClickUnsubscribed, oneClickRefused, oneClickBusy, oneClickFailed} {
		m.oneClick.WithLabelValues(r)
	}
	for _, r := range []string{refusedRateLimited, refusedBadToken, refusedExpired, refusedFormExpired, refusedBadAPIToken} {
		m.refused.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.changes, m.oneClick, m.refused, m.dbErrors)
	}
	return m
}

// instrument counts and times a route's requests with promhttp.
func (m *metrics) instrument(route string, h http.Handler) http.Handler {
	route1 := prometheus.Labels{"route": route}
	return promhttp.InstrumentHandlerDuration(m.duration.MustCurryWith(route1),
		promhttp.InstrumentHandlerCounter(m.requests.MustCurryWith(route1), h))
}

// refusedLink counts a link that did not verify.
func (m *metrics) refusedLink(err error) {
	if errors.Is(err, linktoken.ErrExpired) {
		m.refused.WithLabelValues(refusedExpired).Inc()
		return
	}
	m.refused.WithLabelValues(refusedBadToken).Inc()
}
