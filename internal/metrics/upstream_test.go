package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Calls through the upstream transport are timed and classified by outcome; failures are
// counted as errors.
func TestUpstreamTransport(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(200 * time.Millisecond)
		}
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if code != 0 {
			w.WriteHeader(code)
		}
	}))
	defer up.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	m := New(Config{})
	client := &http.Client{Transport: m.Transport(UpstreamTSA, nil)}
	for _, tc := range []struct {
		url     string
		timeout time.Duration
		outcome string
	}{
		{up.URL + "/200", 0, OutcomeOK},
		{up.URL + "/400", 0, OutcomeClientError},
		{up.URL + "/503", 0, OutcomeServerError},
		{up.URL + "/slow", 20 * time.Millisecond, OutcomeTimeout},
		{down.URL + "/200", 0, OutcomeError},
	} {
		ctx := context.Background()
		if tc.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, tc.timeout)
			defer cancel()
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tc.url, nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if n := testutil.CollectAndCount(m.upstream, "motlan_upstream_request_duration_seconds"); n == 0 {
			t.Fatal("no upstream series")
		}
		if tc.outcome == OutcomeOK {
			continue // not an error: the series count below checks it
		}
		if got := testutil.ToFloat64(m.upstreamErrors.WithLabelValues(UpstreamTSA, tc.outcome)); got != 1 {
			t.Errorf("%s: errors{outcome=%s} = %v, want 1", tc.url, tc.outcome, got)
		}
	}
	if n := testutil.CollectAndCount(m.upstream); n != 5 {
		t.Errorf("upstream duration series: %d, want one per outcome (5)", n)
	}
	if n := testutil.CollectAndCount(m.upstreamErrors); n != 4 {
		t.Errorf("upstream error series: %d, want 4 (every outcome but ok)", n)
	}
	var nilM *Metrics
	if nilM.Transport(UpstreamTSA, http.DefaultTransport) != http.DefaultTransport {
		t.Error("a nil Metrics wraps the transport")
	}
	nilM.Upstream(UpstreamHSM, OutcomeOK, time.Now()) // no panic
}
