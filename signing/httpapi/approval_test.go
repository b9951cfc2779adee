package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/signing"
)

func (e *env) page(method, path, sid string, form url.Values) (*http.Response, string) {
	e.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if sid != "" {
		req.AddCookie(&http.Cookie{Name: "sid", Value: sid})
	}
	resp, err := e.client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp, string(readAll(e.t, resp))
}

func wantPageHeaders(t *testing.T, r *http.Response) {
	t.Helper()
	h := r.Header
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") ||
		h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("security headers %v", h)
	}
}

var (
	reHidden = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`)
)

// shownForm is what the approval page's form would post.
func shownForm(t *testing.T, page string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range reHidden.FindAllStringSubmatch(page, -1) {
		v.Add(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("csrf") == "" {
		t.Fatalf("no form in page:\n%s", page)
	}
	return v
}

// reStepUpReturn is the approval page's step-up return path: the page with a fresh ticket
// (sole control, gate.go).
var reStepUpReturn = regexp.MustCompile(`^/sign/r1\?t=[A-Za-z0-9_-]{32}(&lang=en)?$`)

// wantStepUp checks that loc is the step-up login returning to r1's page with a ticket.
func wantStepUp(t *testing.T, e *env, loc, lang string) {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("step-up URL %q: %v", loc, err)
	}
	ret := u.Query().Get("return")
	if want := e.auth.StepUpURL(ret, lang); loc != want || !reStepUpReturn.MatchString(ret) || strings.HasSuffix(ret, "&lang=en") != (lang == "en") {
		t.Errorf("step-up %q (return %q), want the step-up back to /sign/r1 with a ticket in %s", loc, ret, lang)
	}
}

func TestApprovalStepUp(t *testing.T) {
	e := newEnv(t)
	e.pending("r1")
	e.session("none-level1", citizenA, "1", time.Minute)
	e.session("old", citizenA, "2", 6*time.Minute)
	e.session("fresh", citizenA, "2", time.Minute)
	tests := []struct {
		name, sid, path, lang string
	}{
		{"no session", "", "/sign/r1", "vi"},
		{"level 1", "none-level1", "/sign/r1", "vi"},
		{"older than 5 minutes", "old", "/sign/r1", "vi"},
		{"english", "old", "/sign/r1?lang=en", "en"},
		{"document view without session", "", "/sign/r1/documents/0", "vi"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The return path carries a ticket since logins are bound to the link.
			resp, _ := e.page("GET", tc.path, tc.sid, nil)
			if resp.StatusCode != http.StatusSeeOther {
				t.Errorf("%d, want 303", resp.StatusCode)
			}
			wantStepUp(t, e, resp.Header.Get("Location"), tc.lang)
		})
	}
	resp, _ := e.page("GET", "/sign/r1", "fresh", nil)
	if resp.StatusCode != 200 {
		t.Errorf("fresh session: %d", resp.StatusCode)
	}
}

func TestApprovalPage(t *testing.T) {
	e := newEnv(t)
	r := e.pending("r1")
	e.session("a", citizenA, "2", time.Minute)
	e.session("b", "cit-B", "2", time.Minute)

	resp, body := e.page("GET", "/sign/r1", "a", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	wantPageHeaders(t, resp)
	h := r.Documents[0].SHA256
	contains(t, body, `<html lang="vi">`, "Tờ khai đăng ký khai sinh", "Giấy chứng sinh", "Cổng Dịch vụ công tỉnh",
		"Đăng ký khai sinh cho con", "UBND phường Bến Thành", "2 trang", "1 trang",
		h[0:4]+" "+h[4:8]+" … "+h[56:60]+" "+h[60:64],
		"Ký tất cả (2 tài liệu)", "Từ chối", `href="/sign/r1/documents/0?lang=vi"`, `href="/sign/r1?lang=en"`,
		`action="/sign/r1"`, "15:15, 02/03/2026") // 08:00 UTC + 15 min, in UTC+7
	f := shownForm(t, body)
	if !slices.Equal(f["hash"], []string{r.Documents[0].SHA256, r.Documents[1].SHA256}) {
		t.Errorf("hidden hashes %v", f["hash"])
	}
	nonce := regexp.MustCompile(`<style nonce="([^"]+)">`).FindStringSubmatch(body)
	if nonce == nil || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "'nonce-"+nonce[1]+"'") {
		t.Errorf("style nonce not in CSP")
	}

	_, en := e.page("GET", "/sign/r1?lang=en", "a", nil)
	contains(t, en, `<html lang="en">`, "Sign all (2 documents)", "2 pages ·", "1 page ·", "Decline", "Tờ khai đăng ký khai sinh", "Tiếng Việt")

	// Another citizen sees nothing of it, and can log in as someone else (403 with the
	// switch button since the wrong account is no longer a dead end).
	resp, body = e.page("GET", "/sign/r1", "b", nil)
	if resp.StatusCode != 403 || strings.Contains(body, "Tờ khai") || !strings.Contains(body, "Đăng nhập bằng tài khoản khác") {
		t.Errorf("other citizen: %d", resp.StatusCode)
	}
	wantPageHeaders(t, resp)
	if resp, _ := e.page("GET", "/sign/nope", "a", nil); resp.StatusCode != 404 {
		t.Errorf("missing: %d", resp.StatusCode)
	}
}

