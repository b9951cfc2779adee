package server

import (
	"context"
	"crypto"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/motlan/motlan/internal/accesslog"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/metrics"
	"github.com/motlan/motlan/internal/tracing"
	"github.com/motlan/motlan/keys/vault"
)

// observer instruments what Motlan calls: a span and a latency observation for each
// upstream call. Either part may be off (nil).
type observer struct {
	m  *metrics.Metrics
	tr *tracing.Tracer
}

// transport instruments next as calls to upstream (metrics.Upstream*).
func (o observer) transport(upstream string, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return o.tr.Transport(upstream, o.m.Transport(upstream, next))
}

// ltvTransport instruments B-LT/B-LTA downloads by what they fetch: OCSP responses, CRLs
// or CA certificates (ltv states each in Accept).
func (o observer) ltvTransport(next http.RoundTripper) http.RoundTripper {
	return byAccept{
		ocsp: o.transport(metrics.UpstreamOCSP, next),
		crl:  o.transport(metrics.UpstreamCRL, next),
		aia:  o.transport(metrics.UpstreamAIA, next),
	}
}

type byAccept struct{ ocsp, crl, aia http.RoundTripper }

func (b byAccept) RoundTrip(r *http.Request) (*http.Response, error) {
	switch accept := r.Header.Get("Accept"); {
	case strings.Contains(accept, "ocsp"):
		return b.ocsp.RoundTrip(r)
	case strings.Contains(accept, "crl"):
		return b.crl.RoundTrip(r)
	}
	return b.aia.RoundTrip(r)
}

// vault instruments signatures made in an HSM (the pkcs11 vault); the software vault
// signs in process and is left as it is.
func (o observer) vault(v vault.Vault, typ string) vault.Vault {
	if typ != "pkcs11" || (o.m == nil && o.tr == nil) {
		return v
	}
	return observedVault{Vault: v, m: o.m}
}

type observedVault struct {
	vault.Vault
	m *metrics.Metrics
}

func (v observedVault) Sign(ctx context.Context, label string, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	start := time.Now()
	ctx, span := tracing.Start(ctx, "hsm sign")
	sig, err := v.Vault.Sign(ctx, label, digest, opts)
	tracing.EndWith(span, err)
	v.m.Upstream(metrics.UpstreamHSM, metrics.ErrorOutcome(err), start)
	return sig, err
}

// newTracer starts the tracer tracing.endpoint names (nil when off); Shutdown flushes it
// after the servers have stopped.
func (r *Running) newTracer(ctx context.Context, cfg config.Config) (*tracing.Tracer, error) {
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
	}
	tr, err := tracing.New(ctx, tracing.Config{
		Endpoint: cfg.Tracing.Endpoint, SampleRatio: cfg.Tracing.Ratio(), Version: version,
		TrustedProxies: cfg.TrustedProxyPrefixes(),
	})
	if err != nil || tr == nil {
		return nil, err
	}
	r.tracer = tr
	r.closers = append(r.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return tr.Shutdown(ctx)
	})
	return tr, nil
}

// FlushTraces exports the spans that have ended (tests read them from the collector).
func (r *Running) FlushTraces(ctx context.Context) error { return r.tracer.Flush(ctx) }

// publicHandler wraps the public mux: the access log and request id outermost, then the
// request's span, then the request metrics.
func publicHandler(mux http.Handler, cfg config.Config, m *metrics.Metrics, tr *tracing.Tracer, log *slog.Logger) http.Handler {
	h := m.Middleware(accesslog.Routes(mux))
	return accesslog.Middleware(accesslog.Config{Logger: log, TrustedProxies: cfg.TrustedProxyPrefixes()}, tr.Middleware(h))
}

// requestLogger puts request and trace ids on every record made with a request's
// context, beneath the redaction of personal data.
func requestLogger(log *slog.Logger) *slog.Logger {
	return slog.New(accesslog.Handler(log.Handler()))
}
