package integration

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"golang.org/x/oauth2"
	"google.golang.org/protobuf/proto"

	"github.com/motlan/motlan/internal/config"
)

// headerLog records the traceparent header of every request a test upstream receives.
type headerLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *headerLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tp := r.Header.Get("traceparent"); tp != "" {
			l.mu.Lock()
			l.seen = append(l.seen, tp)
			l.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (l *headerLog) values() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen...)
}

// collector is an OTLP/HTTP trace receiver: it decodes what Motlan's exporter sends.
type collector struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
	attrs []string // every attribute value, resource ones included
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(raw, &req) != nil {
			t.Errorf("collector: %s %s %s: not an OTLP/HTTP protobuf export", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, rs := range req.ResourceSpans {
			c.addAttrs(rs.GetResource().GetAttributes())
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					c.spans = append(c.spans, sp)
					c.addAttrs(sp.Attributes)
					for _, ev := range sp.Events {
						c.addAttrs(ev.Attributes)
					}
					c.attrs = append(c.attrs, sp.Name, sp.GetStatus().GetMessage())
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) addAttrs(kvs []*commonpb.KeyValue) {
	for _, kv := range kvs {
		c.attrs = append(c.attrs, kv.Key+"="+kv.GetValue().String())
	}
}

// named returns the spans called name.
func (c *collector) named(name string) []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range c.spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func (c *collector) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, s := range c.spans {
		out = append(out, s.Name)
	}
	return out
}

// descendants returns the spans under root (children, their children, ...).
func (c *collector) descendants(root *tracepb.Span) []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	under := map[string]bool{string(root.SpanId): true}
	var out []*tracepb.Span
	for grew := true; grew; {
		grew = false
		for _, s := range c.spans {
			if !under[string(s.SpanId)] && under[string(s.ParentSpanId)] {
				under[string(s.SpanId)] = true
				out = append(out, s)
				grew = true
			}
		}
	}
	return out
}

// TestTracing logs a citizen in and has a document signed at B-LT with tracing sent to
// a test OTLP collector: every request has a span named by its route, the eID, TSA and
// OCSP calls are child spans of the request that made them, the eID receives their
// traceparent, and no span holds the citizen's CCCD, name, tokens or the request's id.
func TestTracing(t *testing.T) {
	col := newCollector(t)
	s := newStackWith(t, "sqlite", false, func(c *config.Config) {
		c.Tracing.Endpoint = col.srv.URL
	})
	p := newSigningPortal(t, s) // authorize → eID → callback → token, then client credentials
	title := "Tờ khai đăng ký khai sinh"
	id, approvalURL := p.requestAt(t, s, "trace-1", "B-LT", title)
	p.approve(t, approvalURL, title)
	if st := p.wait(t, s, id); st.Status != "signed" {
		t.Fatalf("signing: %+v", st)
	}
	apiToken, err := p.api.Transport.(*oauth2.Transport).Source.Token()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.run.FlushTraces(ctx); err != nil {
		t.Fatal(err)
	}

	one := func(name string) *tracepb.Span {
		t.Helper()
		spans := col.named(name)
		if len(spans) == 0 {
			t.Fatalf("no span %q among %v", name, col.names())
		}
		return spans[0]
	}
	for _, name := range []string{"GET /authorize", "GET /eid/callback", "POST /token", "POST /signing/v1/requests", "GET /sign/{id}"} {
		if sp := one(name); sp.Kind != tracepb.Span_SPAN_KIND_SERVER {
			t.Errorf("%s: kind %v", name, sp.Kind)
		}
	}
	// The callback's span holds the eID token call, whose traceparent the eID received.
	callback := one("GET /eid/callback")
	var eidChild *tracepb.Span
	for _, sp := range col.descendants(callback) {
		if strings.HasPrefix(sp.Name, "eid ") && sp.Kind == tracepb.Span_SPAN_KIND_CLIENT {
			eidChild = sp
		}
	}
	if eidChild == nil {
		t.Fatalf("no eID client span under the callback: %v", col.names())
	}
	want := "00-" + hex.EncodeToString(eidChild.TraceId) + "-" + hex.EncodeToString(eidChild.SpanId) + "-01"
	found := false
	for _, tp := range s.eidSeen.values() {
		found = found || tp == want
	}
	if !found {
		t.Errorf("the eID never received traceparent %s; it saw %v", want, s.eidSeen.values())
	}
	// The approval's span holds the signing's TSA and OCSP calls.
	var approval *tracepb.Span
	for _, sp := range col.named("POST /sign/{id}") {
		approval = sp
	}
	if approval == nil {
		t.Fatalf("no approval span: %v", col.names())
	}
	var signing *tracepb.Span
	for _, sp := range col.descendants(approval) {
		if sp.Name == "signing" {
			signing = sp
		}
	}
	if signing == nil {
		t.Fatalf("no signing span under the approval: %v", col.names())
	}
	kinds := map[string]bool{}
	for _, sp := range col.descendants(signing) {
		kinds[strings.Fields(sp.Name)[0]] = true
	}
	if !kinds["tsa"] || !kinds["ocsp"] {
		t.Errorf("spans under the signing: %v, want tsa and ocsp calls", kinds)
	}

	// No personal data, token or id in any attribute, name or status.
	secrets := []string{haoCCCD, "Lê Công Hảo", "Hảo", apiToken.AccessToken, id}
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, a := range col.attrs {
		for _, sec := range secrets {
			if sec != "" && strings.Contains(a, sec) {
				t.Errorf("a span holds %q: %s", sec, a)
			}
		}
		if strings.Contains(a, "?") || strings.Contains(a, "eyJ") {
			t.Errorf("a span holds a query or a JWT: %s", a)
		}
	}
}

// TestRequestIDs: every answer carries an X-Request-Id, a client cannot choose it (no
// trusted proxies), and a problem+json answer names it.
func TestRequestIDs(t *testing.T) {
	s := newStack(t, "sqlite")
	p := newSigningPortal(t, s)
	req, _ := http.NewRequest(http.MethodGet, s.issuer+"/signing/v1/requests/no-such-request", nil)
	req.Header.Set("X-Request-Id", "chosen-by-client")
	resp, err := p.api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw := body(t, resp)
	id := resp.Header.Get("X-Request-Id")
	var prob struct {
		Status    int    `json:"status"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal([]byte(raw), &prob); err != nil || resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("GET unknown request: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	if id == "" || id == "chosen-by-client" || prob.RequestID != id {
		t.Errorf("X-Request-Id %q, problem request_id %q: want one generated id in both", id, prob.RequestID)
	}
	resp2, err := http.Get(s.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	body(t, resp2)
	if id2 := resp2.Header.Get("X-Request-Id"); id2 == "" || id2 == id {
		t.Errorf("second request's id %q (first %q)", id2, id)
	}
}

// TestRequestIDsFromTrustedProxy: behind a trusted proxy, its X-Request-Id is kept.
func TestRequestIDsFromTrustedProxy(t *testing.T) {
	s := newStackWith(t, "sqlite", false, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1"} })
	req, _ := http.NewRequest(http.MethodGet, s.issuer+"/.well-known/openid-configuration", nil)
	req.Header.Set("X-Request-Id", "lb-7f3a9c")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body(t, resp)
	if got := resp.Header.Get("X-Request-Id"); got != "lb-7f3a9c" {
		t.Errorf("X-Request-Id %q, want the proxy's", got)
	}
}
