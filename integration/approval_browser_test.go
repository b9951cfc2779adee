package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"

	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/testenv"
)

// brandName is the deployment's name the approval pages carry.
const brandName = "Cổng Dịch vụ công tỉnh Thanh Hóa"

// approvalBench is Motlan (SQLite) with its dev eID asking for consent, a deployment
// brand, a portal whose return page is served locally, and one Chromium.
type approvalBench struct {
	s       *stack
	p       *signingPortal
	back    string // the portal's return page (return_url)
	browser context.Context
	shots   string
	seq     int
}

func newApprovalBench(t *testing.T) *approvalBench {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, "chromium at %s (Debian package chromium): %v", chromiumPath, err)
	}
	ret := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="vi"><meta charset="utf-8"><title>Hồ sơ</title><h1 id="portal-back">Hồ sơ của tôi</h1></html>`)
	}))
	t.Cleanup(ret.Close)
	s := newStackEID(t, "sqlite", false, func(c *sim.Config) { c.AskConsent = true }, func(c *config.Config) {
		c.Branding = config.Branding{Name: brandName, Colors: config.BrandingColors{Primary: "#0b5394"}}
		// The portal's return page is on one of its registered origins.
		c.Clients[0].RedirectURIs = append(c.Clients[0].RedirectURIs, ret.URL+"/callback")
	})
	b := &approvalBench{s: s, p: newSigningPortal(t, s), back: ret.URL + "/ho-so/7", shots: t.TempDir()}
	if dir := os.Getenv("MOTLAN_ARTIFACTS"); dir != "" {
		b.shots = filepath.Join(dir, "approval-browser")
		if err := os.MkdirAll(b.shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root, cancelRoot := context.WithTimeout(context.Background(), 9*time.Minute)
	t.Cleanup(cancelRoot)
	alloc, cancelAlloc := chromedp.NewExecAllocator(root,
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("password-store", "basic"),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b.browser = ctx
	return b
}

// phone opens a phone-sized tab with its own cookies (a new browser session).
func (b *approvalBench) phone(t *testing.T, name string) *tab {
	t.Helper()
	ph := newTab(t, b.browser, name, b.shots, &b.seq)
	if err := chromedp.Do(ph.ctx); err != nil {
		t.Fatalf("%s: open tab: %v", name, err)
	}
	ph.do("emulate phone", ph.watch.install(), chromedp.Emulate(device.IPhone12))
	return ph
}

// request creates a signing request of one dossier PDF per title for Lê Công Hảo, with
// the portal's return_url; extra form fields (ttl) may be added.
func (b *approvalBench) request(t *testing.T, extra map[string]string, titles ...string) (id, approvalURL string) {
	t.Helper()
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("subject", b.p.subject)
	_ = mw.WriteField("reason", "Đăng ký khai sinh cho con")
	_ = mw.WriteField("return_url", b.back)
	for k, v := range extra {
		_ = mw.WriteField(k, v)
	}
	for _, title := range titles {
		_ = mw.WriteField("title", title)
		fw, _ := mw.CreateFormFile("document", "to-khai.pdf")
		_, _ = fw.Write(onePagePDF("To khai " + title[:4]))
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.s.issuer+"/signing/v1/requests", &form)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := b.p.api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID          string `json:"id"`
		ApprovalURL string `json:"approval_url"`
		ReturnURL   string `json:"return_url"`
	}
	if raw := body(t, resp); resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(raw), &created) != nil || created.ReturnURL != b.back {
		t.Fatalf("create: %d %s", resp.StatusCode, raw)
	}
	return created.ID, created.ApprovalURL
}

// cancel withdraws a request through the signing API, with a reason when not "".
func (b *approvalBench) cancel(t *testing.T, id, reason string) {
	t.Helper()
	var body0 *strings.Reader
	if reason != "" {
		body0 = strings.NewReader(`{"reason":"` + reason + `"}`)
	} else {
		body0 = strings.NewReader("")
	}
	req, _ := http.NewRequest(http.MethodPost, b.s.issuer+"/signing/v1/requests/"+id+"/cancel", body0)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.p.api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if raw := body(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(raw, `"cancel_reason":"`+reason+`"`) && reason != "" {
		t.Fatalf("cancel %s: %d %s", id, resp.StatusCode, raw)
	}
}

// login is the dev eID's level-2 login (tab.eidLogin without its screenshots: a slow
// screenshot on a loaded machine is not a failure of what is tested here).
func (ph *tab) login(cccd string) {
	ph.t.Helper()
	ph.do("eID password page", chromedp.WaitVisible(chromedp.CSS(`main[data-stage="password"] #cccd`)))
	ph.typeInto("type CCCD", "cccd", cccd)
	ph.typeInto("type password", "password", sim.DevPassword)
	ph.press("submit password", `main[data-stage="password"] button[value="login"]`, true)
	ph.do("eID OTP page", chromedp.WaitVisible(chromedp.CSS(`main[data-stage="otp"] #dev-otp`)))
	otp := strings.TrimSpace(run(ph, "read dev OTP", chromedp.Text(chromedp.ID("dev-otp"))))
	ph.typeInto("type OTP", "otp", otp)
	ph.press("submit OTP", `main[data-stage="otp"] button[value="otp"]`, true)
}

