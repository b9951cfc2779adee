package idp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// TestTokenBadInput sends malformed and unauthorized token requests. Every failure is an RFC
// 6749 5.2 JSON error with Cache-Control: no-store.
func TestTokenBadInput(t *testing.T) {
	h := newHarness(t, true)
	web, post := h.secrets["web"], h.secrets["post"]
	codeForm := func(code, redirect string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	}
	webCode := func() string { return h.code(authQuery("web")) }

	type req struct {
		method, contentType, query, body string
		user, pass                       string // HTTP Basic when user is set
	}
	form := func(f url.Values, user, pass string) req {
		return req{body: f.Encode(), user: user, pass: pass}
	}
	tests := []struct {
		name          string
		req           func(t *testing.T) req
		wantStatus    int
		wantError     string
		wantChallenge bool // WWW-Authenticate: Basic
	}{
		// Request shape.
		{name: "GET", req: func(*testing.T) req { return req{method: http.MethodGet, query: "grant_type=authorization_code"} }, wantStatus: 405, wantError: "invalid_request"},
		{name: "PUT", req: func(*testing.T) req { return req{method: http.MethodPut, body: "grant_type=authorization_code"} }, wantStatus: 405, wantError: "invalid_request"},
		{name: "JSON content type", req: func(*testing.T) req {
			return req{contentType: "application/json", body: `{"grant_type":"authorization_code"}`, user: "web", pass: web}
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "multipart content type", req: func(*testing.T) req {
			return req{contentType: "multipart/form-data; boundary=x", body: "--x--", user: "web", pass: web}
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "no content type", req: func(*testing.T) req {
			return req{contentType: "-", body: "grant_type=authorization_code", user: "web", pass: web}
		},
			wantStatus: 400, wantError: "invalid_request"},
		{name: "params in query", req: func(*testing.T) req {
			return req{query: "code=abc", body: "grant_type=authorization_code", user: "web", pass: web}
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "all params in query", req: func(*testing.T) req {
			return req{query: codeForm("abc", webRedirect).Encode(), user: "web", pass: web}
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "repeated param", req: func(*testing.T) req {
			return req{body: codeForm("abc", webRedirect).Encode() + "&code=def", user: "web", pass: web}
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "repeated grant_type", req: func(*testing.T) req {
			return req{body: codeForm("abc", webRedirect).Encode() + "&grant_type=refresh_token", user: "web", pass: web}
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "body too large", req: func(*testing.T) req {
			return req{body: codeForm("abc", webRedirect).Encode() + "&pad=" + strings.Repeat("a", 65<<10), user: "web", pass: web}
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "unparsable body", req: func(*testing.T) req { return req{body: "grant_type=%zz", user: "web", pass: web} },
			wantStatus: 400, wantError: "invalid_request"},

		// Client authentication.
		{name: "no client auth at all", req: func(*testing.T) req { return form(codeForm("abc", webRedirect), "", "") },
			wantStatus: 401, wantError: "invalid_client"},
		{name: "confidential client sends only client_id", req: func(*testing.T) req {
			f := codeForm("abc", webRedirect)
			f.Set("client_id", "web")
			return form(f, "", "")
		}, wantStatus: 401, wantError: "invalid_client"},
		{name: "unknown client with Basic", req: func(*testing.T) req { return form(codeForm("abc", webRedirect), "nobody", web) },
			wantStatus: 401, wantError: "invalid_client", wantChallenge: true},
		{name: "wrong secret with Basic", req: func(*testing.T) req { return form(codeForm("abc", webRedirect), "web", web+"x") },
			wantStatus: 401, wantError: "invalid_client", wantChallenge: true},
		{name: "empty secret with Basic", req: func(*testing.T) req { return form(codeForm("abc", webRedirect), "web", "") },
			wantStatus: 401, wantError: "invalid_client", wantChallenge: true},
		{name: "another client's secret with Basic", req: func(*testing.T) req { return form(codeForm("abc", webRedirect), "web", h.secrets["other"]) },
			wantStatus: 401, wantError: "invalid_client", wantChallenge: true},
		{name: "Basic not form-encoded", req: func(*testing.T) req {
			return req{body: codeForm("abc", webRedirect).Encode(), user: "web%zz", pass: web}
		},
			wantStatus: 401, wantError: "invalid_client", wantChallenge: true},
		{name: "wrong secret with post", req: func(*testing.T) req {
			f := codeForm("abc", postRedirect)
			f.Set("client_id", "post")
			f.Set("client_secret", post+"x")
			return form(f, "", "")
		}, wantStatus: 401, wantError: "invalid_client"},
		{name: "basic client uses client_secret_post", req: func(*testing.T) req {
			f := codeForm("abc", webRedirect)
			f.Set("client_id", "web")
			f.Set("client_secret", web)
			return form(f, "", "")
		}, wantStatus: 401, wantError: "invalid_client"},
		{name: "post client uses Basic", req: func(*testing.T) req { return form(codeForm("abc", postRedirect), "post", post) },
			wantStatus: 401, wantError: "invalid_client", wantChallenge: true},
		{name: "public client sends a secret", req: func(*testing.T) req {
			f := codeForm("abc", spaRedirect)
			f.Set("client_id", "spa")
			f.Set("client_secret", strings.Repeat("s", 40))
			return form(f, "", "")
		}, wantStatus: 401, wantError: "invalid_client"},
		{name: "Basic and client_secret", req: func(*testing.T) req {
			f := codeForm("abc", webRedirect)
			f.Set("client_secret", web)
			return form(f, "web", web)
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "Basic and another client_id in body", req: func(*testing.T) req {
			f := codeForm("abc", webRedirect)
			f.Set("client_id", "other")
			return form(f, "web", web)
		}, wantStatus: 400, wantError: "invalid_request"},

		// Grants.
		{name: "unknown grant_type", req: func(*testing.T) req { return form(url.Values{"grant_type": {"password"}}, "web", web) },
			wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "client_credentials without scope", req: func(*testing.T) req { return form(url.Values{"grant_type": {"client_credentials"}}, "web", web) },
			wantStatus: 400, wantError: "invalid_scope"},
		{name: "client_credentials for a citizen-data scope", req: func(*testing.T) req {
			return form(url.Values{"grant_type": {"client_credentials"}, "scope": {"profile"}}, "web", web)
		}, wantStatus: 400, wantError: "invalid_scope"},
		{name: "client_credentials for a scope the client lacks", req: func(*testing.T) req {
			return form(url.Values{"grant_type": {"client_credentials"}, "scope": {"signing"}}, "web", web)
		}, wantStatus: 400, wantError: "invalid_scope"},
		{name: "missing grant_type", req: func(*testing.T) req { return form(url.Values{"code": {"abc"}}, "web", web) },
			wantStatus: 400, wantError: "invalid_request"},
		{name: "missing code", req: func(*testing.T) req {
			return form(url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {webRedirect}}, "web", web)
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "unknown code", req: func(*testing.T) req { return form(codeForm("abc", webRedirect), "web", web) },
			wantStatus: 400, wantError: "invalid_grant"},
		{name: "code too long", req: func(*testing.T) req { return form(codeForm(strings.Repeat("c", 300), webRedirect), "web", web) },
			wantStatus: 400, wantError: "invalid_request"},
		{name: "code of another client", req: func(*testing.T) req {
			return form(codeForm(webCode(), otherRedirect), "other", h.secrets["other"])
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "redirect_uri mismatch", req: func(*testing.T) req { return form(codeForm(webCode(), queryRedirect), "web", web) },
			wantStatus: 400, wantError: "invalid_grant"},
		{name: "redirect_uri missing", req: func(*testing.T) req {
			return form(url.Values{"grant_type": {"authorization_code"}, "code": {webCode()}}, "web", web)
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "PKCE downgrade", req: func(*testing.T) req {
			f := codeForm(webCode(), webRedirect)
			v, _ := pkce()
			f.Set("code_verifier", v)
			return form(f, "web", web)
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "PKCE wrong verifier", req: func(t *testing.T) req {
			_, c := pkce()
			f := codeForm(h.code(authQuery("web", "code_challenge", c, "code_challenge_method", "S256")), webRedirect)
			v, _ := pkce()
			f.Set("code_verifier", v)
			return form(f, "web", web)
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "PKCE missing verifier", req: func(t *testing.T) req {
			_, c := pkce()
			return form(codeForm(h.code(authQuery("web", "code_challenge", c, "code_challenge_method", "S256")), webRedirect), "web", web)
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "PKCE verifier too short", req: func(t *testing.T) req {
			v, c := pkce()
			f := codeForm(h.code(authQuery("web", "code_challenge", c, "code_challenge_method", "S256")), webRedirect)
			f.Set("code_verifier", v[:42])
			return form(f, "web", web)
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "public client missing verifier", req: func(t *testing.T) req {
			_, c := pkce()
			f := codeForm(h.code(authQuery("spa", "code_challenge", c, "code_challenge_method", "S256")), spaRedirect)
			f.Set("client_id", "spa")
			return form(f, "", "")
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "code replayed", req: func(t *testing.T) req {
			c := webCode()
			if r := h.redeem("web", c); r.status != 200 {
				t.Fatalf("first redemption: %d %s", r.status, r.raw)
			}
			return form(codeForm(c, webRedirect), "web", web)
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "unknown refresh token", req: func(*testing.T) req {
			return form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, "web", web)
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "missing refresh token", req: func(*testing.T) req { return form(url.Values{"grant_type": {"refresh_token"}}, "web", web) },
			wantStatus: 400, wantError: "invalid_request"},
		{name: "refresh token of another client", req: func(t *testing.T) req {
			r := h.redeem("web", webCode())
			return form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}, "other", h.secrets["other"])
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "refresh widening scope", req: func(t *testing.T) req {
			r := h.redeem("web", webCode())
			return form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}, "scope": {"openid profile cccd"}}, "web", web)
		}, wantStatus: 400, wantError: "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req(t)
			if r.method == "" {
				r.method = http.MethodPost
			}
			target := h.issuer + "/token"
			if r.query != "" {
				target += "?" + r.query
			}
			hr, _ := http.NewRequest(r.method, target, strings.NewReader(r.body))
			switch r.contentType {
			case "":
				hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case "-":
			default:
				hr.Header.Set("Content-Type", r.contentType)
			}
			if r.user != "" {
				hr.SetBasicAuth(r.user, r.pass)
			}
			resp := h.do(hr)
			checkJSONError(t, resp, tt.wantStatus, tt.wantError)
			got := resp.header.Get("WWW-Authenticate")
			if tt.wantChallenge && !strings.HasPrefix(got, "Basic ") {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge", got)
			}
			if !tt.wantChallenge && got != "" {
				t.Errorf("WWW-Authenticate = %q, want none", got)
			}
			if tt.wantStatus == 405 && resp.header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", resp.header.Get("Allow"))
			}
			if resp.str("access_token") != "" || resp.str("id_token") != "" {
				t.Errorf("an error response carries tokens: %s", resp.raw)
			}
		})
	}
}

// TestTokenSuccess checks the good path for each authentication method.
func TestTokenSuccess(t *testing.T) {
	h := newHarness(t, true)
	tests := []struct {
		name string
		do   func(t *testing.T) tokenResponse
	}{
		{name: "client_secret_basic", do: func(*testing.T) tokenResponse { return h.redeem("web", h.code(authQuery("web"))) }},
		{name: "client_secret_basic with PKCE", do: func(*testing.T) tokenResponse {
			v, c := pkce()
			return h.redeem("web", h.code(authQuery("web", "code_challenge", c, "code_challenge_method", "S256")), "code_verifier", v)
		}},
		{name: "client_secret_post", do: func(*testing.T) tokenResponse {
			f := url.Values{"grant_type": {"authorization_code"}, "code": {h.code(authQuery("post"))}, "redirect_uri": {postRedirect},
				"client_id": {"post"}, "client_secret": {h.secrets["post"]}}
			return h.postForm("/token", f, "", "")
		}},
		{name: "none with PKCE", do: func(*testing.T) tokenResponse {
			v, c := pkce()
			f := url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {spaRedirect}, "client_id": {"spa"}, "code_verifier": {v},
				"code": {h.code(authQuery("spa", "code_challenge", c, "code_challenge_method", "S256"))}}
			return h.postForm("/token", f, "", "")
		}},
		{name: "Basic with client_id repeated in body", do: func(*testing.T) tokenResponse {
			return h.redeem("web", h.code(authQuery("web")), "client_id", "web")
		}},
		{name: "refresh", do: func(t *testing.T) tokenResponse {
			r := h.redeem("web", h.code(authQuery("web")))
			return h.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}, "web", h.secrets["web"])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.do(t)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			if r.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("Cache-Control %q Content-Type %q", r.header.Get("Cache-Control"), r.header.Get("Content-Type"))
			}
			if r.str("access_token") == "" || r.str("id_token") == "" || r.str("token_type") != "Bearer" || r.str("refresh_token") == "" {
				t.Errorf("token response %s", r.raw)
			}
		})
	}
}

// TestPrivateKeyJWT checks private_key_jwt client assertions (RFC 7523 3, OIDC Core 9).
func TestPrivateKeyJWT(t *testing.T) {
	h := newHarness(t, true)
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name      string
		assertion func() string
		form      map[string]string // overrides
		wantError string            // "" means success
		status    int
	}{
		{name: "good, aud token endpoint", assertion: func() string { return h.assertion(nil, "k1", h.goodAssertionClaims()) }},
		{name: "good, aud issuer", assertion: func() string {
			c := h.goodAssertionClaims()
			c.Audience = jwt.Audience{h.issuer}
			return h.assertion(nil, "k1", c)
		}},
		{name: "good, no kid", assertion: func() string { return h.assertion(nil, "", h.goodAssertionClaims()) }},
		{name: "good, no client_id in body", assertion: func() string { return h.assertion(nil, "k1", h.goodAssertionClaims()) },
			form: map[string]string{"client_id": ""}},
		{name: "wrong aud", assertion: func() string {
			c := h.goodAssertionClaims()
			c.Audience = jwt.Audience{"https://other.example.vn/token"}
			return h.assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "no aud", assertion: func() string {
			c := h.goodAssertionClaims()
			c.Audience = nil
			return h.assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "expired", assertion: func() string {
			c := h.goodAssertionClaims()
			c.IssuedAt, c.Expiry = jwt.NewNumericDate(now.Add(-10*time.Minute)), jwt.NewNumericDate(now.Add(-5*time.Minute))
			return h.assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "no exp", assertion: func() string {
			c := h.goodAssertionClaims()
			c.Expiry = nil
			return h.assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "not yet valid", assertion: func() string {
			c := h.goodAssertionClaims()
			c.NotBefore = jwt.NewNumericDate(now.Add(5 * time.Minute))
			c.Expiry = jwt.NewNumericDate(now.Add(8 * time.Minute))
			return h.assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "iss differs from sub", assertion: func() string {
			c := h.goodAssertionClaims()
			c.Issuer = "web"
			return h.assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "sub is another client", assertion: func() string {
			c := h.goodAssertionClaims()
			c.Issuer, c.Subject = "web", "web"
			return h.assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401, form: map[string]string{"client_id": ""}},
		{name: "lifetime too long", assertion: func() string {
			c := h.goodAssertionClaims()
			c.Expiry = jwt.NewNumericDate(now.Add(time.Hour))
			return h.assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "no jti", assertion: func() string {
			c := h.goodAssertionClaims()
			c.ID = ""
			return h.assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "wrong key, same kid", assertion: func() string { return h.assertion(otherKey, "k1", h.goodAssertionClaims()) },
			wantError: "invalid_client", status: 401},
		{name: "wrong key, no kid", assertion: func() string { return h.assertion(otherKey, "", h.goodAssertionClaims()) },
			wantError: "invalid_client", status: 401},
		{name: "unknown kid", assertion: func() string { return h.assertion(nil, "k2", h.goodAssertionClaims()) },
			wantError: "invalid_client", status: 401},
		{name: "alg none", assertion: func() string {
			return "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJwa2p3dCIsInN1YiI6InBrand0In0."
		}, wantError: "invalid_client", status: 401},
		{name: "garbage", assertion: func() string { return "not-a-jwt" }, wantError: "invalid_client", status: 401},
		{name: "wrong assertion type", assertion: func() string { return h.assertion(nil, "k1", h.goodAssertionClaims()) },
			form: map[string]string{"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}, wantError: "invalid_client", status: 401},
		{name: "assertion and secret", assertion: func() string { return h.assertion(nil, "k1", h.goodAssertionClaims()) },
			form: map[string]string{"client_secret": strings.Repeat("s", 40)}, wantError: "invalid_request", status: 400},
		{name: "client_id differs from sub", assertion: func() string { return h.assertion(nil, "k1", h.goodAssertionClaims()) },
			form: map[string]string{"client_id": "web"}, wantError: "invalid_client", status: 401},
		{name: "pkjwt client without assertion", assertion: func() string { return "" }, wantError: "invalid_client", status: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := url.Values{
				"grant_type": {"authorization_code"}, "code": {h.code(authQuery("pkjwt"))}, "redirect_uri": {pkRedirect},
				"client_id": {"pkjwt"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion": {tt.assertion()},
			}
			for k, v := range tt.form {
				if v == "" {
					f.Del(k)
				} else {
					f.Set(k, v)
				}
			}
			r := h.postForm("/token", f, "", "")
			if tt.wantError == "" {
				if r.status != http.StatusOK || r.str("access_token") == "" {
					t.Fatalf("status %d: %s", r.status, r.raw)
				}
				return
			}
			checkJSONError(t, r, tt.status, tt.wantError)
		})
	}
}

// TestPrivateKeyJWTReplay: OIDC Core 9 says a client assertion "MUST only be used once";
// the jti is there to enforce it. A second use of the same assertion must fail.
func TestPrivateKeyJWTReplay(t *testing.T) {
	h := newHarness(t, true)
	a := h.assertion(nil, "k1", h.goodAssertionClaims())
	use := func() tokenResponse {
		return h.postForm("/token", url.Values{
			"grant_type": {"authorization_code"}, "code": {h.code(authQuery("pkjwt"))}, "redirect_uri": {pkRedirect},
			"client_id": {"pkjwt"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion": {a},
		}, "", "")
	}
	if r := use(); r.status != http.StatusOK {
		t.Fatalf("first use: %d %s", r.status, r.raw)
	}
	r := use()
	if r.status == http.StatusOK {
		t.Fatalf("BUG: a replayed client assertion (same jti) was accepted and minted tokens")
	}
	checkJSONError(t, r, 401, "invalid_client")
}

// TestReplayRevokes: a replayed code revokes the refresh tokens its first use issued (RFC
// 6749 4.1.2), and a reused refresh token revokes its family (RFC 9700 4.14.2).
func TestReplayRevokes(t *testing.T) {
	h := newHarness(t, true)
	refresh := func(rt string) tokenResponse {
		return h.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web", h.secrets["web"])
	}
	tests := []struct {
		name string
		run  func(t *testing.T) tokenResponse // the request that must now fail
	}{
		{name: "code replay revokes refresh token", run: func(t *testing.T) tokenResponse {
			c := h.code(authQuery("web"))
			first := h.redeem("web", c)
			if r := h.redeem("web", c); r.status != 400 || r.str("error") != "invalid_grant" {
				t.Fatalf("replay: %d %s", r.status, r.raw)
			}
			return refresh(first.str("refresh_token"))
		}},
		{name: "refresh retry within the grace window revokes the replaced successor", run: func(t *testing.T) tokenResponse {
			first := h.redeem("web", h.code(authQuery("web")))
			second := refresh(first.str("refresh_token"))
			if second.status != 200 {
				t.Fatalf("rotation: %d %s", second.status, second.raw)
			}
			if r := refresh(first.str("refresh_token")); r.status != 200 {
				t.Fatalf("retry within the grace window: %d %s", r.status, r.raw)
			}
			return refresh(second.str("refresh_token"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkJSONError(t, tt.run(t), 400, "invalid_grant")
		})
	}
}

// TestSessionReuse: with a session, /authorize answers without the eID unless the request
// needs a fresh login.
func TestSessionReuse(t *testing.T) {
	h := newHarness(t, true)
	b := h.browser()
	h.code(authQuery("web")) // another browser's session must not matter
	resp := h.login(b, authQuery("web"))
	readBody(t, resp)
	tests := []struct {
		name string
		q    url.Values
		want string // Location prefix
		err  string // error parameter, if any
	}{
		{name: "prompt none", q: authQuery("web", "prompt", "none"), want: webRedirect + "?"},
		{name: "no prompt", q: authQuery("web"), want: webRedirect + "?"},
		{name: "acr 2 satisfied", q: authQuery("web", "acr_values", "2"), want: webRedirect + "?"},
		{name: "max_age 0 forces login", q: authQuery("web", "max_age", "0"), want: fakeEIDAuthURL + "?"},
		{name: "max_age 0 with prompt none", q: authQuery("web", "max_age", "0", "prompt", "none"), want: webRedirect + "?", err: "login_required"},
		{name: "prompt login", q: authQuery("web", "prompt", "login"), want: fakeEIDAuthURL + "?"},
		{name: "consent needed with prompt none", q: authQuery("portal", "prompt", "none"), want: portalRedirect + "?", err: "consent_required"},
		{name: "consent needed", q: authQuery("portal"), want: h.issuer + "/consent?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := b.Get(h.issuer + "/authorize?" + tt.q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, resp)
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, tt.want) {
				t.Fatalf("status %d Location %q, want prefix %q", resp.StatusCode, loc, tt.want)
			}
			u, _ := url.Parse(loc)
			q := u.Query()
			if got := q.Get("error"); got != tt.err {
				t.Errorf("error = %q, want %q", got, tt.err)
			}
			if strings.HasPrefix(tt.want, fakeEIDAuthURL) || strings.HasPrefix(tt.want, h.issuer) {
				return
			}
			if q.Get("iss") != h.issuer || q.Get("state") == "" || (tt.err == "") != q.Has("code") {
				t.Errorf("Location %q", loc)
			}
		})
	}
}
