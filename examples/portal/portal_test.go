package portal_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/motlan/motlan/examples/portal"
)

// testOP is a tiny OpenID provider: discovery, JWKS, an authorize endpoint that logs the
// citizen in at once, a token endpoint that checks client, redirect URI and PKCE, and
// userinfo. ES256 ID tokens are signed by hand with a key made for the test.
type testOP struct {
	t      *testing.T
	srv    *httptest.Server
	issuer string
	key    *ecdsa.PrivateKey

	mu       sync.Mutex
	down     bool                 // discovery answers 503
	mutate   func(q url.Values)   // edits the authorization response
	badNonce bool                 // ID token carries another nonce
	codes    map[string][2]string // code -> {code_challenge, nonce}
	tokens   map[string]bool
	lastAuth url.Values
	pkceOK   int            // successful code_verifier checks
	acr      string         // the ID token's acr; "": "2"
	userinfo map[string]any // nil: userinfoClaims

	signAPI // the signing API's side, sign_test.go
}

const (
	clientID     = "portal"
	clientSecret = "s3cret"
	subject      = "pairwise-sub-1"
)

var userinfoClaims = map[string]any{
	"sub":          subject,
	"name":         "Lê Công Hảo",
	"birthdate":    "1990-03-15",
	"gender":       "male",
	"cccd":         "038090001234",
	"address":      map[string]any{"formatted": "Số 12 đường Lê Lợi, phường Hạc Thành, tỉnh Thanh Hóa"},
	"phone_number": "+84912345678",
	// What OIDC4IDA's verified_claims says: the eID verified all but the phone, at level 2.
	"verified_claims": map[string]any{
		"verification": map[string]any{"trust_framework": "vn_eid", "assurance_level": "2", "time": "2026-12-06T08:00:00Z"},
		"claims": map[string]any{"name": "Lê Công Hảo", "birthdate": "1990-03-15", "gender": "male",
			"cccd": "038090001234", "address": map[string]any{"formatted": "Số 12 đường Lê Lợi, phường Hạc Thành, tỉnh Thanh Hóa"}},
	},
}