// pressAndLoad presses sel and waits until a new document has replaced the page.
func (ph *tab) pressAndLoad(step, sel string) {
	ph.t.Helper()
	run(ph, step+": mark the page", chromedp.Evaluate[int](`window.__motlanOld = true, 0`))
	ph.press(step, chromedp.CSS(sel), true)
	for range 150 {
		ctx, cancel := context.WithTimeout(ph.ctx, 2*time.Second)
		fresh, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.readyState === 'complete' && !window.__motlanOld`))
		cancel()
		if err == nil && fresh {
			return
		}
		time.Sleep(100 * time.Millisecond) // during the navigation the old context is gone
	}
	ph.t.Fatalf("%s: %s: no new page", ph.name, step)
}

// snap saves a screenshot as an artifact; failing to take one is logged, not a failure.
func (ph *tab) snap(step string) {
	ph.t.Helper()
	ctx, cancel := context.WithTimeout(ph.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
	if err != nil {
		ph.t.Logf("%s: screenshot %s: %v", ph.name, step, err)
		return
	}
	*ph.seq++
	if err := os.WriteFile(filepath.Join(ph.shots, fmt.Sprintf("%02d-%s-%s.png", *ph.seq, ph.name, step)), png, 0o644); err != nil {
		ph.t.Logf("screenshot %s: %v", step, err)
	}
}

// consent agrees on the dev eID's consent step.
func (ph *tab) consent(answer string) {
	ph.t.Helper()
	ph.press("eID consent: "+answer, chromedp.CSS(`main[data-stage="consent"] button[value="`+answer+`"]`), true)
}

// text is the visible text of the first element matching sel, once visible.
func (ph *tab) text(step, sel string) string {
	ph.t.Helper()
	ph.do(step, chromedp.WaitVisible(chromedp.CSS(sel)))
	return strings.TrimSpace(run(ph, step, chromedp.Text(chromedp.CSS(sel))))
}

func (ph *tab) url(step string) string {
	ph.t.Helper()
	return run(ph, step, chromedp.Location())
}

// TestApprovalOnPhone drives the phone's side of signing in Chromium (an iPhone-sized
// context): the eID login says who asks to sign what; the approval page is branded, shows
// each page as an image, has no tap target under 44 px; after approval a button goes back
// to the portal; a second request demands a new eID login right after the first; a wrong
// account can switch; links that no longer wait say so before any login; and each eID
// failure has its own sentence.
func TestApprovalOnPhone(t *testing.T) {
	b := newApprovalBench(t)
	// Created first, checked last: a link that has expired (its TTL is the minimum).
	_, expiredURL := b.request(t, map[string]string{"ttl": "1m"}, "Tờ khai hết hạn")
	expiresAt := time.Now().Add(time.Minute)

	t.Run("approve with page images and return", func(t *testing.T) { b.approveAndReturn(t) })
	t.Run("wrong account switches", func(t *testing.T) { b.wrongAccount(t) })
	t.Run("links that no longer wait", func(t *testing.T) { b.endedLinks(t, expiredURL, expiresAt) })
	t.Run("each eID failure has its own sentence", func(t *testing.T) { b.failures(t) })
}

func (b *approvalBench) approveAndReturn(t *testing.T) {
	_, first := b.request(t, nil, "Tờ khai đăng ký khai sinh", "Tờ khai đăng ký thường trú")
	ph := b.phone(t, "approve")
	ph.do("open the approval link", chromedp.Navigate(first))
	// The eID login says which portal asks to sign how many documents.
	if msg := ph.text("binding message", "#binding-message"); !strings.Contains(msg, "Cổng Dịch vụ công") || !strings.Contains(msg, "ký số 2 tài liệu") {
		t.Errorf("the eID login says %q, want the portal and 2 documents", msg)
	}
	ph.snap("eid-binding")
	ph.login(haoCCCD)
	ph.consent("allow")
	ph.do("approval page", chromedp.WaitVisible(chromedp.CSS(`button[name="action"][value="approve"]`)))
	if brand := ph.text("brand", "header b"); brand != brandName {
		t.Errorf("header brand %q, want %q", brand, brandName)
	}
	// Each document's page is shown as an image that loaded, linked full size.
	ph.do("page images", chromedp.WaitVisible(chromedp.CSS(`.pages img`)))
	// The images load lazily, as the citizen scrolls: scroll through them all.
	run(ph, "scroll through the pages", chromedp.Evaluate[int](`document.querySelectorAll('.pages img').forEach(i => i.loading = 'eager'), 0`))
	var imgs []int
	for range 50 {
		imgs = run(ph, "page images loaded", chromedp.Evaluate[[]int](`[...document.querySelectorAll('.pages img')].map(i => i.complete ? i.naturalWidth : -1)`))
		if !slices.Contains(imgs, -1) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(imgs) != 2 {
		t.Fatalf("%d page images, want one per page of the 2 one-page documents", len(imgs))
	}
	for i, w := range imgs {
		if w < 300 {
			t.Errorf("page image %d is %d px wide, want a drawn page", i, w)
		}
	}
	if n := run(ph, "zoom links", chromedp.Evaluate[int](`[...document.querySelectorAll('.pages a')].filter(a => a.href === a.querySelector('img').src).length`)); n != 2 {
		t.Errorf("%d page images open full size, want 2", n)
	}
	ph.smallTargets("approval page") // journey_test.go: fails the test for each one under 44 px
	ph.snap("approve-page")
	ph.press("tap approve", `button[name="action"][value="approve"]`, true)
	ph.do("result", chromedp.WaitVisible(chromedp.CSS(`#return`)))
	ph.smallTargets("result page")
	ph.snap("result")
	ph.press("tap back to the portal", `#return`, true)
	ph.do("portal page", chromedp.WaitVisible(chromedp.ID("portal-back")))
	if u := ph.url("portal URL"); u != b.back {
		t.Errorf("the return button went to %s, want %s", u, b.back)
	}

	// Right after that login, a second request still demands a new one at the eID.
	_, second := b.request(t, nil, "Tờ khai tham gia bảo hiểm y tế")
	ph.do("open the second link", chromedp.Navigate(second))
	ph.do("a new eID login", chromedp.WaitVisible(chromedp.CSS(`main[data-stage="password"] #cccd`)))
	ph.snap("second-link-login")
	ph.login(haoCCCD)
	ph.consent("allow")
	ph.do("second approval page", chromedp.WaitVisible(chromedp.CSS(`button[name="action"][value="approve"]`)))
	if len(ph.watch.csp) > 0 || len(ph.watch.errs) > 0 {
		t.Errorf("page problems: CSP %v, errors %v", ph.watch.csp, ph.watch.errs)
	}
}

func (b *approvalBench) wrongAccount(t *testing.T) {
	_, link := b.request(t, nil, "Tờ khai đăng ký khai sinh")
	ph := b.phone(t, "wrong-account")
	ph.do("open the link", chromedp.Navigate(link))
	ph.login(anhCCCD)
	ph.consent("allow")
	if msg := ph.text("wrong account page", `[data-status="wrong_account"] p`); !strings.Contains(msg, "tài khoản định danh điện tử của người khác") {
		t.Errorf("wrong account page says %q", msg)
	}
	ph.snap("wrong-account")
	ph.press("switch account", `[data-status="wrong_account"] a.btn`, true)
	ph.do("a new eID login", chromedp.WaitVisible(chromedp.CSS(`main[data-stage="password"] #cccd`)))
	ph.login(haoCCCD)
	ph.consent("allow")
	ph.do("approval page", chromedp.WaitVisible(chromedp.CSS(`button[name="action"][value="approve"]`)))
}

func (b *approvalBench) endedLinks(t *testing.T, expiredURL string, expiresAt time.Time) {
	superseded, supURL := b.request(t, nil, "Tờ khai cũ")
	b.cancel(t, superseded, "superseded")
	cancelled, canURL := b.request(t, nil, "Tờ khai bị rút")
	b.cancel(t, cancelled, "")
	_, usedURL := b.request(t, nil, "Tờ khai đã ký")
	b.p.approve(t, usedURL, "Tờ khai đã ký")
	if d := time.Until(expiresAt); d > 0 {
		time.Sleep(d + time.Second) // the 1-minute TTL, the shortest a request can have
	}
	for _, tc := range []struct{ name, link, status, says string }{
		{"superseded", supURL, "superseded", "Yêu cầu này đã được thay bằng yêu cầu mới"},
		{"cancelled", canURL, "canceled", "Dịch vụ đã rút lại yêu cầu ký này"},
		{"used", usedURL, "used", "Yêu cầu ký này đã được trả lời"},
		{"expired", expiredURL, "expired", "Yêu cầu ký này đã hết hạn"},
	} {
		ph := b.phone(t, "ended-"+tc.name) // no session at all
		ph.do("open "+tc.name, chromedp.Navigate(tc.link))
		msg := ph.text(tc.name+" page", `[data-status="`+tc.status+`"] p`)
		if !strings.Contains(msg, tc.says) {
			t.Errorf("%s link says %q, want %q", tc.name, msg, tc.says)
		}
		if u := ph.url(tc.name); !strings.HasPrefix(u, b.s.issuer+"/sign/") {
			t.Errorf("%s link went on to %s before saying so", tc.name, u)
		}
		ph.snap("ended-" + tc.name)
	}
}

func (b *approvalBench) failures(t *testing.T) {
	cases := []struct {
		name, key, says string
		fail            func(ph *tab)
	}{
		{"wrong password", "stepup_credentials", "sai mật khẩu hoặc mã xác thực quá nhiều lần", func(ph *tab) {
			for i := range 5 {
				ph.do(fmt.Sprintf("password page %d", i+1), chromedp.WaitVisible(chromedp.CSS(`main[data-stage="password"] #password`)))
				if run(ph, "CCCD kept", chromedp.Value(chromedp.ID("cccd"))) == "" {
					ph.typeInto("type CCCD", "cccd", haoCCCD)
				}
				ph.typeInto("type a wrong password", "password", "sai-mat-khau")
				ph.pressAndLoad("submit", `main[data-stage="password"] button[value="login"]`)
			}
		}},
		{"level too low", "level2_required", "Cần tài khoản định danh điện tử mức độ 2", func(ph *tab) {
			ph.do("password page", chromedp.WaitVisible(chromedp.CSS(`main[data-stage="password"] #cccd`)))
			ph.typeInto("type CCCD", "cccd", duongCCCD)
			ph.typeInto("type password", "password", sim.DevPassword)
			ph.press("submit", `main[data-stage="password"] button[value="login"]`, true)
			ph.press("back from the level page", `main[data-stage="insufficient"] button[value="cancel"]`, true)
		}},
		{"cancelled", "stepup_cancelled", "Bạn đã hủy đăng nhập định danh điện tử", func(ph *tab) {
			ph.press("cancel at the eID", `main[data-stage="password"] button[value="cancel"]`, true)
		}},
		{"consent refused", "stepup_consent", "không đồng ý chia sẻ thông tin định danh", func(ph *tab) {
			ph.login(haoCCCD)
			ph.consent("deny")
		}},
	}
	seen := map[string]string{}
	for _, tc := range cases {
		_, link := b.request(t, nil, "Tờ khai "+tc.name)
		ph := b.phone(t, "fail-"+strings.ReplaceAll(tc.name, " ", "-"))
		ph.do("open the link", chromedp.Navigate(link))
		tc.fail(ph)
		msg := ph.text(tc.name+" page", `[data-error="`+tc.key+`"] p`)
		if !strings.Contains(msg, tc.says) {
			t.Errorf("%s: the page says %q, want %q", tc.name, msg, tc.says)
		}
		if other, dup := seen[msg]; dup {
			t.Errorf("%s and %s end on the same sentence %q", tc.name, other, msg)
		}
		seen[msg] = tc.name
		ph.do("retry link", chromedp.WaitVisible(chromedp.ID("retry")))
		ph.smallTargets(tc.name + " page")
		ph.snap("fail")
	}
}
