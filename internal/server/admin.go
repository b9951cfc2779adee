package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/metrics"
	"github.com/motlan/motlan/internal/ratelimit"
	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/keys/vault"
)

// newMetrics builds the registry the admin listener serves, over the store's gauges and
// connection pools.
func newMetrics(st *sqlstore.Store, r *Running) *metrics.Metrics {
	m := metrics.New(metrics.Config{Store: st, DBs: st.Pools(), Logger: r.log})
	st.SetObserver(m.StoreOp)
	return m
}

// rateLimited adapts metrics to ratelimit's refusal hook.
func rateLimited(m *metrics.Metrics) func(ratelimit.Scope) {
	return func(s ratelimit.Scope) { m.RateLimited(string(s)) }
}

// Readiness timings: each check is bounded, and a result is reused for a second so that
// load balancers polling every replica often cost the store little.
const (
	readyTimeout = time.Second
	readyCache   = time.Second
)

// readiness answers /readyz: the store answers, the token keys sign, the vault answers.
type readiness struct {
	checks []readyCheck
	now    func() time.Time

	draining atomic.Bool // set at the start of a graceful stop: not ready, whatever the checks say

	mu      sync.Mutex
	checked time.Time
	failed  []string // names of failed checks at checked
}

type readyCheck struct {
	name string
	fn   func(ctx context.Context) error
}

func newReadiness(st *sqlstore.Store, km *keys.Manager, v vault.Vault) *readiness {
	return &readiness{now: time.Now, checks: []readyCheck{
		{"store", st.Ping},
		{"token_keys", func(ctx context.Context) error {
			_, err := km.Sign(ctx, "ES256", "JWT", []byte(`{"readyz":true}`))
			return err
		}},
		{"vault", func(ctx context.Context) error {
			// A label no key has: the vault must answer "not found", not fail.
			if _, err := v.Key(ctx, "readyz-probe"); err != nil && !errors.Is(err, vault.ErrNotFound) {
				return err
			}
			return nil
		}},
	}}
}

// failing runs the checks (or reuses a result younger than readyCache) and names those
// that failed.
func (rd *readiness) failing(ctx context.Context) []string {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if now := rd.now(); now.Sub(rd.checked) < readyCache {
		return rd.failed
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var failed []string
	for _, c := range rd.checks {
		if err := c.fn(ctx); err != nil {
			failed = append(failed, c.name)
		}
	}
	rd.checked, rd.failed = rd.now(), failed
	return failed
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if rd.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("draining: shutting down\n"))
		return
	}
	failed := rd.failing(context.WithoutCancel(r.Context()))
	if len(failed) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		for _, f := range failed {
			fmt.Fprintf(w, "%s: unavailable\n", f)
		}
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// adminMux serves the admin listener: liveness, readiness, metrics and pprof.
func adminMux(m *metrics.Metrics, ready http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.Handle("GET /readyz", ready)
	mux.Handle("GET /metrics", m.Handler())
	addPprof(mux)
	return mux
}

func addPprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// serveAdmin starts the admin listener when admin.listen is set, and records its address;
// and pprof alone on debug.pprof_listen, kept for configurations written before the
// admin listener.
func (r *Running) serveAdmin(listen, pprofListen string, m *metrics.Metrics, ready http.Handler) error {
	if pprofListen != "" {
		dbg := http.NewServeMux()
		addPprof(dbg)
		if _, err := r.ServeOn(pprofListen, dbg, "pprof"); err != nil {
			return err
		}
	}
	if listen == "" {
		return nil
	}
	addr, err := r.ServeOn(listen, adminMux(m, ready), "admin")
	if err != nil {
		return err
	}
	r.AdminAddr, r.admin = addr, r.servers[len(r.servers)-1]
	r.log.Info("admin listener: /healthz /readyz /metrics /debug/pprof/", "addr", addr)
	return nil
}