func newTestOP(t *testing.T, redirectURL string) *testOP {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	o := &testOP{t: t, key: key, codes: map[string][2]string{}, tokens: map[string]bool{},
		signAPI: signAPI{ccTokens: map[string]bool{}}}
	o.srv = httptest.NewUnstartedServer(nil)
	o.issuer = "http://" + o.srv.Listener.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if o.locked(func() bool { return o.down }) {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, map[string]any{
			"issuer": o.issuer, "authorization_endpoint": o.issuer + "/authorize",
			"token_endpoint": o.issuer + "/token", "userinfo_endpoint": o.issuer + "/userinfo",
			"jwks_uri": o.issuer + "/jwks", "response_types_supported": []string{"code"},
			"id_token_signing_alg_values_supported":          []string{"ES256"},
			"code_challenge_methods_supported":               []string{"S256"},
			"token_endpoint_auth_methods_supported":          []string{"client_secret_basic"},
			"authorization_response_iss_parameter_supported": true,
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		pub, _ := o.key.PublicKey.ECDH()
		b := pub.Bytes() // 0x04 || X || Y
		writeJSON(w, map[string]any{"keys": []map[string]string{{
			"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
			"x": b64(b[1:33]), "y": b64(b[33:65]),
		}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != clientID || q.Get("redirect_uri") != redirectURL || q.Get("response_type") != "code" ||
			q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" {
			http.Error(w, "bad authorization request", http.StatusBadRequest)
			return
		}
		code := token()
		resp := url.Values{"code": {code}, "state": {q.Get("state")}, "iss": {o.issuer}}
		o.mu.Lock()
		o.codes[code] = [2]string{q.Get("code_challenge"), q.Get("nonce")}
		o.lastAuth = q
		if o.mutate != nil {
			o.mutate(resp)
		}
		o.mu.Unlock()
		http.Redirect(w, r, redirectURL+"?"+resp.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if id != clientID || secret != clientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			writeJSON(w, map[string]string{"error": "invalid_client"})
			return
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		if r.PostFormValue("grant_type") == "client_credentials" { // the portal's server, for the signing API
			if r.PostFormValue("scope") != "signing" || o.ccRefuse {
				w.WriteHeader(http.StatusBadRequest)
				writeJSON(w, map[string]string{"error": "invalid_scope"})
				return
			}
			at := token()
			o.ccTokens[at] = true
			writeJSON(w, map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 300})
			return
		}
		g, ok := o.codes[r.PostFormValue("code")]
		delete(o.codes, r.PostFormValue("code"))
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		if !ok || r.PostFormValue("grant_type") != "authorization_code" || r.PostFormValue("redirect_uri") != redirectURL ||
			b64(sum[:]) != g[0] {
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, map[string]string{"error": "invalid_grant"})
			return
		}
		o.pkceOK++
		nonce := g[1]
		if o.badNonce {
			nonce = "other"
		}
		acr := o.acr
		if acr == "" {
			acr = "2"
		}
		at := token()
		o.tokens[at] = true
		now := time.Now()
		writeJSON(w, map[string]any{
			"access_token": at, "token_type": "Bearer", "expires_in": 300,
			"id_token": o.sign(map[string]any{
				"iss": o.issuer, "sub": subject, "aud": clientID, "nonce": nonce, "acr": acr,
				"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "name": "Lê Công Hảo",
			}),
		})
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		at, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !o.locked(func() bool { return o.tokens[at] }) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		o.mu.Lock()
		claims := o.userinfo
		o.mu.Unlock()
		if claims == nil {
			claims = userinfoClaims
		}
		writeJSON(w, claims)
	})
	o.signingRoutes(mux)
	o.srv.Config.Handler = mux
	o.srv.Start()
	t.Cleanup(o.srv.Close)
	return o
}

func (o *testOP) locked(f func() bool) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return f()
}

