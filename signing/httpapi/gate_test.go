package httpapi

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/signing"
)

// bound is an env with sole control on (as the server always runs).
func bound(t *testing.T, mod ...func(*Config)) *env {
	return newEnv(t, append([]func(*Config){func(c *Config) { c.AcceptUnboundLogin = false }}, mod...)...)
}

// ticketPath opens the link as a browser would and returns the path the step-up login
// would come back to (the page with its ticket).
func ticketPath(t *testing.T, e *env, id, sid string) string {
	t.Helper()
	resp, body := e.page("GET", "/sign/"+id, sid, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("opening %s: %d, want the step-up redirect: %.300s", id, resp.StatusCode, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("return")
}

// TestSoleControl: a login made before the link was opened (at the portal, or for another
// request) never shows the page or approves; one made after it does, and the ticket is
// bound to its request.
func TestSoleControl(t *testing.T) {
	e := bound(t)
	r := e.pending("r1")
	e.pending("r2")
	e.session("earlier", citizenA, "2", 30*time.Second) // a level-2 login half a minute ago

	ret := ticketPath(t, e, "r1", "earlier") // a fresh login is demanded even so
	if !regexp.MustCompile(`^/sign/r1\?t=[A-Za-z0-9_-]{32}$`).MatchString(ret) {
		t.Fatalf("return path %q", ret)
	}
	e.clock.Add(2 * time.Second)
	if resp, _ := e.page("GET", ret, "earlier", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a login older than the link showed the page: %d", resp.StatusCode)
	}
	e.session("for-r1", citizenA, "2", 0) // the eID login made for this link
	resp, body := e.page("GET", ret, "for-r1", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bound login: %d %s", resp.StatusCode, body)
	}
	tk := strings.TrimPrefix(ret, "/sign/r1?t=")
	contains(t, body, `href="/sign/r1/documents/0?lang=vi&amp;t=`+tk+`"`, `href="/sign/r1?t=`+tk+`&amp;lang=en"`)
	f := shownForm(t, body)
	f.Set("action", "approve")

	// The same ticket for another request, or a forged one, is refused.
	for _, p := range []string{"/sign/r2?t=" + tk, "/sign/r1?t=" + tk[:31] + "A", "/sign/r1?t=x"} {
		if resp, _ := e.page("GET", p, "for-r1", nil); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("%s: %d, want a new login", p, resp.StatusCode)
		}
	}
	// The form posted from a browser whose login predates the link is refused too.
	if resp, _ := e.page("POST", "/sign/r1", "earlier", f); resp.StatusCode != http.StatusForbidden {
		t.Errorf("post with an older login: %d", resp.StatusCode)
	}
	resp, body = e.page("POST", "/sign/r1", "for-r1", f)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Đã ký xong") && !strings.Contains(body, "Đang ký") {
		t.Fatalf("approve with the bound login: %d %s", resp.StatusCode, body)
	}
	_ = r
	// A ticket lives FreshLogin + FormTTL: then the link asks again.
	e.clock.Add(21 * time.Minute)
	e.pending("r3")
	ret3 := ticketPath(t, e, "r3", "")
	e.clock.Add(21 * time.Minute)
	e.session("late", citizenA, "2", 0)
	if resp, _ := e.page("GET", ret3, "late", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("an expired ticket showed the page: %d", resp.StatusCode)
	}
}

