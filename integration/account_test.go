package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/motlan/motlan/adapters/vneid/sim"
)

var (
	reMeSession = regexp.MustCompile(`action="/me/sessions/([0-9a-f]+)/end"`)
	reMeCSRF    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// meLogin opens /me in b: with a Motlan session it is the page; without one, the level-2
// step-up login at the eID first. It returns the page and its CSRF token.
func (s *stack) meLogin(t *testing.T, b *browser, cccd string) (page, csrf string) {
	t.Helper()
	resp := b.get(s.issuer + "/me")
	for range 8 {
		if resp.StatusCode == http.StatusOK {
			break
		}
		loc := location(t, resp)
		if !loc.IsAbs() {
			loc = must(url.Parse(s.issuer)).ResolveReference(loc)
		}
		if isEID(s, loc) {
			cb, err := sim.Login(t.Context(), b.client, loc.String(), cccd, sim.DevPassword)
			if err != nil {
				t.Fatalf("eID login: %v", err)
			}
			loc = cb
		}
		resp = b.get(loc.String())
	}
	page = body(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/me" {
		t.Fatalf("/me: %d at %s: %.300s", resp.StatusCode, resp.Request.URL, page)
	}
	m := reMeCSRF.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("/me has no CSRF token:\n%.2000s", page)
	}
	return page, m[1]
}

// TestAccountIsolation: one citizen's /me never reaches another citizen's signing
// requests, signed documents, sessions or consents; every such id answers 404, as an id
// that does not exist does. Actions need the CSRF token of the citizen's own page.
func TestAccountIsolation(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) { testAccountIsolation(t, driver) })
	}
}

func testAccountIsolation(t *testing.T, driver string) {
	s := newStack(t, driver)

	// Hảo signs one request and leaves another pending.
	title := "Tờ khai đăng ký khai sinh"
	hao := newSigningPortal(t, s)
	signed, approvalURL := hao.request(t, s, "signed", title)
	hao.approve(t, approvalURL, title)
	if st := hao.wait(t, s, signed); st.Status != "signed" {
		t.Fatalf("status %q (%s), want signed", st.Status, st.Failure)
	}
	pending, _ := hao.request(t, s, "pending", title)
	haoPage, haoCSRF := s.meLogin(t, hao.b, haoCCCD)
	for _, want := range []string{signed, pending, "Cổng Dịch vụ công", `data-status="pending"`, `href="/me/documents/` + signed + `/0"`} {
		if !strings.Contains(haoPage, want) {
			t.Errorf("Hảo's /me lacks %q", want)
		}
	}
	haoSessions := reMeSession.FindAllStringSubmatch(haoPage, -1)
	if len(haoSessions) == 0 {
		t.Fatal("Hảo's /me lists no session")
	}
	if resp := hao.b.get(s.issuer + "/me/documents/" + signed + "/0"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(body(t, resp), "%PDF-") {
		t.Fatalf("Hảo's own signed document: %d", resp.StatusCode)
	}

	// Lĩnh logs in to the portal and opens his own page.
	linh := newBrowser(t)
	a := s.portal.authorize([]string{"openid", "profile"})
	s.login(t, linh, a, linhCCCD, "allow")
	linhPage, linhCSRF := s.meLogin(t, linh, linhCCCD)
	for _, leak := range []string{signed, pending, "Lê Công Hảo", haoSessions[0][1]} {
		if strings.Contains(linhPage, leak) {
			t.Errorf("Lĩnh's /me shows Hảo's %q", leak)
		}
	}

	post := func(b *browser, path, csrf string) int {
		t.Helper()
		resp := b.postForm(s.issuer+path, url.Values{"csrf": {csrf}, "lang": {"vi"}})
		body(t, resp)
		return resp.StatusCode
	}
	get := func(b *browser, path string) int {
		t.Helper()
		resp := b.get(s.issuer + path)
		body(t, resp)
		return resp.StatusCode
	}
	for _, tc := range []struct {
		what   string
		status int
		want   int
	}{
		{"Hảo's signed document", get(linh, "/me/documents/"+signed+"/0"), http.StatusNotFound},
		{"its verification report", get(linh, "/me/documents/"+signed+"/0/report"), http.StatusNotFound},
		{"an unknown request's document", get(linh, "/me/documents/no-such-request/0"), http.StatusNotFound},
		{"Hảo's pending request, rejected", post(linh, "/me/signing/"+pending+"/reject", linhCSRF), http.StatusNotFound},
		{"an unknown request, rejected", post(linh, "/me/signing/no-such-request/reject", linhCSRF), http.StatusNotFound},
		{"Hảo's session, ended", post(linh, "/me/sessions/"+haoSessions[0][1]+"/end", linhCSRF), http.StatusNotFound},
		{"a consent Lĩnh never gave, withdrawn", post(linh, "/me/consents/bhyt/withdraw", linhCSRF), http.StatusNotFound},
		{"Hảo's CSRF token on Lĩnh's session", post(linh, "/me/consents/portal/withdraw", haoCSRF), http.StatusForbidden},
		{"no CSRF token", post(linh, "/me/consents/portal/withdraw", ""), http.StatusForbidden},
		{"revocation without a certificate", post(linh, "/me/certificate/revoke", linhCSRF), http.StatusNotFound},
	} {
		if tc.status != tc.want {
			t.Errorf("Lĩnh: %s: %d, want %d", tc.what, tc.status, tc.want)
		}
	}

	// Nothing of Hảo's moved: the pending request waits, the session and consent stand.
	resp, err := hao.api.Get(s.issuer + "/signing/v1/requests/" + pending)
	if err != nil {
		t.Fatal(err)
	}
	var st requestStatus
	if err := json.Unmarshal([]byte(body(t, resp)), &st); err != nil || st.Status != "pending" {
		t.Errorf("Hảo's pending request: %q %v, want still pending", st.Status, err)
	}
	again, _ := s.meLogin(t, hao.b, haoCCCD)
	if !strings.Contains(again, `data-client="portal"`) || !strings.Contains(again, haoSessions[0][1]) {
		t.Error("Hảo's consent or session went after Lĩnh's attempts")
	}

	// The page's headers: the same CSP as every page, no framing, no caching; and a
	// browser without a session is sent to the eID, not shown anything.
	resp = hao.b.get(s.issuer + "/me")
	body(t, resp)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") ||
		!strings.Contains(csp, "form-action 'self'") || resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("/me headers: %v", resp.Header)
	}
	anon := newBrowser(t)
	if loc := location(t, anon.get(s.issuer+"/me")); !strings.HasPrefix(loc.String(), s.issuer+"/stepup") {
		t.Errorf("/me without a session redirects to %s, want the step-up login", loc)
	}
	if st := post(anon, "/me/delete", linhCSRF); st != http.StatusForbidden {
		t.Errorf("delete without a session: %d, want 403", st)
	}
}