func TestApprovalExpiryTime(t *testing.T) {
	if got := formatTime(time.Date(2026, 3, 2, 8, 15, 0, 0, time.UTC), "vi"); got != "15:15, 02/03/2026" {
		t.Errorf("vi %q", got)
	}
	if got := fingerprint("3f2a91c0" + strings.Repeat("0", 48) + "7be10042"); got != "3f2a 91c0 … 7be1 0042" {
		t.Errorf("fingerprint %q", got)
	}
}

func TestApprovePostsShownHashes(t *testing.T) {
	e := newEnv(t)
	e.pending("r1")
	e.session("a", citizenA, "2", time.Minute)
	_, body := e.page("GET", "/sign/r1", "a", nil)
	form := shownForm(t, body)
	form.Set("action", "approve")
	e.clock.Add(3 * time.Minute) // reading takes time; the login is now 4 minutes old

	resp, result := e.page("POST", "/sign/r1", "a", form)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, result)
	}
	wantPageHeaders(t, resp)
	contains(t, result, "Đã ký xong", "Tờ khai đăng ký khai sinh", "Giấy chứng sinh", "Đã ký lúc")
	if len(e.svc.approved) != 1 || !slices.Equal(e.svc.approved[0], form["hash"]) {
		t.Errorf("service approved %v, page showed %v", e.svc.approved, form["hash"])
	}

	// Posting again: the request no longer waits.
	resp, again := e.page("POST", "/sign/r1", "a", form)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(again, "không còn chờ") {
		t.Errorf("second approval: %d %s", resp.StatusCode, again)
	}
	// The page now shows the result.
	_, now := e.page("GET", "/sign/r1", "a", nil)
	contains(t, now, "Đã ký xong")
}

// The form's hashes, not re-read ones, are approved: documents changed after the page was
// shown make the approval fail.
func TestApproveUsesFormHashes(t *testing.T) {
	e := newEnv(t)
	e.pending("r1")
	e.session("a", citizenA, "2", time.Minute)
	_, body := e.page("GET", "/sign/r1", "a", nil)
	form := shownForm(t, body)
	form.Set("action", "approve")
	e.svc.mu.Lock()
	e.svc.reqs["r1"].Documents[1].SHA256 = hexSHA([]byte("swapped"))
	e.svc.mu.Unlock()

	resp, page := e.page("POST", "/sign/r1", "a", form)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "Tài liệu đã thay đổi") {
		t.Errorf("%d %s", resp.StatusCode, page)
	}
	if len(e.svc.approved) != 1 || !slices.Equal(e.svc.approved[0], form["hash"]) {
		t.Errorf("service got %v", e.svc.approved)
	}
	if e.svc.reqs["r1"].Status != signing.StatusPending {
		t.Error("signed despite the change")
	}
}

func TestReject(t *testing.T) {
	e := newEnv(t)
	e.pending("r1")
	e.session("a", citizenA, "2", time.Minute)
	_, body := e.page("GET", "/sign/r1?lang=en", "a", nil)
	form := shownForm(t, body)
	form.Set("action", "reject")
	resp, page := e.page("POST", "/sign/r1", "a", form)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, page)
	}
	contains(t, page, "Declined", `<html lang="en">`)
	_, vi := e.page("GET", "/sign/r1", "a", nil)
	contains(t, vi, "Đã từ chối")
	if e.svc.reqs["r1"].Status != signing.StatusRejected || len(e.svc.approved) != 0 {
		t.Error("not rejected")
	}
}

