package integration

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/testhsm"
	"github.com/motlan/motlan/internal/testrssp"
)

// scrape reads the admin listener's /metrics into series ("name{labels}") and values.
func scrape(t *testing.T, s *stack) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.run.AdminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw := body(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, raw)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(raw))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetrics scrapes the admin listener after a login, a signing and a rate-limit
// refusal: the motlan_* series exist under their documented names and labels, their
// values moved, and no label carries a request id. The signing is at B-LT with the key in
// an HSM (SoftHSM2), so the eID, TSA, OCSP and HSM upstream series all move.
func TestMetrics(t *testing.T) {
	module := testhsm.Module(t)
	s := newStackWith(t, "sqlite", false, func(c *config.Config) {
		c.Admin.Listen = "127.0.0.1:0"
		c.RateLimits.Verify.PerClient = &config.RateLimit{Limit: 1, Window: config.Duration(time.Minute)}
		c.Signing.Vault = config.Vault{Type: "pkcs11", Module: module, TokenLabel: testhsm.TokenLabel,
			PIN: config.Secret{Value: testhsm.PIN}}
	})
	for _, path := range []string{"/healthz", "/readyz", "/debug/pprof/"} {
		resp, err := http.Get("http://" + s.run.AdminAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		if raw := body(t, resp); resp.StatusCode != http.StatusOK {
			t.Errorf("admin %s: %d %s", path, resp.StatusCode, raw)
		}
	}
	if resp, err := http.Get(s.issuer + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the public port: %v %v, want 404", resp.StatusCode, err)
	}
	before := scrape(t, s)
	// The public /metrics probe is labelled "unmatched", not by its path.
	if before[`motlan_http_requests_total{code="404",route="unmatched"}`] < 1 {
		t.Error("a request no route matched is not counted as unmatched")
	}

	p := newSigningPortal(t, s) // a level-2 login, then a client_credentials token
	title := "Tờ khai đăng ký khai sinh"
	id, approvalURL := p.requestAt(t, s, "metrics-1", "B-LT", title)
	p.approve(t, approvalURL, title)
	if st := p.wait(t, s, id); st.Status != "signed" {
		t.Fatalf("signing: %+v", st)
	}
	for range 2 { // the second is over the verify limit of 1
		resp, err := p.api.Post(s.issuer+"/signing/v1/verify", "application/pdf", bytes.NewReader(onePagePDF("verify")))
		if err != nil {
			t.Fatal(err)
		}
		body(t, resp)
	}
	after := scrape(t, s)

	moved := []struct {
		series string
		by     float64 // at least
	}{
		{`motlan_logins_total{level="2",outcome="success"}`, 1},
		{`motlan_http_requests_total{code="201",route="POST /signing/v1/requests"}`, 1},
		{`motlan_http_requests_total{code="200",route="GET /signing/v1/requests/{id}"}`, 1},
		{`motlan_http_request_duration_seconds_count{route="/token"}`, 2},
		{`motlan_signing_requests{state="signed"}`, 1},
		{`motlan_rate_limit_rejections_total{scope="verify"}`, 1},
		// upstream calls: the login's token and userinfo calls at the eID, the signing's
		// time-stamps, OCSP response and HSM signature
		{`motlan_upstream_request_duration_seconds_count{outcome="ok",upstream="eid"}`, 2},
		{`motlan_upstream_request_duration_seconds_count{outcome="ok",upstream="tsa"}`, 1},
		{`motlan_upstream_request_duration_seconds_count{outcome="ok",upstream="ocsp"}`, 1},
		{`motlan_upstream_request_duration_seconds_count{outcome="ok",upstream="hsm"}`, 1},
		{`motlan_upstream_request_duration_seconds_bucket{outcome="ok",upstream="tsa",le="10"}`, 1},
		// store latency by operation class
		{`motlan_store_operation_duration_seconds_count{class="read"}`, 1},
		{`motlan_store_operation_duration_seconds_count{class="tx"}`, 1},
	}
	for _, m := range moved {
		if got := after[m.series] - before[m.series]; got < m.by {
			t.Errorf("%s moved by %v, want at least %v", m.series, got, m.by)
		}
	}
	present := []string{
		`motlan_signing_requests{state="pending"}`, `motlan_audit_pending_records`, `motlan_audit_pending_oldest_seconds`,
		`motlan_store_scrape_errors_total`, `motlan_stored_document_bytes`,
		`motlan_retention_purged_total{what="documents"}`, `motlan_retention_purged_total{what="requests"}`,
	}
	for _, name := range present {
		if _, ok := after[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	var build, pools bool
	for series, v := range after {
		if strings.Contains(series, id) {
			t.Errorf("a label carries the signing request id: %s", series)
		}
		build = build || (strings.HasPrefix(series, "motlan_build_info{") && v == 1)
		pools = pools || strings.HasPrefix(series, `go_sql_open_connections{db_name="motlan_store_writer"}`)
	}
	if !build || !pools {
		t.Errorf("motlan_build_info = 1: %v; writer pool stats: %v", build, pools)
	}
}

// TestUpstreamMetricsCSC: remote signing at a CA's CSC service is timed, and a failing
// service is counted as an upstream error by outcome.
func TestUpstreamMetricsCSC(t *testing.T) {
	s, r, _ := rsspStack(t, "{cccd}", func(c *config.Config) { c.Admin.Listen = "127.0.0.1:0" })
	p := newSigningPortal(t, s)
	before := scrape(t, s)
	title := "Tờ khai đăng ký khai sinh"
	_, approvalURL := p.requestDossier(t, s, "metrics-csc-ok", "B-T", title)
	if st, page := p.approvePage(t, approvalURL, url.Values{"pin": {"135790"}}); st != http.StatusOK || !strings.Contains(page, "Đã ký xong") {
		t.Fatalf("approve: %d\n%s", st, page)
	}
	_, approvalURL = p.requestDossier(t, s, "metrics-csc-down", "B-T", title)
	_ = body(t, p.b.get(approvalURL))
	r.Fail(testrssp.Down5xx)
	defer r.Fail("")
	p.approvePage(t, approvalURL, url.Values{"pin": {"135790"}})
	after := scrape(t, s)
	for _, m := range []struct {
		series string
		by     float64
	}{
		{`motlan_upstream_request_duration_seconds_count{outcome="ok",upstream="csc"}`, 2}, // authorize, signHash
		{`motlan_upstream_request_duration_seconds_count{outcome="server_error",upstream="csc"}`, 1},
		{`motlan_upstream_errors_total{outcome="server_error",upstream="csc"}`, 1},
	} {
		if got := after[m.series] - before[m.series]; got < m.by {
			t.Errorf("%s moved by %v, want at least %v", m.series, got, m.by)
		}
	}
}
