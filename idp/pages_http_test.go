package idp_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDiscovery checks the discovery document's security-relevant fields.
func TestDiscovery(t *testing.T) {
	h := newHarness(t, true)
	resp, err := noJar().Get(h.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	raw := readBody(t, resp)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("discovery is not JSON: %v", err)
	}
	strs := func(k string) []string {
		var out []string
		for _, v := range doc[k].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	tests := []struct {
		name string
		ok   func() bool
	}{
		{"issuer", func() bool { return doc["issuer"] == h.issuer }},
		{"authorization_endpoint", func() bool { return doc["authorization_endpoint"] == h.issuer+"/authorize" }},
		{"token_endpoint", func() bool { return doc["token_endpoint"] == h.issuer+"/token" }},
		{"userinfo_endpoint", func() bool { return doc["userinfo_endpoint"] == h.issuer+"/userinfo" }},
		{"jwks_uri", func() bool { return doc["jwks_uri"] == h.issuer+"/jwks" }},
		{"authorization_response_iss_parameter_supported", func() bool { return doc["authorization_response_iss_parameter_supported"] == true }},
		{"code_challenge_methods_supported is S256 only", func() bool { return slices.Equal(strs("code_challenge_methods_supported"), []string{"S256"}) }},
		{"no plain anywhere", func() bool { return !strings.Contains(string(raw), `"plain"`) }},
		{"response_types_supported is code only", func() bool { return slices.Equal(strs("response_types_supported"), []string{"code"}) }},
		{"request objects not supported", func() bool {
			return doc["request_parameter_supported"] == false && doc["request_uri_parameter_supported"] == false
		}},
		{"openid scope listed", func() bool { return slices.Contains(strs("scopes_supported"), "openid") }},
		{"none alg not for ID tokens", func() bool { return !slices.Contains(strs("id_token_signing_alg_values_supported"), "none") }},
		{"no HMAC for client assertions", func() bool {
			return !slices.ContainsFunc(strs("token_endpoint_auth_signing_alg_values_supported"), func(a string) bool { return strings.HasPrefix(a, "HS") || a == "none" })
		}},
		{"content type JSON", func() bool { return strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok() {
				t.Errorf("discovery document fails %q:\n%s", tt.name, raw)
			}
		})
	}
}

// TestJWKSHasNoPrivateParts checks every published key is public only.
func TestJWKSHasNoPrivateParts(t *testing.T) {
	h := newHarness(t, true)
	resp, err := noJar().Get(h.issuer + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	raw := readBody(t, resp)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS %s: %v", raw, err)
	}
	for _, k := range set.Keys {
		t.Run(k["kid"].(string), func(t *testing.T) {
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
				if _, ok := k[private]; ok {
					t.Errorf("key publishes private member %q", private)
				}
			}
			if k["kty"] != "EC" && k["kty"] != "RSA" {
				t.Errorf("kty = %v", k["kty"])
			}
		})
	}
}

var (
	csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	idRE   = regexp.MustCompile(`name="id" value="([^"]+)"`)
)