func TestApprovalCSRF(t *testing.T) {
	e := newEnv(t)
	e.pending("r1")
	e.pending("r2")
	e.session("a", citizenA, "2", time.Minute)
	e.session("a2", citizenA, "2", time.Minute) // the same citizen on another browser
	e.session("b", "cit-B", "2", time.Minute)
	_, body := e.page("GET", "/sign/r1", "a", nil)
	good := shownForm(t, body)
	good.Set("action", "approve")
	other := e.api.csrfToken("r1", "cit-B", e.clock.Now(), e.clock.Now())
	forR2 := e.api.csrfToken("r2", citizenA, e.clock.Now(), e.clock.Now())

	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vals := range good {
			f[key] = slices.Clone(vals)
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	tests := []struct {
		name  string
		form  url.Values
		later time.Duration
	}{
		{"no token", with("csrf", ""), 0},
		{"garbage", with("csrf", "abc"), 0},
		{"another citizen's token", with("csrf", other), 0},
		{"another request's token", with("csrf", forR2), 0},
		{"tampered", with("csrf", good.Get("csrf")[:len(good.Get("csrf"))-2]+"AA"), 0},
		{"expired form", good, 16 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Add(tc.later)
			defer e.clock.Add(-tc.later)
			e.session("a", citizenA, "2", time.Minute) // keep the login fresh
			resp, page := e.page("POST", "/sign/r1", "a", tc.form)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "Mở lại yêu cầu") {
				t.Errorf("%d %s", resp.StatusCode, page)
			}
			wantPageHeaders(t, resp)
		})
	}
	if len(e.svc.approved) != 0 {
		t.Fatalf("service called %d times", len(e.svc.approved))
	}
	// The token belongs to the citizen, not the cookie: another browser of theirs may post it.
	if resp, page := e.page("POST", "/sign/r1", "a2", good); resp.StatusCode != 200 {
		t.Errorf("%d %s", resp.StatusCode, page)
	}
}

func TestApprovalPostNeedsLogin(t *testing.T) {
	e := newEnv(t)
	e.pending("r1")
	e.session("a", citizenA, "2", time.Minute)
	_, body := e.page("GET", "/sign/r1", "a", nil)
	form := shownForm(t, body)
	form.Set("action", "approve")
	for name, sid := range map[string]string{"no session": "", "level 1": "l1", "stale": "stale"} {
		t.Run(name, func(t *testing.T) {
			e.session("l1", citizenA, "1", time.Minute)
			e.session("stale", citizenA, "2", 21*time.Minute)
			resp, page := e.page("POST", "/sign/r1", sid, form)
			link := regexp.MustCompile(`class="btn primary" href="([^"]+)"`).FindStringSubmatch(page)
			if resp.StatusCode != http.StatusForbidden || link == nil || !strings.Contains(page, "Đăng nhập lại") {
				t.Fatalf("%d %s", resp.StatusCode, page)
			}
			// with a ticket since logins are bound to the link
			wantStepUp(t, e, html.UnescapeString(link[1]), "vi")
		})
	}
	for _, f := range []url.Values{{"csrf": form["csrf"], "action": {"approve"}}, {"csrf": form["csrf"], "action": {"approve"}, "hash": {"xyz"}},
		{"csrf": form["csrf"], "action": {"maybe"}}} {
		if resp, _ := e.page("POST", "/sign/r1", "a", f); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("form %v: %d", f, resp.StatusCode)
		}
	}
	if len(e.svc.approved) != 0 {
		t.Fatal("service called")
	}
}

func TestApprovalStatuses(t *testing.T) {
	e := newEnv(t)
	e.session("a", citizenA, "2", time.Minute)
	for _, tc := range []struct {
		status signing.Status
		want   string
	}{
		{signing.StatusCanceled, "Yêu cầu đã bị hủy"}, {signing.StatusExpired, "Yêu cầu đã hết hạn"},
		{signing.StatusSigning, "Đang ký…"}, {signing.StatusFailed, "Không ký được"},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			e.svc.put(signing.Request{ID: "s" + string(tc.status), ClientID: portal, Subject: subA, Status: tc.status,
				Documents: []signing.Document{{Title: "Đơn"}}}, pdf("x"))
			_, page := e.page("GET", "/sign/s"+string(tc.status), "a", nil)
			contains(t, page, tc.want)
			if strings.Contains(page, `name="action"`) {
				t.Error("buttons on an ended request")
			}
		})
	}
}

