package integration

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/motlan/motlan/account"
	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/signing"
)

var (
	reMeSession = regexp.MustCompile(`action="/me/sessions/([0-9a-f]+)/end"`)
	// reMeSessionRow: a session's row; group 1 is set for this device's.
	reMeSessionRow = regexp.MustCompile(`(?s)<li class="item session"( data-current="true")?>.*?action="/me/sessions/([0-9a-f]+)/end"`)
	reMeCSRF       = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
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
	rc := newLogoutReceiver(t)
	s := newStackWith(t, driver, false, func(c *config.Config) { c.Clients[0].BackchannelLogoutURI = rc.URL + "/backchannel-logout" })

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

	// Hảo herself declines the pending request from /me, then ends her session: it is gone
	// for her browser, and the portal, which had tokens in it, gets a logout token.
	if st := post(hao.b, "/me/signing/"+pending+"/reject", haoCSRF); st != http.StatusSeeOther {
		t.Errorf("Hảo declines her pending request: %d, want 303", st)
	}
	if st := hao.wait(t, s, pending); st.Status != "rejected" {
		t.Errorf("after declining on /me: %q, want rejected", st.Status)
	}
	if n := rc.count(); n != 0 {
		t.Fatalf("%d logout tokens before any session ended", n)
	}
	// Every approval has its own eID login, so Hảo has several sessions; she ends them
	// all, this device's last (its end logs this browser out).
	for _, m := range reMeSessionRow.FindAllStringSubmatch(again, -1) {
		if m[1] == "" {
			if st := post(hao.b, "/me/sessions/"+m[2]+"/end", haoCSRF); st != http.StatusSeeOther {
				t.Errorf("Hảo ends her session %s: %d, want 303", m[2], st)
			}
		}
	}
	if m := reMeSessionRow.FindAllStringSubmatch(again, -1); len(m) == 0 {
		t.Fatal("Hảo's /me lists no session")
	}
	for _, m := range reMeSessionRow.FindAllStringSubmatch(again, -1) {
		if m[1] != "" {
			if st := post(hao.b, "/me/sessions/"+m[2]+"/end", haoCSRF); st != http.StatusSeeOther {
				t.Errorf("Hảo ends this device's session: %d, want 303", st)
			}
		}
	}
	if loc := location(t, hao.b.get(s.issuer+"/me")); !strings.HasPrefix(loc.String(), s.issuer+"/stepup") {
		t.Errorf("/me after ending the session redirects to %s, want a new login", loc)
	}
	if got := rc.wait(); len(got) != 1 {
		t.Errorf("%d logout tokens after the session ended, want 1 (the portal's)", len(got))
	}
}

// TestAccountRevokeThenSign: after the citizen revokes the certificate on /me ("mất điện
// thoại"), OCSP answers revoked at once, and the next signing request, approved after a
// fresh level-2 login, signs with a new key under a new certificate.
func TestAccountRevokeThenSign(t *testing.T) {
	s := newStack(t, "sqlite")
	title := "Tờ khai đăng ký khai sinh"
	hao := newSigningPortal(t, s)
	first, approvalURL := hao.request(t, s, "first", title)
	hao.approve(t, approvalURL, title)
	if st := hao.wait(t, s, first); st.Status != "signed" {
		t.Fatalf("status %q (%s), want signed", st.Status, st.Failure)
	}
	serial1 := signerSerial(t, s, hao, first)

	st, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: s.storage.DSN.Value})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, csrf := s.meLogin(t, hao.b, haoCCCD)
	var x account.Export
	if err := json.Unmarshal([]byte(body(t, hao.b.get(s.issuer+"/me/data.json"))), &x); err != nil || x.Certificate == nil || x.Certificate.Serial != serial1.Text(16) {
		t.Fatalf("export before the revocation: certificate %+v, %v; want serial %x", x.Certificate, err, serial1)
	}
	_, _, pub1, err := st.GetSealedKey(t.Context(), signing.CitizenKeyLabel(x.Citizen.ID))
	if err != nil {
		t.Fatal(err)
	}

	resp := hao.b.postForm(s.issuer+"/me/certificate/revoke", url.Values{"csrf": {csrf}, "lang": {"vi"}})
	if loc := location(t, resp); loc.Path != "/me" || loc.Query().Get("done") != "revoked" {
		t.Fatalf("revoke redirected to %s", loc)
	}
	issuing := fetchCert(t, s.issuer+"/ca/issuing.crt")
	if revoked, why := ocspRevoked(t, s, issuing, serial1); !revoked {
		t.Fatalf("OCSP right after the revocation on /me: %s", why)
	}

	second, approvalURL := hao.request(t, s, "second", title)
	hao.approve(t, approvalURL, title)
	if st := hao.wait(t, s, second); st.Status != "signed" {
		t.Fatalf("signing after the revocation: %q (%s), want signed with a new key", st.Status, st.Failure)
	}
	if serial2 := signerSerial(t, s, hao, second); serial2.Cmp(serial1) == 0 {
		t.Error("the second signature uses the revoked certificate")
	}
	// The old key stays sealed in the vault, unused; the new one has the next epoch's label.
	_, _, pub2, err := st.GetSealedKey(t.Context(), signing.CitizenKeyLabel(x.Citizen.ID)+"/1")
	if err != nil || bytes.Equal(pub1, pub2) {
		t.Errorf("the citizen's key after the revocation: %v, same key %v", err, bytes.Equal(pub1, pub2))
	}
}