// TestLinkBeforeLogin: a link that no longer waits says why without any login, each
// with its own sentence; a pending one goes to the login.
func TestLinkBeforeLogin(t *testing.T) {
	e := bound(t)
	for _, id := range []string{"sup", "can", "exp", "sig", "rej", "wait"} {
		e.pending(id)
	}
	ctx := context.Background()
	if _, err := e.svc.Cancel(ctx, portal, "sup", signing.CancelSuperseded); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cancel(ctx, portal, "can", ""); err != nil {
		t.Fatal(err)
	}
	e.svc.update("exp", func(r *signing.Request) { r.Status = signing.StatusExpired })
	e.svc.update("sig", func(r *signing.Request) { r.Status = signing.StatusSigned })
	e.svc.update("rej", func(r *signing.Request) { r.Status = signing.StatusRejected })
	tests := []struct{ id, lang, want string }{
		{"sup", "vi", "Yêu cầu này đã được thay bằng yêu cầu mới"},
		{"sup", "en", "This request was replaced by a newer one"},
		{"can", "vi", "Dịch vụ đã rút lại yêu cầu ký này"},
		{"exp", "vi", "Yêu cầu ký này đã hết hạn"},
		{"sig", "vi", "Yêu cầu ký này đã được trả lời"},
		{"rej", "en", "has already been answered"},
	}
	for _, tc := range tests {
		resp, body := e.page("GET", "/sign/"+tc.id+"?lang="+tc.lang, "", nil)
		if resp.StatusCode != http.StatusGone || !strings.Contains(body, tc.want) || strings.Contains(body, "Tờ khai") {
			t.Errorf("%s (%s): %d, want 410 with %q:\n%s", tc.id, tc.lang, resp.StatusCode, tc.want, body)
		}
		wantPageHeaders(t, resp)
	}
	if resp, _ := e.page("GET", "/sign/wait", "", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("pending link: %d, want the login", resp.StatusCode)
	}
	// The superseded request cannot be approved, even with a form from before.
	e.session("a", citizenA, "2", 0)
	f := url.Values{"action": {"approve"}, "csrf": {e.api.csrfToken("sup", citizenA, e.clock.Now(), e.clock.Now().Add(-time.Second))},
		"hash": {strings.Repeat("0", 64), strings.Repeat("0", 64)}}
	if resp, _ := e.page("POST", "/sign/sup", "a", f); resp.StatusCode == http.StatusOK {
		t.Error("a superseded request was approved")
	}
}

// TestWrongAccountSwitch: logged in (for this link) as someone else, the citizen gets a
// button to a new eID login rather than a dead end.
func TestWrongAccountSwitch(t *testing.T) {
	e := bound(t)
	e.pending("r1")
	ret := ticketPath(t, e, "r1", "")
	e.session("b", "cit-B", "2", 0)
	resp, body := e.page("GET", ret, "b", nil)
	if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "Tờ khai") {
		t.Fatalf("wrong account: %d %s", resp.StatusCode, body)
	}
	contains(t, body, "Yêu cầu dành cho người khác", "Đăng nhập bằng tài khoản khác")
	link := regexp.MustCompile(`class="btn primary" href="([^"]+)"`).FindStringSubmatch(body)
	if link == nil {
		t.Fatal("no switch button")
	}
	wantStepUp(t, e, html.UnescapeString(link[1]), "vi")
}

