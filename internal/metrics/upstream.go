package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Upstreams Motlan calls, the values of the upstream label.
const (
	UpstreamEID = "eid" // the national eID: discovery, token, JWKS, userinfo
	UpstreamTSA = "tsa" // RFC 3161 time-stamping
	// UpstreamOCSP and UpstreamCRL are revocation evidence for B-LT/B-LTA; UpstreamAIA
	// the CA certificates fetched from caIssuers URLs.
	UpstreamOCSP = "ocsp"
	UpstreamCRL  = "crl"
	UpstreamAIA  = "aia"
	UpstreamHSM  = "hsm" // PKCS#11 signing in the HSM
	UpstreamCSC  = "csc" // a licensed CA's remote signing service (CSC API)
)

// Outcomes of an upstream call, the values of the outcome label.
const (
	OutcomeOK          = "ok"
	OutcomeClientError = "client_error" // HTTP 4xx
	OutcomeServerError = "server_error" // HTTP 5xx
	OutcomeTimeout     = "timeout"
	OutcomeCanceled    = "canceled"
	OutcomeError       = "error" // a network failure, or an HSM error
)

// upstreamBuckets span an in-process TSA (~1 ms) to a slow remote service (10 s timeouts).
var upstreamBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newUpstreamMetrics() (*prometheus.HistogramVec, *prometheus.CounterVec) {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "motlan_upstream_request_duration_seconds", Help: "Time of calls to upstream services (eid, tsa, ocsp, crl, aia, hsm, csc), by outcome.",
			Buckets: upstreamBuckets,
		}, []string{"upstream", "outcome"}),
		prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "motlan_upstream_errors_total", Help: "Failed calls to upstream services, by outcome (client_error, server_error, timeout, canceled, error).",
		}, []string{"upstream", "outcome"})
}

// Upstream records one call to upstream that began at start and ended with outcome.
func (m *Metrics) Upstream(upstream, outcome string, start time.Time) {
	if m == nil {
		return
	}
	m.upstream.WithLabelValues(upstream, outcome).Observe(time.Since(start).Seconds())
	if outcome != OutcomeOK {
		m.upstreamErrors.WithLabelValues(upstream, outcome).Inc()
	}
}

// ErrorOutcome classifies a failed call's error: timeout, canceled or error.
func ErrorOutcome(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return OutcomeTimeout
	case errors.Is(err, context.Canceled):
		return OutcomeCanceled
	}
	return OutcomeError
}

// StatusOutcome classifies an HTTP answer by its status code.
func StatusOutcome(code int) string {
	switch {
	case code >= 500:
		return OutcomeServerError
	case code >= 400:
		return OutcomeClientError
	}
	return OutcomeOK
}

// Transport times every call through next as one to upstream. A nil *Metrics returns next.
func (m *Metrics) Transport(upstream string, next http.RoundTripper) http.RoundTripper {
	if m == nil {
		return next
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return &upstreamTransport{m: m, upstream: upstream, next: next}
}

type upstreamTransport struct {
	m        *Metrics
	upstream string
	next     http.RoundTripper
}

// RoundTrip times the call up to the response headers: what the upstream took to answer,
// not how long the caller took to read the body.
func (t *upstreamTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		t.m.Upstream(t.upstream, ErrorOutcome(err), start)
		return nil, err
	}
	t.m.Upstream(t.upstream, StatusOutcome(resp.StatusCode), start)
	return resp, nil
}

// storeBuckets span a cached SQLite read (~50 µs) to a transaction stuck behind a lock.
var storeBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5}

func newStoreMetric() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "motlan_store_operation_duration_seconds", Help: "Time of store operations, by class: read, write (outside a transaction), tx (a write transaction).",
		Buckets: storeBuckets,
	}, []string{"class"})
}

// StoreOp records one store operation of class that took d.
func (m *Metrics) StoreOp(class string, d time.Duration) {
	if m == nil {
		return
	}
	m.storeOps.WithLabelValues(class).Observe(d.Seconds())
}
