package accesslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/motlan/motlan/internal/logredact"
)

// syncBuffer is a log sink shared by the server's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON records logged so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		m := map[string]any{}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func (s *syncBuffer) raw() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var generated = regexp.MustCompile(`^[a-z]{24}$`)

// TestAccessLog serves real HTTP over loopback through the middleware, as a client and as
// a trusted proxy, and reads the JSON log lines written through logredact.
func TestAccessLog(t *testing.T) {
	const cccd, code = "038092004567", "SplxlOBeZQQYbYS6WxSbIA"
	for _, tc := range []struct {
		name      string
		trusted   []netip.Prefix
		path      string
		sentID    string
		forwarded string
		wantID    string // "" : a generated one
		wantRoute string
		wantCode  float64
		wantBytes float64
		remote    string
	}{
		{"client's id refused", nil, "/things/" + cccd + "?code=" + code, "from-client-1", "", "", "POST /things/{id}", 201, 7, "127.0.0.1"},
		{"proxy's id kept", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "/things/" + cccd, "abc-123_x.y:z", "203.0.113.7", "abc-123_x.y:z", "POST /things/{id}", 201, 7, "203.0.113.7"},
		{"proxy's bad id replaced", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, "/things/x", "bad id <script>", "", "", "POST /things/{id}", 201, 7, "127.0.0.1"},
		{"proxy's long id replaced", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, "/things/x", strings.Repeat("a", 129), "", "", "POST /things/{id}", 201, 7, "127.0.0.1"},
		{"unmatched", nil, "/nothing/" + cccd, "", "", "", "unmatched", 404, 19, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sink syncBuffer
			log := logredact.Logger(slog.New(Handler(slog.NewJSONHandler(&sink, nil))))
			mux := http.NewServeMux()
			mux.HandleFunc("POST /things/{id}", func(w http.ResponseWriter, r *http.Request) {
				log.ErrorContext(r.Context(), "handler failed", "cccd", r.PathValue("id"))
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, "created")
			})
			srv := httptest.NewServer(Middleware(Config{Logger: log, TrustedProxies: tc.trusted}, Routes(mux)))
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+tc.path, nil)
			if tc.sentID != "" {
				req.Header.Set(Header, tc.sentID)
			}
			if tc.forwarded != "" {
				req.Header.Set("X-Forwarded-For", tc.forwarded)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			srv.Close() // the access line is written once the handler returns

			id := resp.Header.Get(Header)
			if tc.wantID != "" && id != tc.wantID || tc.wantID == "" && !generated.MatchString(id) {
				t.Errorf("X-Request-Id %q, want %q (or a generated one)", id, tc.wantID)
			}
			var access map[string]any
			for _, l := range sink.lines(t) {
				if l["request_id"] != id {
					t.Errorf("log line without the request id %q: %v", id, l)
				}
				if l["msg"] == "http request" {
					access = l
				}
			}
			if access == nil {
				t.Fatalf("no access line in %s", sink.raw())
			}
			want := map[string]any{"level": "INFO", "method": "POST", "route": tc.wantRoute, "status": tc.wantCode, "bytes": tc.wantBytes, "remote": tc.remote}
			for k, v := range want {
				if access[k] != v {
					t.Errorf("access %s = %v, want %v", k, access[k], v)
				}
			}
			if d, ok := access["duration_ms"].(float64); !ok || d < 0 {
				t.Errorf("duration_ms = %v", access["duration_ms"])
			}
			if raw := sink.raw(); strings.Contains(raw, cccd) || strings.Contains(raw, code) || strings.Contains(raw, "/things/x") {
				t.Errorf("the log holds a raw path, query or CCCD:\n%s", raw)
			}
		})
	}
}

// Ids are unique and never look like digits the redaction would mask.
func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newID()
		if !generated.MatchString(id) || seen[id] {
			t.Fatalf("id %q: malformed or repeated", id)
		}
		if logredact.String(id) != id {
			t.Fatalf("id %q is changed by redaction", id)
		}
		seen[id] = true
	}
}