// TestReturnURL: return_url is accepted only on the client's registered origins (and
// loopback in development), kept, and the result page's button goes there.
func TestReturnURL(t *testing.T) {
	e := bound(t, func(c *Config) {
		c.ReturnOrigins = ReturnOrigins{portal: OriginsOf([]string{"https://dvc.thanhhoa.gov.vn/callback"})}
	})
	create := func(ru string) *http.Response {
		hdr, body := form(t, field("subject", "s"), field("return_url", ru), file("a.pdf", pdf("a")))
		return e.do("POST", "/signing/v1/requests", tokPortal, hdr, body)
	}
	decodeReq(t, create("https://dvc.thanhhoa.gov.vn/ho-so/7"), http.StatusCreated)
	if got := e.svc.inputs[len(e.svc.inputs)-1].ReturnURL; got != "https://dvc.thanhhoa.gov.vn/ho-so/7" {
		t.Errorf("return URL passed as %q", got)
	}
	for _, bad := range []string{"https://evil.example/", "http://dvc.thanhhoa.gov.vn/x", "http://localhost:8082/",
		"javascript:alert(1)", "https://user@dvc.thanhhoa.gov.vn/", "/relative"} {
		p := wantProblem(t, create(bad), http.StatusBadRequest, ProblemInvalidRequest)
		if p.Field != "return_url" {
			t.Errorf("%s: field %q", bad, p.Field)
		}
	}
	dev := bound(t, func(c *Config) { c.DevReturn = true })
	hdr, body := form(t, field("subject", "s"), field("return_url", "http://localhost:8082/ho-so"), file("a.pdf", pdf("a")))
	decodeReq(t, dev.do("POST", "/signing/v1/requests", tokPortal, hdr, body), http.StatusCreated)

	r := e.pending("r1")
	e.svc.update("r1", func(r *signing.Request) { r.ReturnURL = "https://dvc.thanhhoa.gov.vn/ho-so/7?b=1&c=2" })
	ret := ticketPath(t, e, r.ID, "")
	e.session("a", citizenA, "2", 0)
	_, page := e.page("GET", ret, "a", nil)
	f := shownForm(t, page)
	f.Set("action", "reject")
	resp, page := e.page("POST", "/sign/r1", "a", f)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reject: %d %s", resp.StatusCode, page)
	}
	contains(t, page, `id="return" href="https://dvc.thanhhoa.gov.vn/ho-so/7?b=1&amp;c=2"`, "Quay lại trang dịch vụ")
}

// TestCancelReason: cancel takes an optional JSON reason; a bad body is a problem.
func TestCancelReason(t *testing.T) {
	e := bound(t)
	e.pending("r1")
	e.pending("r2")
	hdr := http.Header{"Content-Type": {"application/json"}}
	got := decodeReq(t, e.do("POST", "/signing/v1/requests/r1/cancel", tokPortal, hdr, strings.NewReader(`{"reason":"superseded"}`)), http.StatusOK)
	if got.Status != signing.StatusCanceled || got.CancelReason != "superseded" {
		t.Errorf("cancel: %+v", got)
	}
	wantProblem(t, e.do("POST", "/signing/v1/requests/r2/cancel", tokPortal, hdr, strings.NewReader(`{"reason":`)), http.StatusBadRequest, ProblemInvalidRequest)
	if got := decodeReq(t, e.do("POST", "/signing/v1/requests/r2/cancel", tokPortal, nil, nil), http.StatusOK); got.CancelReason != "" {
		t.Errorf("cancel without a body has reason %q", got.CancelReason)
	}
}

type fakeRenderer struct{ calls int }

func (f *fakeRenderer) Page(_ context.Context, sum string, pdf []byte, page int) ([]byte, error) {
	f.calls++
	return append([]byte("\x89PNG\r\n\x1a\n"), pdf...), nil
}
func (f *fakeRenderer) MaxPages() int { return 5 }

