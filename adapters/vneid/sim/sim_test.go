package sim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const (
	testClient   = "broker"
	testSecret   = "broker-secret"
	testRedirect = "https://broker.example/callback"
	testBye      = "https://broker.example/bye"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t      *testing.T
	srv    *httptest.Server
	p      *Provider
	clock  *clock
	issuer string
	oidc   *oidc.Provider
	oauth  oauth2.Config
}

func newEnv(t *testing.T) *env { return newEnvWith(t, nil) }

// newEnvWith is newEnv with the config edited by mod first.
func newEnvWith(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{t: time.Now()}}
	e.srv = httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(e.srv.Close)
	e.issuer = e.srv.URL + "/eid"
	cfg := Config{
		Issuer: e.issuer,
		Clients: []Client{{ID: testClient, Secret: testSecret, RedirectURIs: []string{testRedirect},
			PostLogoutRedirectURIs: []string{testBye}}},
		Now: e.clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	e.srv.Config.Handler = p
	e.oidc, err = oidc.NewProvider(context.Background(), e.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	e.oauth = oauth2.Config{ClientID: testClient, ClientSecret: testSecret, Endpoint: e.oidc.Endpoint(),
		RedirectURL: testRedirect, Scopes: []string{oidc.ScopeOpenID, "profile"}}
	return e
}

// browser returns a client with a cookie jar that never follows redirects.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

type flow struct {
	state, nonce, verifier string
	url                    string
}

func (e *env) authorize(extra ...oauth2.AuthCodeOption) flow {
	f := flow{state: randomToken(8), nonce: randomToken(8), verifier: oauth2.GenerateVerifier()}
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.verifier), oidc.Nonce(f.nonce)}, extra...)
	f.url = e.oauth.AuthCodeURL(f.state, opts...)
	return f
}

