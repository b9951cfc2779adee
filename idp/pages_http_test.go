package idp_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/motlan/motlan/idp/internal/idptest"
)

var (
	csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	idRE   = regexp.MustCompile(`name="id" value="([^"]+)"`)
)

// consentPage logs in for the non-first-party client "portal" (prompt=consent, so earlier
// rows' consents do not skip the page) and returns the browser,
// the consent URL, and the form's id and CSRF token.
func consentPage(t *testing.T, h *idptest.Harness, extra ...string) (b *http.Client, consentURL, id, csrf string) {
	t.Helper()
	b = h.Browser()
	resp := h.Login(b, idptest.AuthQuery("portal", append([]string{"scope", "openid profile address", "prompt", "consent"}, extra...)...))
	idptest.ReadBody(t, resp)
	consentURL = resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(consentURL, h.Issuer+"/consent?id=") {
		t.Fatalf("callback: %d %q, want a redirect to the consent page", resp.StatusCode, consentURL)
	}
	resp, err := b.Get(consentURL)
	if err != nil {
		t.Fatal(err)
	}
	body := string(idptest.ReadBody(t, resp))
	m1, m2 := idRE.FindStringSubmatch(body), csrfRE.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m1 == nil || m2 == nil {
		t.Fatalf("consent page: %d %.300s", resp.StatusCode, body)
	}
	return b, consentURL, m1[1], m2[1]
}

func checkPageHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q, want frame-ancestors 'none'", csp)
	}
	if xfo := resp.Header.Get("X-Frame-Options"); xfo != "DENY" {
		t.Errorf("X-Frame-Options = %q, want DENY", xfo)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if n := resp.Header.Get("X-Content-Type-Options"); n != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", n)
	}
}

