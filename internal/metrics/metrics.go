package metrics

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/motlan/motlan/internal/httprec"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Store is what the scrape-time gauges read; nil leaves them out.
type Store interface {
	// CountSigningRequests returns how many signing requests the store holds per status.
	CountSigningRequests(ctx context.Context) (map[string]int, error)
	// PendingAudit returns how many audit records wait to be sealed.
	PendingAudit(ctx context.Context) (n int, oldest time.Time, err error)
}

// Config configures Metrics.
type Config struct {
	Store Store
	// DBs are the store's connection pools by name ("writer", "reader"), exported by
	// client_golang's DB stats collector as go_sql_* with db_name="motlan_store_<name>".
	DBs    map[string]*sql.DB
	Logger *slog.Logger
}

// Metrics holds the collectors Motlan updates.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	logins      *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	retention   retentionMetrics // retention.go
	// upstream and upstreamErrors time calls to eID, TSA, OCSP/CRL, HSM and CSC (upstream.go).
	upstream       *prometheus.HistogramVec
	upstreamErrors *prometheus.CounterVec
	storeOps       *prometheus.HistogramVec // store latency by operation class
}

// New registers every metric on a registry of its own.
func New(cfg Config) *Metrics {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "motlan_http_requests_total", Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "motlan_http_request_duration_seconds", Help: "Time to answer HTTP requests, by route pattern (long-polls included).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "motlan_logins_total", Help: "eID logins for relying parties, by outcome and eID level reached.",
		}, []string{"outcome", "level"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "motlan_rate_limit_rejections_total", Help: "Requests refused over a rate limit, by scope.",
		}, []string{"scope"}),
	}
	m.upstream, m.upstreamErrors = newUpstreamMetrics()
	m.storeOps = newStoreMetric()
	m.reg.MustRegister(m.requests, m.duration, m.logins, m.rateLimited, m.upstream, m.upstreamErrors, m.storeOps,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfo())
	m.retention = newRetentionMetrics(m.reg)
	for name, db := range cfg.DBs {
		m.reg.MustRegister(collectors.NewDBStatsCollector(db, "motlan_store_"+name))
	}
	if cfg.Store != nil {
		m.reg.MustRegister(&storeCollector{st: cfg.Store, log: cfg.Logger})
	}
	return m
}

// buildInfo is motlan_build_info: constant 1, labelled with the module version and Go's.
func buildInfo() prometheus.Collector {
	version, goVersion := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version, goVersion = bi.Main.Version, bi.GoVersion
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "motlan_build_info", Help: "Always 1; the labels name the build.",
		ConstLabels: prometheus.Labels{"version": version, "go_version": goVersion},
	})
	g.Set(1)
	return g
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the registry Handler serves (tests list its metrics against the README).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Login counts one eID login by outcome and level.
func (m *Metrics) Login(outcome, level string) {
	if m == nil {
		return
	}
	if level == "" {
		level = "unknown"
	}
	m.logins.WithLabelValues(outcome, level).Inc()
}

// RateLimited counts one request refused over a limit in scope.
func (m *Metrics) RateLimited(scope string) {
	if m == nil {
		return
	}
	m.rateLimited.WithLabelValues(scope).Inc()
}

// Middleware counts and times every request by the route pattern that h's muxes matched
// (http.ServeMux sets Request.Pattern on the request it is given); a request no pattern
// matched is "unmatched".
func (m *Metrics) Middleware(h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := httprec.New(w)
		h.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(sw.Code)).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}