// consentPage logs in for the non-first-party client "portal" (prompt=consent, so earlier
// rows' consents do not skip the page) and returns the browser,
// the consent URL, and the form's id and CSRF token.
func consentPage(t *testing.T, h *harness, extra ...string) (b *http.Client, consentURL, id, csrf string) {
	t.Helper()
	b = h.browser()
	resp := h.login(b, authQuery("portal", append([]string{"scope", "openid profile address", "prompt", "consent"}, extra...)...))
	readBody(t, resp)
	consentURL = resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(consentURL, h.issuer+"/consent?id=") {
		t.Fatalf("callback: %d %q, want a redirect to the consent page", resp.StatusCode, consentURL)
	}
	resp, err := b.Get(consentURL)
	if err != nil {
		t.Fatal(err)
	}
	body := string(readBody(t, resp))
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
	h := newHarness(t, true)
	postConsent := func(b *http.Client, form url.Values) *http.Response {
		resp, err := b.PostForm(h.issuer+"/consent", form)
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
			resp, _ := noJar().Get(u)
			return resp
		}},
		{name: "consent GET unknown id", wantStatus: 400, do: func(t *testing.T) *http.Response {
			b, _, _, _ := consentPage(t, h)
			resp, _ := b.Get(h.issuer + "/consent?id=nope")
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
			resp, err := b.PostForm(h.issuer+"/consent?csrf="+url.QueryEscape(csrf), url.Values{"id": {id}, "action": {"allow"}})
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}},
		{name: "consent POST without session cookie", wantStatus: 400, do: func(t *testing.T) *http.Response {
			_, _, id, csrf := consentPage(t, h)
			return postConsent(noJar(), url.Values{"id": {id}, "csrf": {csrf}, "action": {"allow"}})
		}},
		{name: "consent POST from another citizen's browser", wantStatus: 400, do: func(t *testing.T) *http.Response {
			_, _, id, csrf := consentPage(t, h)
			other, _, _, _ := consentPage(t, h)
			return postConsent(other, url.Values{"id": {id}, "csrf": {csrf}, "action": {"allow"}})
		}},
		{name: "consent PUT", wantStatus: 405, do: func(t *testing.T) *http.Response {
			req, _ := http.NewRequest(http.MethodPut, h.issuer+"/consent?id=x", nil)
			resp, _ := noJar().Do(req)
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
			readBody(t, postConsent(b, url.Values{"id": {id}, "csrf": {csrf}, "action": {"allow"}}))
			return postConsent(b, url.Values{"id": {id}, "csrf": {csrf}, "action": {"allow"}})
		}},
		{name: "error page Vietnamese", wantStatus: 400, wantHTML: []string{`lang="vi"`, "Không thể tiếp tục", "chưa được đăng ký"},
			do: func(t *testing.T) *http.Response {
				resp, _ := noJar().Get(h.issuer + "/authorize?" + authQuery("web", "client_id", "nobody").Encode())
				return resp
			}},
		{name: "error page English", wantStatus: 400, wantHTML: []string{`lang="en"`, "Cannot continue", "not registered with Motlan"},
			do: func(t *testing.T) *http.Response {
				resp, _ := noJar().Get(h.issuer + "/authorize?" + authQuery("web", "client_id", "nobody", "lang", "en").Encode())
				return resp
			}},
		{name: "error page escapes input", wantStatus: 400, do: func(t *testing.T) *http.Response {
			resp, _ := noJar().Get(h.issuer + "/authorize?" + authQuery("web", "client_id", `<script>alert(1)</script>`).Encode())
			return resp
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := tt.do(t)
			if resp == nil {
				t.Fatal("no response")
			}
			body := string(readBody(t, resp))
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
				if err != nil || u.Scheme+"://"+u.Host+u.Path != portalRedirect {
					t.Fatalf("Location = %q, want %s", resp.Header.Get("Location"), portalRedirect)
				}
				q := u.Query()
				if tt.wantRedirect == "code" && q.Get("code") == "" || tt.wantRedirect != "code" && q.Get("error") != tt.wantRedirect {
					t.Errorf("Location = %q, want %s", u, tt.wantRedirect)
				}
				if q.Get("iss") != h.issuer || q.Get("state") != "st-ăâđ-123" {
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
	h := newHarness(t, true)
	b, _, id, csrf := consentPage(t, h)
	resp, err := b.PostForm(h.issuer+"/consent", url.Values{"id": {id}, "csrf": {csrf}, "action": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	tests := []struct {
		name  string
		scope string
		want  string // prefix of Location
	}{
		{"same scopes", "openid profile address", portalRedirect + "?"},
		{"subset", "openid profile", portalRedirect + "?"},
		{"new scope", "openid profile address offline_access", h.issuer + "/consent?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := b.Get(h.issuer + "/authorize?" + authQuery("portal", "scope", tt.scope).Encode())
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, resp)
			if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, tt.want) {
				t.Errorf("Location = %q, want prefix %q", loc, tt.want)
			}
		})
	}
}
