package tracing

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// world is a traced server whose handler calls a test upstream through the traced
// transport; the upstream records the traceparent headers it was sent.
type world struct {
	exp      *tracetest.InMemoryExporter
	tracer   *Tracer
	server   *httptest.Server
	mu       sync.Mutex
	upstream []string // traceparent values the upstream saw
}

func newWorld(t *testing.T, trusted ...netip.Prefix) *world {
	t.Helper()
	w := &world{exp: tracetest.NewInMemoryExporter()}
	up := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.upstream = append(w.upstream, r.Header.Get("traceparent"))
		w.mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/fail") {
			rw.WriteHeader(http.StatusBadGateway)
		}
	}))
	t.Cleanup(up.Close)
	var err error
	if w.tracer, err = New(context.Background(), Config{Exporter: w.exp, TrustedProxies: trusted}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.tracer.Shutdown(context.Background()) })
	client := &http.Client{Transport: w.tracer.Transport("eid", nil)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /requests/{id}", func(rw http.ResponseWriter, r *http.Request) {
		_, span := Start(r.Context(), "work")
		EndWith(span, nil)
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, up.URL+"/userinfo/"+r.PathValue("id"), nil)
		resp, err := client.Do(req)
		if err != nil {
			http.Error(rw, "upstream", http.StatusBadGateway)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	})
	mux.HandleFunc("/token", func(rw http.ResponseWriter, r *http.Request) { rw.WriteHeader(http.StatusInternalServerError) })
	w.server = httptest.NewServer(w.tracer.Middleware(mux))
	t.Cleanup(w.server.Close)
	return w
}

func (w *world) get(t *testing.T, path string, header http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, w.server.URL+path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func spanNamed(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	t.Fatalf("no span %q among %v", name, names)
	return tracetest.SpanStub{}
}

// A request gets a server span named by its route; the upstream call is its child, and
// the upstream receives the client span's traceparent. No attribute holds the raw path's
// identifier or the query.
func TestRequestAndUpstreamSpans(t *testing.T) {
	w := newWorld(t)
	const secretID, code = "038092004567", "c0de-XYZ"
	w.get(t, "/requests/"+secretID+"?code="+code, nil)
	spans := w.exp.GetSpans()
	srv := spanNamed(t, spans, "GET /requests/{id}")
	client := spanNamed(t, spans, "eid GET")
	work := spanNamed(t, spans, "work")
	if srv.SpanKind != trace.SpanKindServer || client.SpanKind != trace.SpanKindClient {
		t.Errorf("kinds: server %v, client %v", srv.SpanKind, client.SpanKind)
	}
	if client.Parent.SpanID() != srv.SpanContext.SpanID() || work.Parent.SpanID() != srv.SpanContext.SpanID() ||
		client.SpanContext.TraceID() != srv.SpanContext.TraceID() {
		t.Errorf("upstream and internal spans are not children of the request's span")
	}
	if len(w.upstream) != 1 {
		t.Fatalf("upstream calls: %d", len(w.upstream))
	}
	want := "00-" + srv.SpanContext.TraceID().String() + "-" + client.SpanContext.SpanID().String() + "-01"
	if w.upstream[0] != want {
		t.Errorf("upstream traceparent %q, want %q", w.upstream[0], want)
	}
	attrs := map[string]string{}
	for _, s := range spans {
		for _, a := range s.Attributes {
			v := a.Value.Emit()
			attrs[string(a.Key)] = v
			if strings.Contains(v, secretID) || strings.Contains(v, code) {
				t.Errorf("span %q attribute %s = %q holds the raw path or query", s.Name, a.Key, v)
			}
		}
	}
	if attrs["http.route"] != "GET /requests/{id}" || attrs["http.response.status_code"] != "200" || attrs["motlan.upstream"] != "eid" {
		t.Errorf("attributes: %v", attrs)
	}
}

// An incoming traceparent is continued only from a trusted proxy.
func TestIncomingTraceContext(t *testing.T) {
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	h := http.Header{"Traceparent": {parent}}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		follow  bool
	}{
		{"untrusted", nil, false},
		{"other proxy", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, false},
		{"trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.trusted...)
			w.get(t, "/token", h)
			srv := spanNamed(t, w.exp.GetSpans(), "GET /token")
			followed := srv.SpanContext.TraceID().String() == "4bf92f3577b34da6a3ce929d0e0e4736"
			if followed != tc.follow {
				t.Errorf("trace id %s: followed the caller's = %v, want %v", srv.SpanContext.TraceID(), followed, tc.follow)
			}
			if srv.Status.Code.String() != "Error" {
				t.Errorf("a 500 is not marked failed: %v", srv.Status)
			}
		})
	}
}

// Unmatched requests are named "unmatched", not by their path.
func TestUnmatchedRoute(t *testing.T) {
	w := newWorld(t)
	w.get(t, "/no/such/038092004567", nil)
	srv := spanNamed(t, w.exp.GetSpans(), "GET unmatched")
	for _, a := range srv.Attributes {
		if strings.Contains(a.Value.Emit(), "038092004567") {
			t.Errorf("attribute %s holds the path", a.Key)
		}
	}
}

// Off (nil Tracer) wraps nothing; a bad endpoint is refused.
func TestOff(t *testing.T) {
	tr, err := New(context.Background(), Config{})
	if err != nil || tr != nil {
		t.Fatalf("New without endpoint: %v %v", tr, err)
	}
	h := http.Handler(&http.ServeMux{})
	if tr.Middleware(h) != h {
		t.Error("a nil Tracer wraps the handler")
	}
	rt := http.DefaultTransport
	if tr.Transport("eid", rt) != rt {
		t.Error("a nil Tracer wraps the transport")
	}
	if err := tr.Flush(context.Background()); err != nil {
		t.Error(err)
	}
	ctx, span := Start(context.Background(), "x")
	if span.IsRecording() || ctx == nil {
		t.Error("Start without a parent span records")
	}
	if _, err := New(context.Background(), Config{Endpoint: "collector:4318"}); err == nil {
		t.Error("an endpoint without a scheme is accepted")
	}
	if errKind(context.DeadlineExceeded) != "timeout" || errKind(errors.New("x")) != "error" {
		t.Error("errKind")
	}
}