func (o *testOP) sign(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": "k1"})
	p, _ := json.Marshal(claims)
	input := b64(h) + "." + b64(p)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, o.key, sum[:])
	if err != nil {
		o.t.Error(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func token() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b64(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// env is a provider, a portal in front of it, and a browser-like client.
type env struct {
	op      *testOP
	url     string       // the portal
	client  *http.Client // cookie jar, follows redirects
	noRedir *http.Client // same jar, stops at the first response
}

func newEnv(t *testing.T, setup func(o *testOP)) *env {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	o := newTestOP(t, base+"/callback")
	if setup != nil {
		o.mu.Lock()
		setup(o)
		o.mu.Unlock()
	}
	p, err := portal.New(context.Background(), portal.Config{
		Issuer: o.issuer, ClientID: clientID, ClientSecret: clientSecret, RedirectURL: base + "/callback",
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	srv.Start()
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &env{
		op: o, url: base,
		client: &http.Client{Jar: jar, Timeout: 10 * time.Second},
		noRedir: &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
}

func (e *env) do(t *testing.T, c *http.Client, method, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func contains(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestLogin(t *testing.T) {
	// The provider is not up when the portal starts: discovery is retried on demand.
	e := newEnv(t, func(o *testOP) { o.down = true })
	resp, body := e.do(t, e.client, "GET", "/login", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `id="error-code">unavailable<`) {
		t.Fatalf("login with the provider down: %d\n%s", resp.StatusCode, body)
	}
	e.op.mu.Lock()
	e.op.down = false
	e.op.mu.Unlock()

	// The home page's button starts the login.
	_, body = e.do(t, e.client, "GET", "/", nil)
	contains(t, body, "<title>Cổng Dịch vụ công tỉnh Thanh Hóa (demo)</title>",
		`<a id="login-vneid" class="button big" href="/login">Đăng nhập bằng VNeID</a>`)

	resp, body = e.do(t, e.client, "GET", "/login", nil)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/ho-so" {
		t.Fatalf("login ended at %s with %d\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	e.op.mu.Lock()
	a, pkce := e.op.lastAuth, e.op.pkceOK
	e.op.mu.Unlock()
	if pkce != 1 {
		t.Errorf("PKCE verified %d times, want 1", pkce)
	}
	for k, want := range map[string]string{
		"scope": "openid profile address phone cccd", "ui_locales": "vi en", "code_challenge_method": "S256",
	} {
		if a.Get(k) != want {
			t.Errorf("authorization request %s = %q, want %q", k, a.Get(k), want)
		}
	}
	if len(a.Get("state")) < 22 || len(a.Get("nonce")) < 22 || a.Get("state") == a.Get("nonce") {
		t.Errorf("weak state or nonce: %v", a)
	}

	// Verified claims, pre-filled and read-only, diacritics byte for byte.
	contains(t, body,
		`<input id="claim-name" type="text" value="Lê Công Hảo" readonly>`,
		`<input id="claim-birthdate" type="text" value="15/03/1990" readonly>`,
		`<input id="claim-gender" type="text" value="Nam" readonly>`,
		`<input id="claim-cccd" type="text" value="038090001234" readonly>`,
		`<textarea id="claim-address" rows="2" readonly>Số 12 đường Lê Lợi, phường Hạc Thành, tỉnh Thanh Hóa</textarea>`,
		`<strong id="claim-acr">2</strong>`,
		`<span id="claim-name-verified" class="verified">✓ Đã xác thực qua VNeID, mức 2</span>`,
		`<span id="claim-address-verified" class="verified">✓ Đã xác thực qua VNeID, mức 2</span>`,
		// The eID did not verify the phone: shown, and said so.
		`<span id="claim-phone-unverified" class="missing">VNeID chưa xác thực thông tin này</span>`,
		"Thông tin của trẻ", `id="child-name"`, `id="child-birthdate"`, `id="child-sex"`, `id="child-birthplace"`,
	)
	contains(t, html.UnescapeString(body), `id="claim-phone" type="text" value="+84912345678" readonly>`)
	if strings.Contains(body, `id="claim-phone-verified"`) {
		t.Error("the unverified phone is marked verified")
	}
	// The claims parameter: the level as an essential acr, the shown fields as verified_claims.
	var creq struct {
		IDToken struct {
			ACR struct {
				Essential bool     `json:"essential"`
				Values    []string `json:"values"`
			} `json:"acr"`
		} `json:"id_token"`
		UserInfo struct {
			VC struct {
				Verification map[string]any `json:"verification"`
				Claims       map[string]any `json:"claims"`
			} `json:"verified_claims"`
		} `json:"userinfo"`
	}
	if err := json.Unmarshal([]byte(a.Get("claims")), &creq); err != nil || !creq.IDToken.ACR.Essential ||
		len(creq.IDToken.ACR.Values) != 1 || creq.IDToken.ACR.Values[0] != "2" || len(creq.UserInfo.VC.Claims) != 7 ||
		len(creq.UserInfo.VC.Verification) != 3 {
		t.Errorf("claims parameter %s: %+v %v", a.Get("claims"), creq, err)
	}

	// English, remembered afterwards.
	_, body = e.do(t, e.client, "GET", "/ho-so?lang=en", nil)
	contains(t, body, `<html lang="en">`, "Verified through VNeID, level 2", "Not verified by VNeID", `value="Lê Công Hảo"`)
	_, body = e.do(t, e.client, "GET", "/", nil)
	contains(t, body, "Open the application", `id="lang-switch" href="/?lang=vi"`)
	_, body = e.do(t, e.client, "GET", "/ho-so?lang=vi", nil)

	// "Ký số" with the child's data leads to the signing page; a form without the CSRF
	// token is refused.
	csrf := csrfRE.FindStringSubmatch(body)
	if csrf == nil {
		t.Fatal("no CSRF token on the dossier form")
	}
	child := url.Values{"csrf": {csrf[1]}, "child_name": {"Lê Thị Mai"}, "child_birthdate": {"2025-01-02"},
		"child_sex": {"female"}, "child_birthplace": {"Bệnh viện Đa khoa tỉnh Thanh Hóa"}, "applicant_relation": {"father"},
		"applicant_ethnicity": {"Kinh"}, "child_ethnicity": {"Kinh"}, "child_nationality": {"Việt Nam"}}
	resp, body = e.do(t, e.client, "POST", "/ho-so", child)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/ho-so/khai-sinh/xem-truoc" {
		t.Fatalf("Tiếp tục: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	resp, body = e.do(t, e.client, "POST", "/ho-so/khai-sinh/ky-so", url.Values{"csrf": {csrf[1]}})
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.Path, "/ky-so/") {
		t.Fatalf("Ký số: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	contains(t, body, `id="sign-qr"`, `id="approval-link"`)
	// A wrong field shows the form again with what was typed.
	child.Set("child_birthdate", "2025-13-01")
	resp, body = e.do(t, e.client, "POST", "/ho-so", child)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("Ký số with a bad date: %d", resp.StatusCode)
	}
	contains(t, body, `id="child-name" name="child_name" type="text" maxlength="100" autocomplete="off" value="Lê Thị Mai"`,
		`<option value="female" selected>Nữ</option>`, `value="2025-13-01"`, `value="Bệnh viện Đa khoa tỉnh Thanh Hóa"`)
	child.Set("csrf", "forged")
	if resp, _ = e.do(t, e.client, "POST", "/ho-so", child); resp.StatusCode != http.StatusForbidden {
		t.Errorf("save with a forged CSRF token: %d, want 403", resp.StatusCode)
	}
	if resp, _ = e.do(t, e.client, "POST", "/logout", url.Values{"csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout with a forged CSRF token: %d, want 403", resp.StatusCode)
	}

	// Logout clears the session.
	resp, body = e.do(t, e.client, "POST", "/logout", url.Values{"csrf": {csrf[1]}})
	if resp.Request.URL.Path != "/" || !strings.Contains(body, `id="login-vneid"`) {
		t.Errorf("logout ended at %s", resp.Request.URL)
	}
	if resp, _ = e.do(t, e.noRedir, "GET", "/ho-so", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("/ho-so after logout: %d, want 303", resp.StatusCode)
	}
}

func TestCallbackRejections(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(o *testOP)
		status int
		kind   string
		text   string
	}{
		{"state mismatch", func(o *testOP) { o.mutate = func(q url.Values) { q.Set("state", "forged") } },
			http.StatusBadRequest, "state", "Phiên đăng nhập không hợp lệ hoặc đã hết hạn"},
		{"state missing", func(o *testOP) { o.mutate = func(q url.Values) { q.Del("state") } },
			http.StatusBadRequest, "state", "Phiên đăng nhập không hợp lệ"},
		{"iss mismatch", func(o *testOP) { o.mutate = func(q url.Values) { q.Set("iss", "https://evil.example") } },
			http.StatusBadRequest, "issuer", "không đến từ hệ thống định danh mong đợi"},
		{"iss missing though advertised", func(o *testOP) { o.mutate = func(q url.Values) { q.Del("iss") } },
			http.StatusBadRequest, "issuer", "không đến từ hệ thống định danh mong đợi"},
		{"access denied", func(o *testOP) {
			o.mutate = func(q url.Values) { q.Del("code"); q.Set("error", "access_denied") }
		}, http.StatusForbidden, "access_denied", "Bạn đã hủy đăng nhập hoặc không đồng ý chia sẻ thông tin"},
		{"provider error", func(o *testOP) {
			o.mutate = func(q url.Values) { q.Del("code"); q.Set("error", "invalid_scope") }
		}, http.StatusBadGateway, "provider", "Hệ thống định danh báo lỗi"},
		{"wrong code", func(o *testOP) { o.mutate = func(q url.Values) { q.Set("code", "guessed") } },
			http.StatusBadGateway, "token", "Không xác minh được thông tin đăng nhập"},
		{"nonce mismatch", func(o *testOP) { o.badNonce = true },
			http.StatusBadGateway, "token", "Không xác minh được thông tin đăng nhập"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.setup)
			resp, body := e.do(t, e.client, "GET", "/login", nil)
			if resp.StatusCode != tc.status || resp.Request.URL.Path != "/callback" {
				t.Fatalf("got %d at %s, want %d at /callback\n%s", resp.StatusCode, resp.Request.URL.Path, tc.status, body)
			}
			contains(t, body, `<section id="error" class="error" data-error="`+tc.kind+`">`, tc.text,
				`<a id="retry-login" class="button" href="/login">Đăng nhập lại</a>`)
			// No session was opened, and the login cookie is spent.
			if resp, _ := e.do(t, e.noRedir, "GET", "/ho-so", nil); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("/ho-so after a failed login: %d, want 303", resp.StatusCode)
			}
			if resp, _ := e.do(t, e.client, "GET", resp.Request.URL.RequestURI(), nil); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("replayed callback: %d, want 400", resp.StatusCode)
			}
		})
	}
}

func TestDossierWithoutSession(t *testing.T) {
	e := newEnv(t, nil)
	u, _ := url.Parse(e.url)
	for _, cookie := range []*http.Cookie{nil, {Name: "portal_session", Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}} {
		if cookie != nil {
			e.noRedir.Jar.SetCookies(u, []*http.Cookie{cookie})
		}
		for _, method := range []string{"GET", "POST"} {
			resp, _ := e.do(t, e.noRedir, method, "/ho-so", url.Values{})
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
				t.Errorf("%s /ho-so (cookie %v): %d to %q, want 303 to /", method, cookie != nil, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, nil)
	if resp, _ := e.do(t, e.client, "GET", "/login", nil); resp.Request.URL.Path != "/ho-so" {
		t.Fatal("login failed")
	}
	styleNonce := regexp.MustCompile(`<style nonce="([A-Za-z0-9_-]{20,})">`)
	// A client without the session: with one, a stray callback goes back to /ho-so.
	anon := &http.Client{Timeout: 10 * time.Second, CheckRedirect: e.noRedir.CheckRedirect}
	for _, path := range []string{"/", "/?lang=en", "/ho-so", "/callback?state=x&code=y", "/nowhere"} {
		t.Run(path, func(t *testing.T) {
			c := e.noRedir
			if strings.HasPrefix(path, "/callback") {
				c = anon
			}
			resp, body := e.do(t, c, "GET", path, nil)
			h := resp.Header
			for k, want := range map[string]string{
				"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
				"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
			} {
				if h.Get(k) != want {
					t.Errorf("%s = %q, want %q", k, h.Get(k), want)
				}
			}
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if path == "/nowhere" {
				return
			}
			m := styleNonce.FindStringSubmatch(body)
			if m == nil || !strings.Contains(csp, "style-src 'nonce-"+m[1]+"'") {
				t.Errorf("inline style nonce does not match CSP %q", csp)
			}
			if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			contains(t, body, `<meta name="viewport" content="width=device-width, initial-scale=1">`)
		})
	}

	// The login cookie: HttpOnly, SameSite=Lax, short-lived, opaque.
	resp, _ := e.do(t, e.noRedir, "GET", "/login", nil)
	var tx *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "portal_tx" {
			tx = c
		}
	}
	if tx == nil || !tx.HttpOnly || tx.SameSite != http.SameSiteLaxMode || tx.MaxAge <= 0 || tx.MaxAge > 900 {
		t.Fatalf("login cookie %+v", tx)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if st := loc.Query().Get("state"); st == "" || strings.Contains(tx.Value, st) {
		t.Errorf("state %q is readable in the login cookie", st)
	}
}
