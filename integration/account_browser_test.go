package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/motlan/motlan/account"
	"github.com/motlan/motlan/examples/portal"
	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/testenv"
)

// logoutReceiver is a relying party's back-channel logout endpoint: it keeps every
// logout token posted to it.
type logoutReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	tokens []string
}

func newLogoutReceiver(t *testing.T) *logoutReceiver {
	rc := &logoutReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.tokens = append(rc.tokens, r.PostFormValue("logout_token"))
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *logoutReceiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.tokens)
}

// wait returns the tokens received once there is at least one, or after 10 s.
func (rc *logoutReceiver) wait() []string {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		rc.mu.Lock()
		n := len(rc.tokens)
		rc.mu.Unlock()
		if n > 0 {
			break
		}
	}
	time.Sleep(300 * time.Millisecond) // the other sessions' tokens, sent concurrently
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.tokens)
}

// startChromium starts Debian's Chromium headless, off the network, as TestBrowserJourney does.
func startChromium(t *testing.T, budget time.Duration) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, "chromium at %s (Debian package chromium): %v", chromiumPath, err)
	}
	root, cancelRoot := context.WithTimeout(context.Background(), budget)
	t.Cleanup(cancelRoot)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(root,
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"), chromedp.Flag("no-pings", true),
		chromedp.Flag("password-store", "basic"), chromedp.Flag("lang", "en-US"), chromedp.WindowSize(1280, 800),
	)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return browserCtx
}