// TestPages covers the consent and error pages: framing protection, CSRF, session binding,
// and the language switch.
func TestPages(t *testing.T) {
	h := idptest.New(t, true)
	postConsent := func(b *http.Client, form url.Values) *http.Response {
		resp, err := b.PostForm(h.Issuer+"/consent", form)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	tests := []struct {
		name         string
		do           func(t *testing.T) *http.Response
		wantStatus   int
		wantHTML     []string // substrings of the page
		wantRedirect string   // error code in a redirect to the portal, or "code"
	}{
		{name: "consent page Vietnamese", wantStatus: 200, wantHTML: []string{`lang="vi"`, "Chia sẻ thông tin", "Lê Công Hảo", "Cổng thông tin Tỉnh", "Số 12 Phố Tràng Tiền"},
			do: func(t *testing.T) *http.Response {
				b, u, _, _ := consentPage(t, h)
				resp, _ := b.Get(u)
				return resp
			}},
		{name: "consent page English switch", wantStatus: 200, wantHTML: []string{`lang="en"`, "Share your information", "Full name", "Tiếng Việt"},
			do: func(t *testing.T) *http.Response {
				b, u, _, _ := consentPage(t, h)
				resp, _ := b.Get(u + "&lang=en")
				return resp
			}},
		{name: "consent page English from ui_locales", wantStatus: 200, wantHTML: []string{`lang="en"`, "Share your information"},
			do: func(t *testing.T) *http.Response {
				b, u, _, _ := consentPage(t, h, "ui_locales", "en")
				resp, _ := b.Get(u)
				return resp
			}},
		{name: "consent GET without session", wantStatus: 400, do: func(t *testing.T) *http.Response {
			_, u, _, _ := consentPage(t, h)
			resp, _ := idptest.NoJar().Get(u)
			return resp
		}},
		{name: "consent GET unknown id", wantStatus: 400, do: func(t *testing.T) *http.Response {
			b, _, _, _ := consentPage(t, h)
			resp, _ := b.Get(h.Issuer + "/consent?id=nope")
			return resp
		}},
		{name: "consent POST wrong CSRF", wantStatus: 403, do: func(t *testing.T) *http.Response {
			b, _, id, csrf := consentPage(t, h)
			return postConsent(b, url.Values{"id": {id}, "csrf": {csrf + "x"}, "action": {"allow"}})
		}},
		{name: "consent POST missing CSRF", wantStatus: 403, do: func(t *testing.T) *http.Response {
			b, _, id, _ := consentPage(t, h)
			return postConsent(b, url.Values{"id": {id}, "action": {"allow"}})
		}},
		{name: "consent POST CSRF in query only", wantStatus: 403, do: func(t *testing.T) *http.Response {
			b, _, id, csrf := consentPage(t, h)
			resp, err := b.PostForm(h.Issuer+"/consent?csrf="+url.QueryEscape(csrf), url.Values{"id": {id}, "action": {"allow"}})
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}},
		{name: "consent POST without session cookie", wantStatus: 400, do: func(t *testing.T) *http.Response {
			_, _, id, csrf := consentPage(t, h)
			return postConsent(idptest.NoJar(), url.Values{"id": {id}, "csrf": {csrf}, "action": {"allow"}})
		}},
		{name: "consent POST from another citizen's browser", wantStatus: 400, do: func(t *testing.T) *http.Response {
			_, _, id, csrf := consentPage(t, h)
			other, _, _, _ := consentPage(t, h)
			return postConsent(other, url.Values{"id": {id}, "csrf": {csrf}, "action": {"allow"}})
		}},
		{name: "consent PUT", wantStatus: 405, do: func(t *testing.T) *http.Response {
			req, _ := http.NewRequest(http.MethodPut, h.Issuer+"/consent?id=x", nil)
			resp, _ := idptest.NoJar().Do(req)
			return resp
		}},
		{name: "consent deny", wantStatus: 302, wantRedirect: "access_denied", do: func(t *testing.T) *http.Response {
			b, _, id, csrf := consentPage(t, h)
			return postConsent(b, url.Values{"id": {id}, "csrf": {csrf}, "action": {"deny"}})
		}},
		{name: "consent allow", wantStatus: 302, wantRedirect: "code", do: func(t *testing.T) *http.Response {
			b, _, id, csrf := consentPage(t, h)
			return postConsent(b, url.Values{"id": {id}, "csrf": {csrf}, "action": {"allow"}})
		}},
		{name: "consent double submit", wantStatus: 400, do: func(t *testing.T) *http.Response {
			b, _, id, csrf := consentPage(t, h)
			idptest.ReadBody(t, postConsent(b, url.Values{"id": {id}, "csrf": {csrf}, "action": {"allow"}}))
			return postConsent(b, url.Values{"id": {id}, "csrf": {csrf}, "action": {"allow"}})
		}},
		{name: "error page Vietnamese", wantStatus: 400, wantHTML: []string{`lang="vi"`, "Không thể tiếp tục", "chưa được đăng ký"},
			do: func(t *testing.T) *http.Response {
				resp, _ := idptest.NoJar().Get(h.Issuer + "/authorize?" + idptest.AuthQuery("web", "client_id", "nobody").Encode())
				return resp
			}},
		{name: "error page English", wantStatus: 400, wantHTML: []string{`lang="en"`, "Cannot continue", "not registered with Motlan"},
			do: func(t *testing.T) *http.Response {
				resp, _ := idptest.NoJar().Get(h.Issuer + "/authorize?" + idptest.AuthQuery("web", "client_id", "nobody", "lang", "en").Encode())
				return resp
			}},
		{name: "error page escapes input", wantStatus: 400, do: func(t *testing.T) *http.Response {
			resp, _ := idptest.NoJar().Get(h.Issuer + "/authorize?" + idptest.AuthQuery("web", "client_id", `<script>alert(1)</script>`).Encode())
			return resp
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := tt.do(t)
			if resp == nil {
				t.Fatal("no response")
			}
			body := string(idptest.ReadBody(t, resp))
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%.300s)", resp.StatusCode, tt.wantStatus, body)
			}
			if strings.Contains(body, "<script>") {
				t.Errorf("page reflects unescaped markup")
			}
			switch {
			case tt.wantStatus == 405:
				return
			case tt.wantRedirect != "":
				u, err := url.Parse(resp.Header.Get("Location"))
				if err != nil || u.Scheme+"://"+u.Host+u.Path != idptest.PortalRedirect {
					t.Fatalf("Location = %q, want %s", resp.Header.Get("Location"), idptest.PortalRedirect)
				}
				q := u.Query()
				if tt.wantRedirect == "code" && q.Get("code") == "" || tt.wantRedirect != "code" && q.Get("error") != tt.wantRedirect {
					t.Errorf("Location = %q, want %s", u, tt.wantRedirect)
				}
				if q.Get("iss") != h.Issuer || q.Get("state") != "st-ăâđ-123" {
					t.Errorf("iss = %q state = %q", q.Get("iss"), q.Get("state"))
				}
				return
			}
			checkPageHeaders(t, resp)
			for _, want := range tt.wantHTML {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
		})
	}
}

// TestConsentRemembered: once allowed, the same scopes skip the consent page; a new scope
// asks again.
func TestConsentRemembered(t *testing.T) {
	h := idptest.New(t, true)
	b, _, id, csrf := consentPage(t, h)
	resp, err := b.PostForm(h.Issuer+"/consent", url.Values{"id": {id}, "csrf": {csrf}, "action": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	idptest.ReadBody(t, resp)
	tests := []struct {
		name  string
		scope string
		want  string // prefix of Location
	}{
		{"same scopes", "openid profile address", idptest.PortalRedirect + "?"},
		{"subset", "openid profile", idptest.PortalRedirect + "?"},
		{"new scope", "openid profile address offline_access", h.Issuer + "/consent?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := b.Get(h.Issuer + "/authorize?" + idptest.AuthQuery("portal", "scope", tt.scope).Encode())
			if err != nil {
				t.Fatal(err)
			}
			idptest.ReadBody(t, resp)
			if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, tt.want) {
				t.Errorf("Location = %q, want prefix %q", loc, tt.want)
			}
		})
	}
}
