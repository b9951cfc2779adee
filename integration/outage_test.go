package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/testpg"
)

// outageCall is one request a relying party makes, and what it answers while the
// database is down.
type outageCall struct {
	name     string
	do       func() *http.Response
	downType string // content type while down; the body's error or problem type is checked
	downCode string // OAuth error code or problem type while down
}

// TestStoreOutage stops a PostgreSQL server of the test's own under a running Motlan:
// /readyz turns false and back; the token endpoint, userinfo, introspection, revocation and the signing API answer 503
// with Retry-After (temporarily_unavailable, or the service-unavailable problem; never
// 401 for a valid token, never 500); once the database is back, the same calls succeed
// without restarting Motlan.
func TestStoreOutage(t *testing.T) {
	pg := testpg.StartOwn(t)
	s := newStackWith(t, "postgres", false, func(c *config.Config) {
		c.Storage.DSN = config.Secret{Value: pg.DSN}
		c.Admin.Listen = "127.0.0.1:0"
	})
	ready := func(want int) {
		t.Helper()
		var status int
		var raw string
		for deadline := time.Now().Add(5 * time.Second); status != want && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			resp, err := http.Get("http://" + s.run.AdminAddr + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			raw, status = body(t, resp), resp.StatusCode
		}
		if status != want {
			t.Fatalf("/readyz: %d %s, want %d", status, raw, want)
		}
		if want != http.StatusOK && !strings.Contains(raw, "store: unavailable") {
			t.Errorf("/readyz while the database is down: %q does not name the store", raw)
		}
	}
	ready(http.StatusOK)
	b := newBrowser(t)
	a := s.portal.authorize([]string{"openid", "profile", "offline_access"})
	cb, _, _ := s.login(t, b, a, haoCCCD, "allow")
	tok, _ := s.portal.redeem(t, s, a, cb)
	p := newSigningPortal(t, s)
	id, approvalURL := p.request(t, s, "outage-1", "Tờ khai đăng ký khai sinh")

	form := func(path string, v url.Values, user, pass string) func() *http.Response {
		return func() *http.Response {
			req, _ := http.NewRequest(http.MethodPost, s.issuer+path, strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(user, pass)
			return do(t, http.DefaultClient, req)
		}
	}
	calls := []outageCall{
		{"token refresh", form("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, s.portal.id, s.portal.secret),
			"application/json", "temporarily_unavailable"},
		{"userinfo", func() *http.Response {
			req, _ := http.NewRequest(http.MethodGet, s.issuer+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			return do(t, http.DefaultClient, req)
		}, "application/json", "temporarily_unavailable"},
		{"introspect", form("/introspect", url.Values{"token": {tok.AccessToken}}, s.portal.id, s.portal.secret),
			"application/json", "temporarily_unavailable"},
		{"signing status", func() *http.Response {
			req, _ := http.NewRequest(http.MethodGet, s.issuer+"/signing/v1/requests/"+id, nil)
			return do(t, p.api, req)
		}, "application/problem+json", "https://motlan.vn/problems/service-unavailable"},
	}
	pg.Stop()
	ready(http.StatusServiceUnavailable)
	if resp, err := http.Get(s.issuer + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("public /healthz (liveness) while the database is down: %v, %v", resp.StatusCode, err)
	}
	for _, c := range calls {
		resp := c.do()
		raw := body(t, resp)
		var got struct{ Error, Type string }
		_ = json.Unmarshal([]byte(raw), &got)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.downType) ||
			got.Error+got.Type != c.downCode {
			t.Errorf("%s while the database is down: %d %s %s, want 503 %s", c.name, resp.StatusCode, resp.Header.Get("Content-Type"), raw, c.downCode)
		}
		retryAfter(t, resp)
	}
	// Pages: the browser with a session at /authorize, the phone at the approval page.
	// Both go on without the store (to the eID, to the step-up login), or answer 503;
	// never another 5xx.
	for name, u := range map[string]string{"authorize": s.portal.authorize([]string{"openid", "profile"}).url, "approval page": approvalURL} {
		resp := b.get(u)
		if raw := body(t, resp); resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s while the database is down: %d %.300s, want no 5xx but 503", name, resp.StatusCode, raw)
		}
	}
	pg.Start()
	ready(http.StatusOK)
	for _, c := range calls {
		resp := c.do()
		if raw := body(t, resp); resp.StatusCode != http.StatusOK {
			t.Errorf("%s after the database is back: %d %s", c.name, resp.StatusCode, raw)
		}
	}
}

func do(t *testing.T, c *http.Client, req *http.Request) *http.Response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return resp
}
