package authflow_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/motlan/motlan/idp/internal/idptest"
)

// TestAuthorizeBadInput sends malformed authorization requests over HTTP. Anything wrong
// before the client and redirect URI are validated must be a page; anything after, a
// redirect to the registered URI with error, state and iss (RFC 6749 4.1.2.1, RFC 9207).
func TestAuthorizeBadInput(t *testing.T) {
	h := idptest.New(t, true)
	const state = "st-ăâđ-123"
	enc := func(q url.Values) string { return q.Encode() }
	_, challenge := idptest.PKCE()

	tests := []struct {
		name     string
		method   string // GET unless set
		rawQuery string // for GET: the query; for POST: the body
		// wantStatus is the page status when wantRedirect is empty.
		wantStatus   int
		wantRedirect string // the registered URI the error goes to
		wantError    string
		wantNoState  bool // state must be absent (it was repeated, so not trusted)
	}{
		// Before the client is trusted: pages, never redirects.
		{name: "unknown client_id", rawQuery: enc(idptest.AuthQuery("web", "client_id", "nobody")), wantStatus: 400},
		{name: "missing client_id", rawQuery: enc(idptest.AuthQuery("web", "client_id", "\x00delete")), wantStatus: 400},
		{name: "client_id differently cased", rawQuery: enc(idptest.AuthQuery("web", "client_id", "WEB")), wantStatus: 400},
		{name: "unregistered redirect_uri", rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", "https://evil.example/cb")), wantStatus: 400},
		{name: "missing redirect_uri", rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", "\x00delete")), wantStatus: 400},
		{name: "redirect_uri with extra path", rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", idptest.WebRedirect+"/../evil")), wantStatus: 400},
		{name: "redirect_uri prefix match", rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", idptest.WebRedirect+"x")), wantStatus: 400},
		{name: "redirect_uri prefix of registered", rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", "https://web.example.vn/c")), wantStatus: 400},
		{name: "redirect_uri with added query", rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", idptest.WebRedirect+"?next=https://evil.example")), wantStatus: 400},
		{name: "redirect_uri with trailing slash", rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", idptest.WebRedirect+"/")), wantStatus: 400},
		{name: "redirect_uri host differently cased", rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", "https://WEB.example.vn/cb")), wantStatus: 400},
		{name: "redirect_uri path differently cased", rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", "https://web.example.vn/CB")), wantStatus: 400},
		{name: "redirect_uri scheme downgraded", rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", "http://web.example.vn/cb")), wantStatus: 400},
		{name: "redirect_uri with default port", rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", "https://web.example.vn:443/cb")), wantStatus: 400},
		{name: "redirect_uri with fragment", rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", idptest.WebRedirect+"#x")), wantStatus: 400},
		{name: "redirect_uri of another client", rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", idptest.PostRedirect)), wantStatus: 400},
		{name: "loopback redirect_uri other port", rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", "http://127.0.0.1:9999/cb")), wantStatus: 400},
		{name: "repeated client_id", rawQuery: enc(idptest.AuthQuery("web")) + "&client_id=web", wantStatus: 400},
		{name: "repeated redirect_uri", rawQuery: enc(idptest.AuthQuery("web")) + "&redirect_uri=" + url.QueryEscape(idptest.WebRedirect), wantStatus: 400},
		{name: "unparsable query", rawQuery: enc(idptest.AuthQuery("web")) + "&x=%zz", wantStatus: 400},

		// After the client is trusted: redirects with an error.
		{name: "repeated scope", rawQuery: enc(idptest.AuthQuery("web")) + "&scope=openid", wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "repeated state", rawQuery: enc(idptest.AuthQuery("web")) + "&state=other", wantRedirect: idptest.WebRedirect, wantError: "invalid_request", wantNoState: true},
		{name: "repeated unknown parameter", rawQuery: enc(idptest.AuthQuery("web")) + "&foo=1&foo=2", wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "missing response_type", rawQuery: enc(idptest.AuthQuery("web", "response_type", "\x00delete")), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "response_type token", rawQuery: enc(idptest.AuthQuery("web", "response_type", "token")), wantRedirect: idptest.WebRedirect, wantError: "unsupported_response_type"},
		{name: "response_type code id_token", rawQuery: enc(idptest.AuthQuery("web", "response_type", "code id_token")), wantRedirect: idptest.WebRedirect, wantError: "unsupported_response_type"},
		{name: "response_type CODE", rawQuery: enc(idptest.AuthQuery("web", "response_type", "CODE")), wantRedirect: idptest.WebRedirect, wantError: "unsupported_response_type"},
		{name: "response_mode fragment", rawQuery: enc(idptest.AuthQuery("web", "response_mode", "fragment")), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "response_mode form_post", rawQuery: enc(idptest.AuthQuery("web", "response_mode", "form_post")), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "scope without openid", rawQuery: enc(idptest.AuthQuery("web", "scope", "profile")), wantRedirect: idptest.WebRedirect, wantError: "invalid_scope"},
		{name: "missing scope", rawQuery: enc(idptest.AuthQuery("web", "scope", "\x00delete")), wantRedirect: idptest.WebRedirect, wantError: "invalid_scope"},
		{name: "scope OPENID cased", rawQuery: enc(idptest.AuthQuery("web", "scope", "OPENID")), wantRedirect: idptest.WebRedirect, wantError: "invalid_scope"},
		{name: "scope not allowed for client", rawQuery: enc(idptest.AuthQuery("post", "scope", "openid address")), wantRedirect: idptest.PostRedirect, wantError: "invalid_scope"},
		{name: "cccd scope not allowed for client", rawQuery: enc(idptest.AuthQuery("post", "scope", "openid cccd")), wantRedirect: idptest.PostRedirect, wantError: "invalid_scope"},
		{name: "unknown scope", rawQuery: enc(idptest.AuthQuery("web", "scope", "openid admin")), wantRedirect: idptest.WebRedirect, wantError: "invalid_scope"},
		{name: "PKCE plain", rawQuery: enc(idptest.AuthQuery("web", "code_challenge", challenge, "code_challenge_method", "plain")), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "PKCE challenge without method", rawQuery: enc(idptest.AuthQuery("web", "code_challenge", challenge)), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "PKCE method without challenge", rawQuery: enc(idptest.AuthQuery("web", "code_challenge_method", "S256")), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "PKCE challenge 42 chars", rawQuery: enc(idptest.AuthQuery("web", "code_challenge", challenge[:42], "code_challenge_method", "S256")), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "PKCE challenge 44 chars", rawQuery: enc(idptest.AuthQuery("web", "code_challenge", challenge+"A", "code_challenge_method", "S256")), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "PKCE challenge bad characters", rawQuery: enc(idptest.AuthQuery("web", "code_challenge", "+"+challenge[1:], "code_challenge_method", "S256")), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "PKCE method s256 lowercase", rawQuery: enc(idptest.AuthQuery("web", "code_challenge", challenge, "code_challenge_method", "s256")), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "public client without PKCE", rawQuery: enc(idptest.AuthQuery("spa")), wantRedirect: idptest.SPARedirect, wantError: "invalid_request"},
		{name: "public client with plain PKCE", rawQuery: enc(idptest.AuthQuery("spa", "code_challenge", challenge, "code_challenge_method", "plain")), wantRedirect: idptest.SPARedirect, wantError: "invalid_request"},
		{name: "prompt none with login", rawQuery: enc(idptest.AuthQuery("web", "prompt", "none login")), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "prompt unknown value", rawQuery: enc(idptest.AuthQuery("web", "prompt", "create")), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "prompt none without session", rawQuery: enc(idptest.AuthQuery("web", "prompt", "none")), wantRedirect: idptest.WebRedirect, wantError: "login_required"},
		{name: "max_age negative", rawQuery: enc(idptest.AuthQuery("web", "max_age", "-1")), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "max_age not a number", rawQuery: enc(idptest.AuthQuery("web", "max_age", "ten")), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "max_age fractional", rawQuery: enc(idptest.AuthQuery("web", "max_age", "1.5")), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "max_age overflows int", rawQuery: enc(idptest.AuthQuery("web", "max_age", "99999999999999999999")), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "claims not JSON", rawQuery: enc(idptest.AuthQuery("web", "claims", `{"id_token":`)), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "claims JSON array", rawQuery: enc(idptest.AuthQuery("web", "claims", `[]`)), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "claims JSON null", rawQuery: enc(idptest.AuthQuery("web", "claims", `null`)), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "claims member wrong type", rawQuery: enc(idptest.AuthQuery("web", "claims", `{"userinfo":{"name":true}}`)), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "claims target wrong type", rawQuery: enc(idptest.AuthQuery("web", "claims", `{"id_token":"name"}`)), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "request object", rawQuery: enc(idptest.AuthQuery("web", "request", "eyJhbGciOiJub25lIn0.e30.")), wantRedirect: idptest.WebRedirect, wantError: "request_not_supported"},
		{name: "request_uri", rawQuery: enc(idptest.AuthQuery("web", "request_uri", "https://web.example.vn/req/1")), wantRedirect: idptest.WebRedirect, wantError: "request_uri_not_supported"},
		{name: "nonce too long", rawQuery: enc(idptest.AuthQuery("web", "nonce", strings.Repeat("n", 513))), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "state too long", rawQuery: enc(idptest.AuthQuery("web", "state", state+strings.Repeat("s", 2048))), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "login_hint too long", rawQuery: enc(idptest.AuthQuery("web", "login_hint", strings.Repeat("0", 257))), wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "error to registered URI with query keeps its query", rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", idptest.QueryRedirect, "response_type", "token")), wantRedirect: idptest.QueryRedirect, wantError: "unsupported_response_type"},

		// POST works like GET, from the body.
		{name: "POST unknown client", method: http.MethodPost, rawQuery: enc(idptest.AuthQuery("web", "client_id", "nobody")), wantStatus: 400},
		{name: "POST unregistered redirect_uri", method: http.MethodPost, rawQuery: enc(idptest.AuthQuery("web", "redirect_uri", "https://evil.example/cb")), wantStatus: 400},
		{name: "POST response_type token", method: http.MethodPost, rawQuery: enc(idptest.AuthQuery("web", "response_type", "token")), wantRedirect: idptest.WebRedirect, wantError: "unsupported_response_type"},
		{name: "POST missing openid", method: http.MethodPost, rawQuery: enc(idptest.AuthQuery("web", "scope", "profile")), wantRedirect: idptest.WebRedirect, wantError: "invalid_scope"},
		{name: "POST repeated parameter", method: http.MethodPost, rawQuery: enc(idptest.AuthQuery("web")) + "&nonce=2", wantRedirect: idptest.WebRedirect, wantError: "invalid_request"},
		{name: "POST body too large", method: http.MethodPost, rawQuery: enc(idptest.AuthQuery("web")) + "&pad=" + strings.Repeat("a", 65<<10), wantStatus: 400},

		// Other methods.
		{name: "PUT", method: http.MethodPut, rawQuery: enc(idptest.AuthQuery("web")), wantStatus: 405},
		{name: "DELETE", method: http.MethodDelete, rawQuery: enc(idptest.AuthQuery("web")), wantStatus: 405},
		{name: "PATCH", method: http.MethodPatch, rawQuery: enc(idptest.AuthQuery("web")), wantStatus: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			var req *http.Request
			if method == http.MethodPost {
				req, _ = http.NewRequest(method, h.Issuer+"/authorize", strings.NewReader(tt.rawQuery))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				req, _ = http.NewRequest(method, h.Issuer+"/authorize?"+tt.rawQuery, nil)
			}
			resp, err := idptest.NoJar().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := idptest.ReadBody(t, resp)
			loc := resp.Header.Get("Location")
			if tt.wantRedirect == "" {
				if resp.StatusCode != tt.wantStatus {
					t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
				}
				if loc != "" {
					t.Errorf("Location = %q, want no redirect", loc)
				}
				if tt.wantStatus == 405 {
					if a := resp.Header.Get("Allow"); a != "GET, POST" {
						t.Errorf("Allow = %q, want GET, POST", a)
					}
					return
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("Content-Type = %q, want text/html", ct)
				}
				if !strings.Contains(string(body), "<html") {
					t.Errorf("body is not an HTML page: %.200s", body)
				}
				return
			}
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status = %d, want 302 to %s (body %.300s)", resp.StatusCode, tt.wantRedirect, body)
			}
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := url.Parse(tt.wantRedirect)
			if u.Scheme != want.Scheme || u.Host != want.Host || u.Path != want.Path {
				t.Errorf("redirected to %q, want %q", loc, tt.wantRedirect)
			}
			q := u.Query()
			for k, v := range want.Query() {
				if q.Get(k) != v[0] {
					t.Errorf("registered query parameter %s = %q lost, Location %q", k, q.Get(k), loc)
				}
			}
			if got := q.Get("error"); got != tt.wantError {
				t.Errorf("error = %q, want %q (%s)", got, tt.wantError, q.Get("error_description"))
			}
			if q.Get("error_description") == "" {
				t.Errorf("error_description is empty")
			}
			if q.Has("code") {
				t.Errorf("an error redirect carries a code: %q", loc)
			}
			if got := q.Get("iss"); got != h.Issuer {
				t.Errorf("iss = %q, want %q", got, h.Issuer)
			}
			switch {
			case tt.wantNoState && q.Has("state"):
				t.Errorf("state = %q, want none (it was repeated)", q.Get("state"))
			case !tt.wantNoState && !strings.HasPrefix(q.Get("state"), state):
				t.Errorf("state = %q, want %q", q.Get("state"), state)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
		})
	}
}

// TestAuthorizeGoodRequestGoesUpstream checks that valid requests, by GET and POST, send the
// browser to the eID, bind the transaction with a motlan_tx_ cookie, and pass the ACR, login
// and locale options on.
func TestAuthorizeGoodRequestGoesUpstream(t *testing.T) {
	h := idptest.New(t, true)
	_, challenge := idptest.PKCE()
	tests := []struct {
		name   string
		method string
		q      url.Values
	}{
		{name: "GET confidential", method: http.MethodGet, q: idptest.AuthQuery("web")},
		{name: "POST confidential", method: http.MethodPost, q: idptest.AuthQuery("web")},
		{name: "GET public with PKCE", method: http.MethodGet, q: idptest.AuthQuery("spa", "code_challenge", challenge, "code_challenge_method", "S256")},
		{name: "POST public with PKCE", method: http.MethodPost, q: idptest.AuthQuery("spa", "code_challenge", challenge, "code_challenge_method", "S256")},
		{name: "duplicate scope values deduplicated", method: http.MethodGet, q: idptest.AuthQuery("web", "scope", "openid openid profile profile")},
		{name: "loopback redirect", method: http.MethodGet, q: idptest.AuthQuery("web", "redirect_uri", "http://127.0.0.1:8765/cb")},
		{name: "registered redirect with query", method: http.MethodGet, q: idptest.AuthQuery("web", "redirect_uri", idptest.QueryRedirect)},
		{name: "all options", method: http.MethodGet, q: idptest.AuthQuery("web", "scope", "openid profile address phone cccd offline_access",
			"prompt", "login consent", "max_age", "0", "acr_values", "2", "ui_locales", "en-US vi", "login_hint", "034090001234",
			"claims", `{"id_token":{"name":null,"acr":{"essential":true,"values":["2"]}},"userinfo":{"address":{"essential":true}}}`)},
		{name: "unknown parameters ignored", method: http.MethodGet, q: idptest.AuthQuery("web", "foo", "bar", "lang", "en")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req *http.Request
			if tt.method == http.MethodPost {
				req, _ = http.NewRequest(tt.method, h.Issuer+"/authorize", strings.NewReader(tt.q.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				req, _ = http.NewRequest(tt.method, h.Issuer+"/authorize?"+tt.q.Encode(), nil)
			}
			resp, err := idptest.NoJar().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			idptest.ReadBody(t, resp)
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, idptest.FakeEIDAuthURL+"?") {
				t.Fatalf("status %d Location %q, want a redirect to the eID", resp.StatusCode, loc)
			}
			var tx *http.Cookie
			for _, c := range resp.Cookies() {
				if strings.HasPrefix(c.Name, "motlan_tx_") {
					tx = c
				}
			}
			if tx == nil || !tx.HttpOnly || tx.Path != "/eid/callback" || tx.SameSite != http.SameSiteLaxMode {
				t.Errorf("transaction cookie = %+v, want HttpOnly, Path /eid/callback, SameSite=Lax", tx)
			}
		})
	}
}

// TestAuthorizeFullLoginRedirect checks the success redirect: code, state and iss, to the
// exact registered URI, keeping the registered query.
func TestAuthorizeFullLoginRedirect(t *testing.T) {
	h := idptest.New(t, true)
	resp := h.Login(h.Browser(), idptest.AuthQuery("web", "redirect_uri", idptest.QueryRedirect))
	idptest.ReadBody(t, resp)
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	q := u.Query()
	if u.Scheme+"://"+u.Host+u.Path != "https://web.example.vn/cb2" || q.Get("tenant") != "hn" {
		t.Errorf("Location %q, want the registered %q plus parameters", u, idptest.QueryRedirect)
	}
	if q.Get("code") == "" || q.Get("state") != "st-ăâđ-123" || q.Get("iss") != h.Issuer {
		t.Errorf("code=%q state=%q iss=%q", q.Get("code"), q.Get("state"), q.Get("iss"))
	}
}

// TestCallbackBadInput covers the eID callback's refusals: they are pages, and a callback in
// a browser that did not start the login does nothing.
func TestCallbackBadInput(t *testing.T) {
	h := idptest.New(t, true)
	start := func(b *http.Client) string {
		resp, err := b.Get(h.Issuer + "/authorize?" + idptest.AuthQuery("web").Encode())
		if err != nil {
			t.Fatal(err)
		}
		idptest.ReadBody(t, resp)
		u, _ := url.Parse(resp.Header.Get("Location"))
		return u.Query().Get("state")
	}
	tests := []struct {
		name       string
		query      func() (*http.Client, string)
		wantStatus int
		wantError  string // redirect error to the client, else a page
	}{
		{name: "missing state", query: func() (*http.Client, string) { return h.Browser(), "code=x" }, wantStatus: 400},
		{name: "unknown state", query: func() (*http.Client, string) { return h.Browser(), "state=nope&code=x" }, wantStatus: 400},
		{name: "repeated state", query: func() (*http.Client, string) {
			b := h.Browser()
			s := start(b)
			return b, "state=" + s + "&state=" + s + "&code=x"
		}, wantStatus: 400},
		{name: "other browser", query: func() (*http.Client, string) {
			s := start(h.Browser())
			return h.Browser(), "state=" + s + "&code=x"
		}, wantStatus: 400},
		{name: "eID denied", query: func() (*http.Client, string) {
			b := h.Browser()
			return b, "state=" + start(b) + "&error=access_denied"
		}, wantError: "access_denied"},
		{name: "eID code not accepted", query: func() (*http.Client, string) {
			b := h.Browser()
			return b, "state=" + start(b) + "&code=bad"
		}, wantError: "access_denied"},
		{name: "eID code too long", query: func() (*http.Client, string) {
			b := h.Browser()
			return b, "state=" + start(b) + "&code=" + strings.Repeat("c", 2049)
		}, wantError: "access_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, q := tt.query()
			resp, err := b.Get(h.Issuer + "/eid/callback?" + q)
			if err != nil {
				t.Fatal(err)
			}
			idptest.ReadBody(t, resp)
			loc := resp.Header.Get("Location")
			if tt.wantError == "" {
				if resp.StatusCode != tt.wantStatus || loc != "" {
					t.Errorf("status %d Location %q, want a %d page", resp.StatusCode, loc, tt.wantStatus)
				}
				return
			}
			u, _ := url.Parse(loc)
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, idptest.WebRedirect+"?") {
				t.Fatalf("status %d Location %q, want a redirect to %s", resp.StatusCode, loc, idptest.WebRedirect)
			}
			if got := u.Query(); got.Get("error") != tt.wantError || got.Get("iss") != h.Issuer || got.Get("state") != "st-ăâđ-123" {
				t.Errorf("error=%q iss=%q state=%q", got.Get("error"), got.Get("iss"), got.Get("state"))
			}
		})
	}
}
