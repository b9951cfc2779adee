package tracing

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/motlan/motlan/internal/httprec"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Attribute keys (OpenTelemetry HTTP semantic conventions, and Motlan's upstream name).
const (
	attrMethod   = attribute.Key("http.request.method")
	attrRoute    = attribute.Key("http.route")
	attrStatus   = attribute.Key("http.response.status_code")
	attrServer   = attribute.Key("server.address")
	attrUpstream = attribute.Key("motlan.upstream")
	attrErrType  = attribute.Key("error.type")
)

// Middleware gives every request a server span named by the route pattern the muxes below
// matched ("unmatched" when none did), continuing the caller's trace only when the peer is
// a trusted proxy.
func (t *Tracer) Middleware(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrMethod.String(method(r.Method)))}
		if t.fromTrustedProxy(r) {
			ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
		} else {
			opts = append(opts, trace.WithNewRoot())
		}
		ctx, span := t.tracer.Start(ctx, r.Method, opts...)
		defer span.End()
		sw := httprec.New(w)
		r = r.WithContext(ctx)
		h.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		name := route
		if !strings.Contains(route, " ") {
			name = r.Method + " " + route
		}
		span.SetName(name)
		span.SetAttributes(attrRoute.String(route), attrStatus.Int(sw.Code))
		if sw.Code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.Code))
		}
	})
}

// fromTrustedProxy reports whether the connection's peer is a trusted proxy.
func (t *Tracer) fromTrustedProxy(r *http.Request) bool {
	if len(t.trusted) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range t.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// method bounds the method attribute to the known ones (a client may send any token).
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// Transport gives each call through next a client span named after upstream (eid, tsa,
// ocsp, crl, csc, ...) and sends the W3C trace context with it.
func (t *Tracer) Transport(upstream string, next http.RoundTripper) http.RoundTripper {
	if t == nil {
		return next
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{t: t, upstream: upstream, next: next}
}

type transport struct {
	t        *Tracer
	upstream string
	next     http.RoundTripper
}

func (tr *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := tr.t.tracer.Start(r.Context(), tr.upstream+" "+method(r.Method), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrUpstream.String(tr.upstream), attrMethod.String(method(r.Method)), attrServer.String(r.URL.Hostname())))
	defer span.End()
	out := r.Clone(ctx) // a RoundTripper must not change the caller's request
	tr.t.prop.Inject(ctx, propagation.HeaderCarrier(out.Header))
	resp, err := tr.next.RoundTrip(out)
	if err != nil {
		kind := errKind(r.Context().Err())
		if kind == "error" {
			kind = "network"
		}
		span.SetAttributes(attrErrType.String(kind))
		span.SetStatus(codes.Error, kind)
		return nil, err
	}
	span.SetAttributes(attrStatus.Int(resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
	}
	return resp, nil
}