func TestOriginalPDF(t *testing.T) {
	e := newEnv(t)
	e.pending("r1")
	e.session("a", citizenA, "2", time.Minute)
	e.session("b", "cit-B", "2", time.Minute)
	resp, body := e.page("GET", "/sign/r1/documents/0", "a", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" || body != string(pdf("to khai r1")) {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline;") || !strings.Contains(csp, "sandbox") ||
		!strings.Contains(csp, "frame-ancestors 'none'") || resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", resp.Header)
	}
	if resp, _ := e.page("GET", "/sign/r1/documents/0", "b", nil); resp.StatusCode != 404 {
		t.Errorf("other citizen: %d", resp.StatusCode)
	}
	if resp, _ := e.page("GET", "/sign/r1/documents/5", "a", nil); resp.StatusCode != 404 {
		t.Errorf("no such document: %d", resp.StatusCode)
	}
}

// TestRenderPages writes the pages to $MOTLAN_PAGES_DIR for a look in a browser
// (go test -run TestRenderPages with the variable set; chromium --screenshot on them).
func TestRenderPages(t *testing.T) {
	// The pages are written to MOTLAN_PAGES_DIR for people to look at (with live
	// screenshots when chromium is there); otherwise to a temporary directory.
	dir := os.Getenv("MOTLAN_PAGES_DIR")
	keep := dir != ""
	if !keep {
		dir = t.TempDir()
	}
	e := newEnv(t)
	now := e.clock.Now()
	e.svc.put(signing.Request{
		ID: "r1", ClientID: portal, Subject: subA, Reason: "Đăng ký khai sinh cho con", Location: "UBND phường Bến Thành",
		Status: signing.StatusPending, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute),
		Documents: []signing.Document{
			{Title: "Tờ khai đăng ký khai sinh", Pages: 2},
			{Title: "Giấy chứng sinh", Pages: 1},
			{Title: "Giấy xác nhận cư trú của cha mẹ (bản sao có chứng thực)", Pages: 3},
		},
	}, minimalPDF("To khai dang ky khai sinh"), bytes.Repeat(pdf("b"), 3000), bytes.Repeat(pdf("c"), 40000))
	e.session("a", citizenA, "2", time.Minute)
	save := func(name, path string, form url.Values) string {
		method := "GET"
		if form != nil {
			method = "POST"
		}
		_, body := e.page(method, path, "a", form)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return body
	}
	body := save("approve-vi.html", "/sign/r1", nil)
	save("approve-en.html", "/sign/r1?lang=en", nil)
	f := shownForm(t, body)
	f.Set("action", "approve")
	save("signed-vi.html", "/sign/r1", f)
	save("notfound-vi.html", "/sign/zzz", nil)
	for name, want := range map[string]string{
		"approve-vi.html": "Giấy xác nhận cư trú của cha mẹ (bản sao có chứng thực)",
		"approve-en.html": "lang=\"en\"",
		"signed-vi.html":  "Tờ khai đăng ký khai sinh",
	} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q", name, want)
		}
	}
	if !keep {
		return
	}

	// The same pages live, under their real headers (CSP), in headless Chromium.
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Log("no chromium: no live screenshots")
		return
	}
	e.svc.put(signing.Request{ID: "r2", ClientID: portal, Subject: subA, Reason: "Đăng ký khai sinh cho con", Status: signing.StatusPending,
		ExpiresAt: e.clock.Now().Add(15 * time.Minute), Documents: []signing.Document{{Title: "Tờ khai đăng ký khai sinh", Pages: 1}}},
		minimalPDF("To khai dang ky khai sinh"))
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.AddCookie(&http.Cookie{Name: "sid", Value: "a"})
		e.api.Handler().ServeHTTP(w, r)
	}))
	defer live.Close()
	for name, path := range map[string]string{"live-approve-vi.png": "/sign/r2", "live-pdf-view.png": "/sign/r2/documents/0"} {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		out, err := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
			"--window-size=390,844", "--screenshot="+filepath.Join(dir, name), live.URL+path).CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("chromium %s: %v\n%s", path, err, out)
		}
	}
}

// minimalPDF is a one-page PDF showing text (ASCII), with a correct cross-reference table.
func minimalPDF(text string) []byte {
	content := "BT /F1 18 Tf 40 760 Td (" + text + ") Tj ET"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}