// TestPageImages: the page shows each page as an image linked full size, served only
// with the page's own login; without a renderer, a sentence and the PDF link.
func TestPageImages(t *testing.T) {
	fr := &fakeRenderer{}
	e := bound(t, func(c *Config) { c.Render = fr })
	e.pending("r1")
	ret := ticketPath(t, e, "r1", "")
	tk := strings.TrimPrefix(ret, "/sign/r1?t=")
	e.session("a", citizenA, "2", 0)
	_, page := e.page("GET", ret, "a", nil)
	img := "/sign/r1/documents/0/pages/2?lang=vi&amp;t=" + tk
	contains(t, page, `<a href="`+img+`"`, `<img src="`+img+`" alt="Trang 2"`, `/sign/r1/documents/1/pages/1?lang=vi&amp;t=`+tk)
	if strings.Contains(page, "/sign/r1/documents/1/pages/2") {
		t.Error("an image of a page the document does not have")
	}
	resp, body := e.page("GET", html.UnescapeString(img), "a", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || !strings.Contains(body, "to khai r1") {
		t.Fatalf("image: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	wantPageHeaders(t, resp)
	e.session("b", "cit-B", "2", 0)
	for name, c := range map[string]struct{ path, sid string }{
		"no login":      {"/sign/r1/documents/0/pages/1?t=" + tk, ""},
		"no ticket":     {"/sign/r1/documents/0/pages/1", "a"},
		"other citizen": {"/sign/r1/documents/0/pages/1?t=" + tk, "b"},
		"past the end":  {"/sign/r1/documents/1/pages/2?t=" + tk, "a"},
		"not a number":  {"/sign/r1/documents/0/pages/x?t=" + tk, "a"},
		"no such doc":   {"/sign/r1/documents/9/pages/1?t=" + tk, "a"},
		"page zero":     {"/sign/r1/documents/0/pages/0?t=" + tk, "a"},
	} {
		if resp, _ := e.page("GET", c.path, c.sid, nil); resp.StatusCode == http.StatusOK {
			t.Errorf("%s: served an image", name)
		}
	}

	plain := bound(t)
	plain.pending("r1")
	ret = ticketPath(t, plain, "r1", "")
	plain.session("a", citizenA, "2", 0)
	_, page = plain.page("GET", ret, "a", nil)
	contains(t, page, "Máy chủ này chưa hiển thị được ảnh từng trang", "Xem tài liệu (PDF)")
}

// TestBranding: the deployment's name, logo and colour are on the pages, Motlan only in
// the small print; a logo on another site is allowed by the CSP.
func TestBranding(t *testing.T) {
	e := bound(t, func(c *Config) {
		c.Branding = Branding{Name: "Cổng Dịch vụ công tỉnh Thanh Hóa", NameEN: "Thanh Hoa Public Services",
			Logo: "https://cdn.thanhhoa.gov.vn/logo.png", Primary: "#0b5394"}
	})
	e.pending("r1")
	e.svc.update("r1", func(r *signing.Request) { r.Status = signing.StatusExpired })
	resp, body := e.page("GET", "/sign/r1", "", nil)
	contains(t, body, "<title>Cổng Dịch vụ công tỉnh Thanh Hóa – Ký số tài liệu</title>", "<b>Cổng Dịch vụ công tỉnh Thanh Hóa</b>",
		`<img src="https://cdn.thanhhoa.gov.vn/logo.png" alt="">`, "--c:#0b5394", `<p class="small">Ký số và xác thực qua Motlan</p>`)
	if strings.Count(body, "Motlan") != 1 {
		t.Errorf("Motlan appears %d times, want only the small print", strings.Count(body, "Motlan"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://cdn.thanhhoa.gov.vn;") {
		t.Errorf("CSP %q lacks the logo's origin", csp)
	}
	_, en := e.page("GET", "/sign/r1?lang=en", "", nil)
	contains(t, en, "<b>Thanh Hoa Public Services</b>")
	if !ValidColor("#abc") || ValidColor("red;}") || ValidColor("#12345") {
		t.Error("ValidColor")
	}
}

// TestStepUpPurpose: the eID login for an approval says which portal asks to sign how
// many documents; nothing for other paths or a request that no longer waits.
func TestStepUpPurpose(t *testing.T) {
	e := bound(t)
	e.pending("r1")
	e.pending("r2")
	ctx := context.Background()
	if got, want := e.api.StepUpPurpose(ctx, "/sign/r1?t=abc", "vi"), "Cổng Dịch vụ công tỉnh đề nghị bạn ký số 2 tài liệu. Đăng nhập định danh điện tử để xem và ký."; got != want {
		t.Errorf("vi: %q, want %q", got, want)
	}
	if got := e.api.StepUpPurpose(ctx, "/sign/r1", "en"); !strings.HasPrefix(got, "Cổng Dịch vụ công tỉnh asks you to sign 2 documents.") {
		t.Errorf("en: %q", got)
	}
	if _, err := e.svc.Cancel(ctx, portal, "r2", ""); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/sign/r2", "/sign/nope", "/me", "/sign/r1/documents/0", "/sign/"} {
		if got := e.api.StepUpPurpose(ctx, p, "vi"); got != "" {
			t.Errorf("%s: %q, want none", p, got)
		}
	}
}