func (e *env) login(c *http.Client, f flow, number string) *url.URL {
	e.t.Helper()
	cb, err := Login(context.Background(), c, f.url, number, DevPassword)
	if err != nil {
		e.t.Fatalf("Login: %v", err)
	}
	if got := cb.Query().Get("state"); got != f.state {
		e.t.Fatalf("state = %q", got)
	}
	if got := cb.Query().Get("iss"); got != e.issuer {
		e.t.Fatalf("iss = %q", got)
	}
	return cb
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestDiscoveryAndJWKS(t *testing.T) {
	e := newEnv(t)
	var meta struct {
		JWKS    string   `json:"jwks_uri"`
		EndSess string   `json:"end_session_endpoint"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
		PKCE    []string `json:"code_challenge_methods_supported"`
		ACR     []string `json:"acr_values_supported"`
	}
	if err := e.oidc.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if meta.JWKS != e.issuer+"/jwks" || meta.EndSess != e.issuer+"/end_session" ||
		strings.Join(meta.Algs, ",") != "ES256" || strings.Join(meta.PKCE, ",") != "S256" ||
		strings.Join(meta.ACR, ",") != "1,2" {
		t.Fatalf("discovery = %+v", meta)
	}
	resp, body := get(t, http.DefaultClient, meta.JWKS)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &set); err != nil || resp.StatusCode != 200 || len(set.Keys) != 1 {
		t.Fatalf("jwks: %d %s", resp.StatusCode, body)
	}
	k := set.Keys[0]
	if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["d"] != nil || k["kid"] == "" {
		t.Fatalf("jwk = %v", k)
	}
}

func TestCodeFlowWithGoOIDC(t *testing.T) {
	e := newEnv(t)
	verifier := e.oidc.Verifier(&oidc.Config{ClientID: testClient})
	for _, c := range DefaultCitizens() {
		t.Run(c.CCCD, func(t *testing.T) {
			f := e.authorize(oauth2.SetAuthURLParam("acr_values", levelString(c.Level)))
			cb := e.login(browser(t), f, c.CCCD)
			tok, err := e.oauth.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(f.verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := verifier.Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if idt.Nonce != f.nonce || idt.Subject != c.Subject {
				t.Fatalf("nonce %q sub %q", idt.Nonce, idt.Subject)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Fatalf("at_hash: %v", err)
			}
			var claims struct {
				ACR      string   `json:"acr"`
				AMR      []string `json:"amr"`
				AuthTime int64    `json:"auth_time"`
				CCCD     string   `json:"so_dinh_danh"`
				Name     string   `json:"ho_va_ten"`
				Sex      string   `json:"gioi_tinh"`
				Birth    string   `json:"ngay_sinh"`
				Address  Address  `json:"noi_thuong_tru"`
			}
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if claims.ACR != levelString(c.Level) || strings.Join(claims.AMR, " ") != "pwd otp" ||
				claims.AuthTime == 0 || claims.CCCD != c.CCCD || claims.Name != c.FullName() ||
				claims.Sex != c.Sex || claims.Birth != c.Birthdate || claims.Address != c.Address {
				t.Fatalf("claims = %+v", claims)
			}
			// Byte-exact UTF-8 in the signed payload (no \u escapes, no normalisation).
			payload, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{c.FullName(), c.Address.Formatted, c.PlaceOfOrigin, c.Sex} {
				if !bytes.Contains(payload, []byte(`"`+s+`"`)) {
					t.Errorf("ID token payload lacks the exact bytes of %q", s)
				}
			}
			ui, err := e.oidc.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if ui.Subject != c.Subject {
				t.Fatalf("userinfo sub %q", ui.Subject)
			}
			var uiRaw json.RawMessage
			_ = ui.Claims(&uiRaw)
			for _, s := range []string{c.FullName(), c.Address.Formatted, c.GivenName} {
				if !bytes.Contains(uiRaw, []byte(`"`+s+`"`)) {
					t.Errorf("userinfo lacks the exact bytes of %q", s)
				}
			}
		})
	}
}

// tokenRequest posts to /token and returns status and error code.
func (e *env) tokenRequest(t *testing.T, form url.Values, basicID, basicSecret string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error       string `json:"error"`
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode == 200 && body.AccessToken == "" {
		t.Fatal("200 without access_token")
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Error("token response without Cache-Control: no-store")
	}
	return resp.StatusCode, body.Error
}

func TestTokenEndpointErrors(t *testing.T) {
	e := newEnv(t)
	type req struct {
		form               url.Values
		basicID, basicPass string
	}
	good := func(code, verifier string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {testRedirect}, "code_verifier": {verifier}}
	}
	tests := []struct {
		name       string
		build      func(code, verifier string) req
		wantStatus int
		wantErr    string
		reuse      bool // send the same request twice; the second must fail
	}{
		{"basic ok", func(c, v string) req { return req{good(c, v), testClient, testSecret} }, 200, "", false},
		{"post ok", func(c, v string) req {
			f := good(c, v)
			f.Set("client_id", testClient)
			f.Set("client_secret", testSecret)
			return req{form: f}
		}, 200, "", false},
		{"reused code", func(c, v string) req { return req{good(c, v), testClient, testSecret} }, 400, "invalid_grant", true},
		{"bad PKCE", func(c, v string) req { return req{good(c, oauth2.GenerateVerifier()), testClient, testSecret} }, 400, "invalid_grant", false},
		{"missing PKCE", func(c, v string) req { return req{good(c, ""), testClient, testSecret} }, 400, "invalid_grant", false},
		{"wrong redirect", func(c, v string) req {
			f := good(c, v)
			f.Set("redirect_uri", testRedirect+"/x")
			return req{f, testClient, testSecret}
		}, 400, "invalid_grant", false},
		{"wrong secret", func(c, v string) req { return req{good(c, v), testClient, "nope"} }, 401, "invalid_client", false},
		{"unknown client", func(c, v string) req { return req{good(c, v), "other", testSecret} }, 401, "invalid_client", false},
		{"no client auth", func(c, v string) req { return req{form: good(c, v)} }, 401, "invalid_client", false},
		{"two auth methods", func(c, v string) req {
			f := good(c, v)
			f.Set("client_secret", testSecret)
			return req{f, testClient, testSecret}
		}, 400, "invalid_request", false},
		{"refresh grant", func(c, v string) req {
			f := good(c, v)
			f.Set("grant_type", "refresh_token")
			return req{f, testClient, testSecret}
		}, 400, "unsupported_grant_type", false},
		{"unknown code", func(c, v string) req { return req{good("x"+c, v), testClient, testSecret} }, 400, "invalid_grant", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := e.authorize()
			cb := e.login(browser(t), f, "038085001234")
			r := tt.build(cb.Query().Get("code"), f.verifier)
			status, code := e.tokenRequest(t, r.form, r.basicID, r.basicPass)
			if tt.reuse {
				if status != 200 {
					t.Fatalf("first use: %d %s", status, code)
				}
				status, code = e.tokenRequest(t, r.form, r.basicID, r.basicPass)
			}
			if status != tt.wantStatus || code != tt.wantErr {
				t.Fatalf("got %d %q, want %d %q", status, code, tt.wantStatus, tt.wantErr)
			}
		})
	}
	t.Run("expired code", func(t *testing.T) {
		f := e.authorize()
		cb := e.login(browser(t), f, "038085001234")
		e.clock.Advance(codeTTL + time.Second)
		status, code := e.tokenRequest(t, good(cb.Query().Get("code"), f.verifier), testClient, testSecret)
		if status != 400 || code != "invalid_grant" {
			t.Fatalf("got %d %q", status, code)
		}
	})
}

func TestLevelTwoWithLevelOneCitizenIsDenied(t *testing.T) {
	e := newEnv(t)
	for _, number := range []string{"038303002468", "038216009753"} {
		t.Run(number, func(t *testing.T) {
			c := browser(t)
			f := e.authorize(oauth2.SetAuthURLParam("acr_values", "2"))
			cb := e.login(c, f, number)
			if cb.Query().Get("error") != "access_denied" || cb.Query().Has("code") {
				t.Fatalf("callback = %s", cb)
			}
			// The citizen saw a clear page on the way: check it directly.
			f = e.authorize(oauth2.SetAuthURLParam("acr_values", "2"))
			page := e.loginPage(t, c, f)
			resp := e.post(t, c, page, url.Values{"action": {"login"}, "cccd": {number}, "password": {DevPassword}})
			_, body := get(t, c, e.srv.URL+resp.Header.Get("Location"))
			if !strings.Contains(body, `data-stage="insufficient"`) || !strings.Contains(body, "mức độ 2") {
				t.Fatalf("insufficient page missing:\n%s", body)
			}
		})
	}
	t.Run("level 1 request is fine", func(t *testing.T) {
		f := e.authorize(oauth2.SetAuthURLParam("acr_values", "1"))
		if cb := e.login(browser(t), f, "038303002468"); !cb.Query().Has("code") {
			t.Fatalf("callback = %s", cb)
		}
	})
}

// loginPage starts a flow and returns the login page's body.
func (e *env) loginPage(t *testing.T, c *http.Client, f flow) string {
	t.Helper()
	resp, _ := get(t, c, f.url)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	resp, body := get(t, c, e.srv.URL+resp.Header.Get("Location"))
	if resp.StatusCode != 200 {
		t.Fatalf("login page: %d", resp.StatusCode)
	}
	return body
}

// post submits the page's hidden fields plus extra to /login.
func (e *env) post(t *testing.T, c *http.Client, page string, extra url.Values) *http.Response {
	t.Helper()
	form := url.Values{}
	for _, m := range reHidden.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], m[2])
	}
	for k, v := range extra {
		form[k] = v
	}
	resp, err := c.PostForm(e.issuer+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestCancel(t *testing.T) {
	e := newEnv(t)
	for _, stageName := range []string{"password", "otp"} {
		t.Run(stageName, func(t *testing.T) {
			c := browser(t)
			f := e.authorize()
			page := e.loginPage(t, c, f)
			if stageName == "otp" {
				resp := e.post(t, c, page, url.Values{"action": {"login"}, "cccd": {"038092004567"}, "password": {DevPassword}})
				_, page = get(t, c, e.srv.URL+resp.Header.Get("Location"))
				if !strings.Contains(page, `data-stage="otp"`) {
					t.Fatal("no OTP page")
				}
			}
			resp := e.post(t, c, page, url.Values{"action": {"cancel"}})
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "access_denied" ||
				loc.Query().Get("state") != f.state || !strings.HasPrefix(loc.String(), testRedirect+"?") {
				t.Fatalf("cancel: %d %s", resp.StatusCode, loc)
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	page := e.loginPage(t, c, e.authorize())
	tests := []struct {
		name   string
		client *http.Client
		csrf   string
	}{
		{"wrong token", c, "forged-forged-forged-forged-forged-forged-1"},
		{"empty token", c, ""},
		{"other browser", browser(t), ""}, // no cookie at all; token from the page
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := url.Values{"action": {"login"}, "cccd": {"038085001234"}, "password": {DevPassword}}
			if tt.name != "other browser" {
				extra.Set("csrf", tt.csrf)
			}
			resp := e.post(t, tt.client, page, extra)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", resp.StatusCode)
			}
		})
	}
	// The honest browser can still finish.
	resp := e.post(t, c, page, url.Values{"action": {"login"}, "cccd": {"038085001234"}, "password": {DevPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("honest post: %d", resp.StatusCode)
	}
}

func TestSSOPromptAndMaxAge(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	redirectsTo := func(f flow) *url.URL {
		t.Helper()
		resp, _ := get(t, c, f.url)
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	toLogin := func(u *url.URL) bool { return strings.HasSuffix(u.Path, "/eid/login") }

	if loc := redirectsTo(e.authorize(oauth2.SetAuthURLParam("prompt", "none"))); loc.Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none without session: %s", loc)
	}
	e.login(c, e.authorize(), "038085001234")

	tests := []struct {
		name      string
		opts      []oauth2.AuthCodeOption
		advance   time.Duration
		wantLogin bool
		wantErr   string
	}{
		{"sso skips the form", nil, 0, false, ""},
		{"prompt=none with session", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "none")}, 0, false, ""},
		{"prompt=login forces", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login")}, 0, true, ""},
		{"max_age=0 forces", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "0")}, 0, true, ""},
		{"max_age fresh enough", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "600")}, 0, false, ""},
		{"max_age passed", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "60")}, 2 * time.Minute, true, ""},
		{"max_age passed, prompt=none", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "60"),
			oauth2.SetAuthURLParam("prompt", "none")}, 0, false, "login_required"},
		{"session expired", nil, sessionTTL, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(tt.advance)
			f := e.authorize(tt.opts...)
			loc := redirectsTo(f)
			switch {
			case tt.wantLogin:
				if !toLogin(loc) {
					t.Fatalf("want the login form, got %s", loc)
				}
			case tt.wantErr != "":
				if loc.Query().Get("error") != tt.wantErr {
					t.Fatalf("want error %s, got %s", tt.wantErr, loc)
				}
			default:
				if !loc.Query().Has("code") || loc.Query().Get("state") != f.state {
					t.Fatalf("want a code, got %s", loc)
				}
				tok, err := e.oauth.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(f.verifier))
				if err != nil {
					t.Fatal(err)
				}
				idt, err := e.oidc.Verifier(&oidc.Config{ClientID: testClient, Now: e.clock.Now}).Verify(context.Background(), tok.Extra("id_token").(string))
				if err != nil || idt.Nonce != f.nonce {
					t.Fatalf("SSO token: %v", err)
				}
			}
		})
	}
}

func TestSSOLevelTooLow(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	e.login(c, e.authorize(), "038303002468") // level 1 session
	resp, _ := get(t, c, e.authorize(oauth2.SetAuthURLParam("acr_values", "2"), oauth2.SetAuthURLParam("prompt", "none")).url)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("error") != "access_denied" {
		t.Fatalf("got %s", loc)
	}
}

func TestBadCredentialsAndOTP(t *testing.T) {
	e := newEnv(t)
	_, err := Login(context.Background(), browser(t), e.authorize().url, "038085001234", "wrong")
	if err != ErrBadCredentials {
		t.Fatalf("err = %v", err)
	}
	c := browser(t)
	page := e.loginPage(t, c, e.authorize())
	resp := e.post(t, c, page, url.Values{"action": {"login"}, "cccd": {"038085001234"}, "password": {DevPassword}})
	_, page = get(t, c, e.srv.URL+resp.Header.Get("Location"))
	for i := 0; i < maxFailures-1; i++ {
		resp = e.post(t, c, page, url.Values{"action": {"otp"}, "otp": {"abcdef"}})
		if resp.StatusCode != 200 {
			t.Fatalf("wrong OTP %d: %d", i, resp.StatusCode)
		}
	}
	resp = e.post(t, c, page, url.Values{"action": {"otp"}, "otp": {"abcdef"}})
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("error") != "access_denied" {
		t.Fatalf("after %d wrong codes: %d %s", maxFailures, resp.StatusCode, loc)
	}
}

func TestAuthorizeErrors(t *testing.T) {
	e := newEnv(t)
	base := url.Values{"response_type": {"code"}, "client_id": {testClient}, "redirect_uri": {testRedirect},
		"scope": {"openid"}, "state": {"st"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
		"code_challenge_method": {"S256"}}
	tests := []struct {
		name       string
		change     func(v url.Values)
		wantStatus int    // for pages
		wantErr    string // for redirects
	}{
		{"unknown client", func(v url.Values) { v.Set("client_id", "x") }, 400, ""},
		{"unregistered redirect", func(v url.Values) { v.Set("redirect_uri", testRedirect+"x") }, 400, ""},
		{"no PKCE", func(v url.Values) { v.Del("code_challenge") }, 303, "invalid_request"},
		{"plain PKCE", func(v url.Values) { v.Set("code_challenge_method", "plain") }, 303, "invalid_request"},
		{"no openid", func(v url.Values) { v.Set("scope", "profile") }, 303, "invalid_scope"},
		{"token flow", func(v url.Values) { v.Set("response_type", "token") }, 303, "unsupported_response_type"},
		{"bad max_age", func(v url.Values) { v.Set("max_age", "-3") }, 303, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := url.Values{}
			for k, x := range base {
				v[k] = append([]string(nil), x...)
			}
			tt.change(v)
			resp, _ := get(t, browser(t), e.issuer+"/authorize?"+v.Encode())
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if tt.wantErr != "" {
				loc, _ := url.Parse(resp.Header.Get("Location"))
				if loc.Query().Get("error") != tt.wantErr || loc.Query().Get("state") != "st" {
					t.Fatalf("redirect %s", loc)
				}
			}
		})
	}
}

func TestEndSession(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	f := e.authorize()
	cb := e.login(c, f, "038085001234")
	tok, err := e.oauth.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	hint := tok.Extra("id_token").(string)

	resp, _ := get(t, c, e.issuer+"/end_session?"+url.Values{"id_token_hint": {hint},
		"post_logout_redirect_uri": {testBye + "x"}}.Encode())
	if resp.StatusCode != 400 {
		t.Fatalf("unregistered post_logout_redirect_uri: %d", resp.StatusCode)
	}
	resp, _ = get(t, c, e.issuer+"/end_session?"+url.Values{"id_token_hint": {hint},
		"post_logout_redirect_uri": {testBye}, "state": {"s1"}}.Encode())
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != testBye+"?state=s1" {
		t.Fatalf("end_session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = get(t, c, e.authorize(oauth2.SetAuthURLParam("prompt", "none")).url)
	if loc, _ := url.Parse(resp.Header.Get("Location")); loc.Query().Get("error") != "login_required" {
		t.Fatalf("session survived logout: %s", loc)
	}
	resp, body := get(t, c, e.issuer+"/end_session")
	if resp.StatusCode != 200 || !strings.Contains(body, "Bạn đã đăng xuất") {
		t.Fatalf("logout page: %d", resp.StatusCode)
	}
}

func TestPagesLanguageAndHeaders(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, uiLocales, lang string
		want                  []string
	}{
		{"vietnamese default", "", "", []string{`lang="vi"`, "Số định danh cá nhân", "Hủy", "Nguyễn Văn Lĩnh", "Lê Công Hảo", DevPassword, "038085001234"}},
		{"ui_locales en", "en-US vi", "", []string{`lang="en"`, "Personal ID number", "Cancel"}},
		{"switch to en", "", "en", []string{`lang="en"`, "Log in", "Tiếng Việt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := browser(t)
			f := e.authorize(oauth2.SetAuthURLParam("ui_locales", tt.uiLocales))
			resp, _ := get(t, c, f.url)
			u := e.srv.URL + resp.Header.Get("Location")
			if tt.lang != "" {
				u += "&lang=" + tt.lang
			}
			resp, body := get(t, c, u)
			for _, w := range append(tt.want, `name="viewport"`, `name="csrf"`) {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			h := resp.Header
			if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
				!strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") ||
				h.Get("X-Frame-Options") != "DENY" {
				t.Errorf("security headers: %v", h)
			}
			for _, ck := range c.Jar.Cookies(resp.Request.URL) {
				if ck.Name != browserCookie {
					t.Errorf("cookie %s", ck.Name)
				}
			}
		})
	}
	t.Run("cookie flags", func(t *testing.T) {
		resp, _ := get(t, browser(t), e.authorize().url)
		for _, ck := range resp.Cookies() {
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
				t.Errorf("cookie %s: HttpOnly=%v SameSite=%v", ck.Name, ck.HttpOnly, ck.SameSite)
			}
		}
	})
}

func TestUserinfoRejectsBadTokens(t *testing.T) {
	e := newEnv(t)
	for _, tok := range []string{"", "Bearer nope", "Basic eDp5"} {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
		if tok != "" {
			req.Header.Set("Authorization", tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("%q: %d", tok, resp.StatusCode)
		}
	}
}

func TestStateExpires(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 5; i++ {
		get(t, browser(t), e.authorize().url)
	}
	if n, _, _ := e.p.st.size(); n != 5 {
		t.Fatalf("pending = %d", n)
	}
	e.clock.Advance(pendingTTL + time.Minute)
	get(t, browser(t), e.authorize().url)
	if n, _, _ := e.p.st.size(); n != 1 {
		t.Fatalf("pending after expiry = %d", n)
	}
}

func TestConcurrentLogins(t *testing.T) {
	e := newEnv(t)
	citizens := DefaultCitizens()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := citizens[i%len(citizens)]
			f := e.authorize()
			cb, err := Login(context.Background(), &http.Client{}, f.url, c.CCCD, DevPassword)
			if err != nil {
				errs <- err
				return
			}
			if _, err := e.oauth.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(f.verifier)); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