func artifactsDir(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	if a := os.Getenv("MOTLAN_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { t.Logf("screenshots in %s", dir) })
	return dir
}

// newPortalWithBackchannel is newPortalWithMotlan with the portal client registered
// for back-channel logout at rc.
func newPortalWithBackchannel(t *testing.T, rc *logoutReceiver) portalWithMotlan {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	s := newStackWith(t, "sqlite", false, func(c *config.Config) {
		c.Clients[0].RedirectURIs = append(c.Clients[0].RedirectURIs, srv.URL+"/callback")
		c.Clients[0].PostLogoutRedirectURIs = append(c.Clients[0].PostLogoutRedirectURIs, srv.URL+"/")
		c.Clients[0].BackchannelLogoutURI = rc.URL + "/backchannel-logout"
	})
	p, err := portal.New(context.Background(), portal.Config{
		Issuer: s.issuer, ClientID: s.portal.id, ClientSecret: s.portal.secret, RedirectURL: srv.URL + "/callback",
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	return portalWithMotlan{s: s, url: srv.URL}
}

// fetchText downloads u with the tab's cookies, as following the page's download link
// does (the page's CSP rightly lets no script of its own fetch anything).
func fetchText(b *tab, step, u string) string {
	b.t.Helper()
	if !strings.HasPrefix(u, "http") {
		loc := run(b, step+": location", chromedp.Location())
		u = must(url.Parse(loc)).ResolveReference(must(url.Parse(u))).String()
	}
	got, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		b.t.Fatalf("%s: cookies: %v", step, err)
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for _, c := range got.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
	text := body(b.t, resp)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("%s: %s: %d %.300s", step, u, resp.StatusCode, text)
	}
	if step == "download data" && !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
		b.t.Errorf("%s: Content-Disposition %q, want an attachment", step, resp.Header.Get("Content-Disposition"))
	}
	return text
}

// meShot saves a full-page JPEG of a phone page: /me is long, and a PNG of it at the
// phone's pixel ratio is slow to encode on a busy machine.
func meShot(b *tab, step string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
	if err != nil {
		b.t.Errorf("%s: screenshot %s: %v", b.name, step, err)
		return
	}
	*b.seq++
	if err := os.WriteFile(filepath.Join(b.shots, fmt.Sprintf("%02d-%s-%s.jpg", *b.seq, b.name, step)), img, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", step, err)
	}
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

var khaiSinhTitles = []string{"Tờ khai đăng ký khai sinh", "Tờ khai đăng ký thường trú", "Tờ khai tham gia bảo hiểm y tế"}

// TestBrowserAccount drives /me in Chromium on a phone: Hảo logs in to the demo portal
// and signs the birth bundle; on the phone, after signing, "Dữ liệu của tôi" opens /me,
// which shows the portal with the released claims and the three signed documents with
// their verification; she withdraws the portal's consent (its refresh token then fails
// with invalid_grant and its back-channel logout receiver gets a logout token), revokes
// her certificate (OCSP and the CRL say revoked), downloads her data as JSON (checked
// field by field) and deletes it; her next login starts from an empty record.
func TestBrowserAccount(t *testing.T) {
	rc := newLogoutReceiver(t)
	pm := newPortalWithBackchannel(t, rc)
	s := pm.s
	browserCtx := startChromium(t, 8*time.Minute)
	shots := artifactsDir(t, "account")
	seq := 0
	desk := newTab(t, browserCtx, "me-desktop", shots, &seq)
	phone := newTab(t, browserCtx, "me-phone", shots, &seq)
	for _, b := range []*tab{desk, phone} {
		if err := chromedp.Do(b.ctx); err != nil {
			t.Fatalf("%s: open tab: %v", b.name, err)
		}
	}
	desk.do("emulate desktop", desk.watch.install(), chromedp.EmulateViewport(1280, 800))
	phone.do("emulate phone", phone.watch.install(), chromedp.Emulate(device.IPhone12))
	t.Cleanup(func() {
		for _, b := range []*tab{desk, phone} {
			b.watch.mu.Lock()
			for _, e := range b.watch.errs {
				t.Logf("%s console: %s", b.name, e)
			}
			for _, e := range b.watch.csp {
				t.Errorf("%s: CSP violation: %s", b.name, e)
			}
			b.watch.mu.Unlock()
		}
	})

	// ---- The portal: login, consent, the birth bundle, Ký số. ----
	desk.do("portal home", chromedp.Navigate(pm.url+"/"), chromedp.WaitVisible(chromedp.ID("login-vneid")))
	if href := run(desk, "my data link", chromedp.Evaluate[string](`document.getElementById('my-data').href`)); href != s.issuer+"/me?lang=vi" {
		t.Errorf("portal's Dữ liệu của tôi link %q, want %s/me?lang=vi", href, s.issuer)
	}
	if text := strings.TrimSpace(run(desk, "my data text", chromedp.Text(chromedp.ID("my-data")))); text != "Dữ liệu của tôi" {
		t.Errorf("portal's link reads %q", text)
	}
	desk.press("login", chromedp.CSS("#login-vneid"), false)
	desk.eidLogin("login", haoCCCD, false)
	desk.do("consent page", chromedp.WaitVisible(chromedp.CSS(`button[name="action"][value="allow"]`)))
	desk.press("allow", `button[name="action"][value="allow"]`, false)
	desk.do("dossier", chromedp.WaitVisible(chromedp.ID("claim-name")))
	pilotJourneys()[0].fill(desk) // the birth bundle, filled as the journey test does
	desk.press("Tiếp tục", "#continue", false)
	desk.do("preview page", chromedp.WaitVisible(chromedp.ID("preview-title")))
	desk.pressBesidePDFs("Ký số", "#sign")
	approvalURL := desk.signingPage(false)

	// The portal as a relying party also holds a refresh token for Hảo (offline access).
	gb := newBrowser(t)
	a := s.portal.authorize([]string{"openid", "profile", "offline_access"})
	cb, _, _ := s.login(t, gb, a, haoCCCD, "allow")
	tok, idt := s.portal.redeem(t, s, a, cb)
	if tok.RefreshToken == "" {
		t.Fatalf("no refresh token for the portal (scope %v)", tok.Extra("scope"))
	}
	// Both work before the withdrawal (the refresh rotates: the new one is kept).
	st, out := s.tokenCall(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, s.portal.id, s.portal.secret)
	refresh, _ := out["refresh_token"].(string)
	access, _ := out["access_token"].(string)
	if st != http.StatusOK || refresh == "" || userinfoStatus(t, s, access) != http.StatusOK {
		t.Fatalf("the portal's tokens before the withdrawal: %d %v", st, out)
	}

	// ---- The phone: sign, then "Dữ liệu của tôi". ----
	phone.do("open approval link", chromedp.Navigate(approvalURL))
	phone.eidLogin("sign", haoCCCD, true)
	phone.press("sign all", `button[name="action"][value="approve"]`, true)
	phone.do("signed", chromedp.WaitVisible(chromedp.CSS(`h1.done`)))
	if text := strings.TrimSpace(run(phone, "my data link", chromedp.Text(chromedp.ID("my-data")))); text != "Dữ liệu của tôi" {
		t.Errorf("approval page's link reads %q", text)
	}
	meShot(phone, "signed")
	phone.press("Dữ liệu của tôi", "#my-data", true)
	phone.do("/me", chromedp.WaitVisible(chromedp.ID("shared")))
	meShot(phone, "me")
	checkMePage(t, phone)

	phone.press("show values", "#show-values", true)
	phone.do("values", chromedp.WaitVisible(chromedp.CSS(`#shared dd[data-claim="name"]`)))
	if v := strings.TrimSpace(run(phone, "name value", chromedp.Text(chromedp.CSS(`#shared dd[data-claim="name"]`)))); v != "Lê Công Hảo" {
		t.Errorf("current value of name %q, want Lê Công Hảo", v)
	}
	meShot(phone, "me-values")
	phone.press("English", "#lang-switch", true)
	phone.do("/me in English", chromedp.WaitVisible(chromedp.CSS(`#shared dd[data-claim="name"]`)))
	if h := strings.TrimSpace(run(phone, "English heading", chromedp.Text(chromedp.CSS("h1")))); h != "My data" {
		t.Errorf("English heading %q", h)
	}
	meShot(phone, "me-english")
	phone.press("Tiếng Việt", "#lang-switch", true)
	phone.do("/me in Vietnamese", chromedp.WaitVisible(chromedp.ID("shared")))
	if h := strings.TrimSpace(run(phone, "Vietnamese heading", chromedp.Text(chromedp.CSS("h1")))); h != "Dữ liệu của tôi" {
		t.Errorf("Vietnamese heading %q", h)
	}
	// Every control is a tap target of at least 44 px.
	if small := run(phone, "tap targets", chromedp.Evaluate[[]string](`[...document.querySelectorAll('main a, main button, main input, header a')].map(e => e.closest('label') || e).filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 44).map(e => e.outerHTML.slice(0, 80))`)); len(small) != 0 {
		t.Errorf("tap targets under 44 px: %q", small)
	}

	// ---- Withdraw the portal's consent. ----
	phone.press("withdraw", `.consent[data-client="portal"] button.withdraw`, true)
	phone.do("withdrawn", chromedp.WaitVisible(chromedp.ID("notice")))
	meShot(phone, "me-withdrawn")
	if n := run(phone, "consents left", chromedp.Evaluate[int](`document.querySelectorAll('.consent[data-client="portal"]').length`)); n != 0 {
		t.Errorf("the portal's consent is still listed")
	}
	st, out = s.tokenCall(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, s.portal.id, s.portal.secret)
	wantOAuthError(t, "the portal's refresh token after the withdrawal", st, out, http.StatusBadRequest, "invalid_grant")
	if st := userinfoStatus(t, s, access); st != http.StatusUnauthorized {
		t.Errorf("the portal's access token after the withdrawal: userinfo %d, want 401", st)
	}
	checkLogoutTokens(t, s, rc.wait(), idt)

	// ---- Revoke the certificate ("mất điện thoại"). ----
	serialHex := strings.TrimSpace(run(phone, "serial", chromedp.Text(chromedp.ID("cert-serial"))))
	serial, ok := new(big.Int).SetString(serialHex, 16)
	if !ok {
		t.Fatalf("certificate serial %q", serialHex)
	}
	if name := strings.TrimSpace(run(phone, "cert name", chromedp.Text(chromedp.ID("cert-name")))); name != "Lê Công Hảo" {
		t.Errorf("certificate name %q", name)
	}
	if cccd := strings.TrimSpace(run(phone, "cert cccd", chromedp.Text(chromedp.ID("cert-cccd")))); cccd != haoCCCD[:3]+"••••••"+haoCCCD[9:] {
		t.Errorf("certificate CCCD shown as %q, want it masked", cccd)
	}
	phone.press("revoke", "#revoke-cert", true)
	// The withdrawal's notice is still on the page until the revocation's answer replaces
	// it: wait for the page without the revoke button, then read the notice.
	phone.do("revoked", chromedp.WaitNotPresent(chromedp.ID("revoke-cert")), chromedp.WaitVisible(chromedp.ID("notice")))
	if n := strings.TrimSpace(run(phone, "revoked notice", chromedp.Text(chromedp.ID("notice")))); n != "Đã thu hồi chứng thư chữ ký số." {
		t.Errorf("notice after the revocation %q", n)
	}
	meShot(phone, "me-revoked")
	issuing := fetchCert(t, s.issuer+"/ca/issuing.crt")
	if revoked, why := ocspRevoked(t, s, issuing, serial); !revoked {
		t.Errorf("OCSP right after the revocation: %s", why)
	}
	if revoked, why := crlRevokes(t, s, issuing, serial); !revoked {
		t.Errorf("CRL right after the revocation: %s", why)
	}

	// ---- Download the data. ----
	raw := fetchText(phone, "download data", s.issuer+"/me/data.json")
	var x account.Export
	if err := json.Unmarshal([]byte(raw), &x); err != nil {
		t.Fatalf("data.json: %v\n%.500s", err, raw)
	}
	checkExport(t, s, x)
	oldID := x.Citizen.ID

	// ---- Delete. ----
	phone.press("confirm", "#delete-confirm", true)
	phone.press("delete", "#delete", true)
	phone.do("deleted", chromedp.WaitVisible(chromedp.ID("message")))
	meShot(phone, "deleted")
	if h := strings.TrimSpace(run(phone, "deleted heading", chromedp.Text(chromedp.CSS("#message h1")))); h != "Đã xóa dữ liệu" {
		t.Errorf("after deletion: %q", h)
	}

	// A new login starts from an empty record.
	phone.do("open /me again", chromedp.Navigate(s.issuer+"/me"))
	phone.eidLogin("relogin", haoCCCD, true)
	phone.do("/me after deletion", chromedp.WaitVisible(chromedp.ID("shared")))
	meShot(phone, "me-after-deletion")
	for sel, want := range map[string]int{"#shared .portal": 0, ".consent": 0, ".request": 0, "#cert-serial": 0, ".session": 1} {
		if n := run(phone, sel, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`)); n != want {
			t.Errorf("after deletion and a new login: %d of %s, want %d", n, sel, want)
		}
	}
	var y account.Export
	if err := json.Unmarshal([]byte(fetchText(phone, "download again", s.issuer+"/me/data.json")), &y); err != nil {
		t.Fatal(err)
	}
	if y.Citizen.ID == oldID || len(y.Consents) != 0 || len(y.Releases) != 0 || len(y.SigningRequests) != 0 || y.Certificate != nil {
		t.Errorf("after deletion the new record is not empty: id %s (old %s), %d consents, %d releases, %d signing requests, certificate %v",
			y.Citizen.ID, oldID, len(y.Consents), len(y.Releases), len(y.SigningRequests), y.Certificate)
	}
	for _, a := range y.Audit {
		if a.Actor != "citizen:"+y.Citizen.ID {
			t.Errorf("new record's export holds another actor's audit entry %+v", a)
		}
	}
}

// checkMePage checks /me right after signing: the portal with its released claims, the
// consent, this session, the three signed documents with their verification and
// retention date, and the certificate.
func checkMePage(t *testing.T, b *tab) {
	t.Helper()
	if name := strings.TrimSpace(run(b, "portal name", chromedp.Text(chromedp.CSS(`#shared .portal[data-client="portal"] .portal-name`)))); name != "Cổng Dịch vụ công" {
		t.Errorf("shared with %q, want Cổng Dịch vụ công", name)
	}
	claims := run(b, "claims", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#shared .portal[data-client="portal"] [data-claim]')].map(e => e.dataset.claim)`))
	for _, want := range []string{"name", "birthdate", "address", "phone_number", "cccd"} {
		if !slices.Contains(claims, want) {
			t.Errorf("released claims %q lack %s", claims, want)
		}
	}
	if n := run(b, "consent", chromedp.Evaluate[int](`document.querySelectorAll('.consent[data-client="portal"] button.withdraw').length`)); n != 1 {
		t.Errorf("%d withdraw buttons for the portal, want 1", n)
	}
	if n := run(b, "current session", chromedp.Evaluate[int](`document.querySelectorAll('.session[data-current="true"]').length`)); n != 1 {
		t.Errorf("%d current sessions, want 1", n)
	}
	type doc struct{ Title, Href, Indication, Signer string }
	docs := run(b, "signed documents", chromedp.Evaluate[[]doc](`[...document.querySelectorAll('.request[data-status="signed"] li.doc')].map(li => ({
		Title: (li.querySelector('a.download') || {}).textContent || '', Href: (li.querySelector('a.download') || {getAttribute: () => ''}).getAttribute('href'),
		Indication: li.dataset.indication || '', Signer: (li.querySelector('.signer') || {}).textContent || ''}))`))
	if len(docs) != len(khaiSinhTitles) {
		t.Fatalf("/me lists %d signed documents, want %d: %+v", len(docs), len(khaiSinhTitles), docs)
	}
	for i, d := range docs {
		if d.Title != khaiSinhTitles[i] || d.Indication != "TOTAL_PASSED" || d.Signer != "Lê Công Hảo" || d.Href == "" {
			t.Errorf("signed document %d: %+v", i, d)
		}
	}
	kept := strings.TrimSpace(run(b, "kept until", chromedp.Text(chromedp.CSS(`.request[data-status="signed"] .kept-until`))))
	want := "Tài liệu đã ký được lưu đến " + time.Now().Add(time.Duration(config.DefaultRetentionDocuments)).In(time.FixedZone("ICT", 7*3600)).Format("02/01/2006")
	if kept != want {
		t.Errorf("retention line %q, want %q", kept, want)
	}
	pdf := fetchText(b, "download a signed document", docs[0].Href)
	if !strings.HasPrefix(pdf, "%PDF-") {
		t.Errorf("signed document download starts %.10q", pdf)
	}
	if !strings.Contains(run(b, "cert status", chromedp.Text(chromedp.ID("cert-status"))), "Đang hiệu lực") {
		t.Error("certificate not shown as valid")
	}
}

// checkLogoutTokens: the portal's receiver got logout tokens signed by Motlan, for the
// portal, for Hảo, with the back-channel logout event.
func checkLogoutTokens(t *testing.T, s *stack, tokens []string, idt *oidc.IDToken) {
	t.Helper()
	if len(tokens) == 0 {
		t.Fatal("the portal's back-channel logout receiver got no logout token after the withdrawal")
	}
	provider, err := oidc.NewProvider(context.Background(), s.issuer)
	if err != nil {
		t.Fatal(err)
	}
	v := provider.Verifier(&oidc.Config{ClientID: s.portal.id, SupportedSigningAlgs: []string{"ES256", "RS256"}})
	for _, raw := range tokens {
		lt, err := v.Verify(context.Background(), raw)
		if err != nil {
			t.Errorf("logout token: %v", err)
			continue
		}
		var c struct {
			Sid    string                    `json:"sid"`
			Events map[string]map[string]any `json:"events"`
		}
		if err := lt.Claims(&c); err != nil || c.Sid == "" || lt.Subject != idt.Subject {
			t.Errorf("logout token sid %q sub %q (ID token sub %q): %v", c.Sid, lt.Subject, idt.Subject, err)
		}
		if _, ok := c.Events[idp.BackchannelLogoutEvent]; !ok {
			t.Errorf("logout token events %v", c.Events)
		}
	}
	t.Logf("back-channel: %d logout tokens for the portal's sessions", len(tokens))
}

// checkExport checks the JSON download field by field.
func checkExport(t *testing.T, s *stack, x account.Export) {
	t.Helper()
	c := x.Citizen
	if c.ID == "" || c.CCCD != haoCCCD || c.Issuer != s.eid.URL || c.CreatedAt.IsZero() {
		t.Errorf("citizen %s cccd %s issuer %s created %v", c.ID, c.CCCD, c.Issuer, c.CreatedAt)
	}
	name := c.Attributes["name"]
	if string(name.Value) != `"Lê Công Hảo"` || name.Source != s.eid.URL || name.Level != 2 || !name.Verified || name.VerifiedAt.IsZero() {
		t.Errorf("attribute name: %+v", name)
	}
	for _, k := range []string{"birthdate", "address", "phone_number"} {
		if a, ok := c.Attributes[k]; !ok || len(a.Value) == 0 || a.Level != 2 {
			t.Errorf("attribute %s: %+v", k, a)
		}
	}
	if len(x.Consents) != 0 {
		t.Errorf("consents after the withdrawal: %+v", x.Consents)
	}
	released := false
	for _, r := range x.Releases {
		if r.ClientID == "portal" && r.ClientName == "Cổng Dịch vụ công" && slices.Contains(r.Claims, "name") && !r.At.IsZero() && (r.Via == "id_token" || r.Via == "userinfo") {
			released = true
		}
	}
	if !released {
		t.Errorf("no release of name to the portal in %+v", x.Releases)
	}
	current := 0
	for _, ss := range x.Sessions {
		if ss.Current {
			current++
		}
		if ss.ACR != "2" || ss.ExpiresAt.Before(ss.CreatedAt) {
			t.Errorf("session %+v", ss)
		}
	}
	if current != 1 {
		t.Errorf("%d current sessions in %+v", current, x.Sessions)
	}
	if len(x.SigningRequests) != 1 {
		t.Fatalf("signing requests %+v, want the one signed", x.SigningRequests)
	}
	r := x.SigningRequests[0]
	if r.ClientID != "portal" || r.ClientName != "Cổng Dịch vụ công" || r.Status != "signed" || !r.KeptUntil.Equal(r.UpdatedAt.Add(time.Duration(config.DefaultRetentionDocuments))) || len(r.Documents) != len(khaiSinhTitles) {
		t.Errorf("signing request %+v", r)
	}
	for i, d := range r.Documents {
		if i < len(khaiSinhTitles) && (d.Title != khaiSinhTitles[i] || len(d.SHA256) != 64 || d.SignedAt.IsZero() || d.Pages < 1) {
			t.Errorf("document %d: %+v", i, d)
		}
	}
	if x.Certificate != nil {
		t.Errorf("certificate %+v after the revocation, want none in use", x.Certificate)
	}
	kinds := map[string]bool{}
	for _, a := range x.Audit {
		kinds[a.Kind] = true
		if a.Actor != "citizen:"+c.ID || a.Seq == 0 || len(a.Details) == 0 {
			t.Errorf("audit entry %+v", a)
		}
	}
	for _, k := range []string{account.KindConsentWithdraw, "certificate.revoke", "signing.approve"} {
		if !kinds[k] {
			t.Errorf("audit entries lack %s: %v", k, kinds)
		}
	}
	if x.GeneratedAt.IsZero() {
		t.Error("generated_at missing")
	}
}
