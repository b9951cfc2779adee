package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// scope names the instrumentation in every span Motlan makes.
const scope = "github.com/motlan/motlan"

// Config configures a Tracer.
type Config struct {
	// Endpoint is the OTLP/HTTP collector URL (http://collector:4318; the path /v1/traces
	// is added when the URL has none). Empty, with no Exporter: tracing is off.
	Endpoint string
	// SampleRatio is the share of new traces recorded, in (0, 1]; 0 means 1. A request
	// continuing a trace follows its parent's decision.
	SampleRatio float64
	// Version is reported as service.version.
	Version string
	// TrustedProxies are the peers whose incoming traceparent is continued; anyone else
	// starts a new trace (a client must not choose our sampling or trace ids).
	TrustedProxies []netip.Prefix
	// Exporter replaces the OTLP exporter and exports each span as it ends (tests use
	// the SDK's tracetest.InMemoryExporter).
	Exporter sdktrace.SpanExporter
}

// Tracer records spans. A nil *Tracer records nothing and costs nothing.
type Tracer struct {
	tp      *sdktrace.TracerProvider
	tracer  trace.Tracer
	prop    propagation.TextMapPropagator
	trusted []netip.Prefix
}

// New returns the Tracer cfg describes, or nil when tracing is off.
func New(ctx context.Context, cfg Config) (*Tracer, error) {
	if cfg.Endpoint == "" && cfg.Exporter == nil {
		return nil, nil
	}
	ratio := cfg.SampleRatio
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	res := resource.NewSchemaless(attribute.String("service.name", "motlan"), attribute.String("service.version", cfg.Version))
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	}
	if cfg.Exporter != nil {
		opts = append(opts, sdktrace.WithSyncer(cfg.Exporter))
	} else {
		exp, err := otlpExporter(ctx, cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	return &Tracer{
		tp: tp, tracer: tp.Tracer(scope), prop: propagation.TraceContext{},
		trusted: cfg.TrustedProxies,
	}, nil
}

// otlpExporter exports over OTLP/HTTP (protobuf) to endpoint.
func otlpExporter(ctx context.Context, endpoint string) (sdktrace.SpanExporter, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tracing: endpoint %q is not an http(s) URL", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()), otlptracehttp.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	return exp, nil
}

// Flush exports the spans that have ended and not been exported yet.
func (t *Tracer) Flush(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.ForceFlush(ctx)
}

// Shutdown exports what is left and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// Start starts an internal span named name as a child of the span in ctx, with that span's
// provider: with no span in ctx (tracing off, or a background run) it is a no-op. This lets
// components far from the wiring make spans without a Tracer of their own.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.SpanContext().IsValid() {
		return ctx, parent // non-recording; End is a no-op
	}
	return parent.TracerProvider().Tracer(scope).Start(ctx, name, trace.WithAttributes(attrs...))
}

// EndWith ends span, marking it failed with a cause kind (never the error's text, which may
// carry a URL or an identifier) when err is not nil.
func EndWith(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, errKind(err))
	}
	span.End()
}

// errKind names err's class for a span status.
func errKind(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "error"
}
