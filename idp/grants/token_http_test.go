package grants_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/internal/idptest"
)

// TestTokenBadInput sends malformed and unauthorized token requests. Every failure is an RFC
// 6749 5.2 JSON error with Cache-Control: no-store.
func TestTokenBadInput(t *testing.T) {
	h := idptest.New(t, true)
	web, post := h.Secrets["web"], h.Secrets["post"]
	codeForm := func(code, redirect string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	}
	webCode := func() string { return h.Code(idptest.AuthQuery("web")) }

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
			return req{query: codeForm("abc", idptest.WebRedirect).Encode(), user: "web", pass: web}
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "repeated param", req: func(*testing.T) req {
			return req{body: codeForm("abc", idptest.WebRedirect).Encode() + "&code=def", user: "web", pass: web}
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "repeated grant_type", req: func(*testing.T) req {
			return req{body: codeForm("abc", idptest.WebRedirect).Encode() + "&grant_type=refresh_token", user: "web", pass: web}
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "body too large", req: func(*testing.T) req {
			return req{body: codeForm("abc", idptest.WebRedirect).Encode() + "&pad=" + strings.Repeat("a", 65<<10), user: "web", pass: web}
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "unparsable body", req: func(*testing.T) req { return req{body: "grant_type=%zz", user: "web", pass: web} },
			wantStatus: 400, wantError: "invalid_request"},

		// Client authentication.
		{name: "no client auth at all", req: func(*testing.T) req { return form(codeForm("abc", idptest.WebRedirect), "", "") },
			wantStatus: 401, wantError: "invalid_client"},
		{name: "confidential client sends only client_id", req: func(*testing.T) req {
			f := codeForm("abc", idptest.WebRedirect)
			f.Set("client_id", "web")
			return form(f, "", "")
		}, wantStatus: 401, wantError: "invalid_client"},
		{name: "unknown client with Basic", req: func(*testing.T) req { return form(codeForm("abc", idptest.WebRedirect), "nobody", web) },
			wantStatus: 401, wantError: "invalid_client", wantChallenge: true},
		{name: "wrong secret with Basic", req: func(*testing.T) req { return form(codeForm("abc", idptest.WebRedirect), "web", web+"x") },
			wantStatus: 401, wantError: "invalid_client", wantChallenge: true},
		{name: "empty secret with Basic", req: func(*testing.T) req { return form(codeForm("abc", idptest.WebRedirect), "web", "") },
			wantStatus: 401, wantError: "invalid_client", wantChallenge: true},
		{name: "another client's secret with Basic", req: func(*testing.T) req { return form(codeForm("abc", idptest.WebRedirect), "web", h.Secrets["other"]) },
			wantStatus: 401, wantError: "invalid_client", wantChallenge: true},
		{name: "Basic not form-encoded", req: func(*testing.T) req {
			return req{body: codeForm("abc", idptest.WebRedirect).Encode(), user: "web%zz", pass: web}
		},
			wantStatus: 401, wantError: "invalid_client", wantChallenge: true},
		{name: "wrong secret with post", req: func(*testing.T) req {
			f := codeForm("abc", idptest.PostRedirect)
			f.Set("client_id", "post")
			f.Set("client_secret", post+"x")
			return form(f, "", "")
		}, wantStatus: 401, wantError: "invalid_client"},
		{name: "basic client uses client_secret_post", req: func(*testing.T) req {
			f := codeForm("abc", idptest.WebRedirect)
			f.Set("client_id", "web")
			f.Set("client_secret", web)
			return form(f, "", "")
		}, wantStatus: 401, wantError: "invalid_client"},
		{name: "post client uses Basic", req: func(*testing.T) req { return form(codeForm("abc", idptest.PostRedirect), "post", post) },
			wantStatus: 401, wantError: "invalid_client", wantChallenge: true},
		{name: "public client sends a secret", req: func(*testing.T) req {
			f := codeForm("abc", idptest.SPARedirect)
			f.Set("client_id", "spa")
			f.Set("client_secret", strings.Repeat("s", 40))
			return form(f, "", "")
		}, wantStatus: 401, wantError: "invalid_client"},
		{name: "Basic and client_secret", req: func(*testing.T) req {
			f := codeForm("abc", idptest.WebRedirect)
			f.Set("client_secret", web)
			return form(f, "web", web)
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "Basic and another client_id in body", req: func(*testing.T) req {
			f := codeForm("abc", idptest.WebRedirect)
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
			return form(url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {idptest.WebRedirect}}, "web", web)
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "unknown code", req: func(*testing.T) req { return form(codeForm("abc", idptest.WebRedirect), "web", web) },
			wantStatus: 400, wantError: "invalid_grant"},
		{name: "code too long", req: func(*testing.T) req { return form(codeForm(strings.Repeat("c", 300), idptest.WebRedirect), "web", web) },
			wantStatus: 400, wantError: "invalid_request"},
		{name: "code of another client", req: func(*testing.T) req {
			return form(codeForm(webCode(), idptest.OtherRedirect), "other", h.Secrets["other"])
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "redirect_uri mismatch", req: func(*testing.T) req { return form(codeForm(webCode(), idptest.QueryRedirect), "web", web) },
			wantStatus: 400, wantError: "invalid_grant"},
		{name: "redirect_uri missing", req: func(*testing.T) req {
			return form(url.Values{"grant_type": {"authorization_code"}, "code": {webCode()}}, "web", web)
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "PKCE downgrade", req: func(*testing.T) req {
			f := codeForm(webCode(), idptest.WebRedirect)
			v, _ := idptest.PKCE()
			f.Set("code_verifier", v)
			return form(f, "web", web)
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "PKCE wrong verifier", req: func(t *testing.T) req {
			_, c := idptest.PKCE()
			f := codeForm(h.Code(idptest.AuthQuery("web", "code_challenge", c, "code_challenge_method", "S256")), idptest.WebRedirect)
			v, _ := idptest.PKCE()
			f.Set("code_verifier", v)
			return form(f, "web", web)
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "PKCE missing verifier", req: func(t *testing.T) req {
			_, c := idptest.PKCE()
			return form(codeForm(h.Code(idptest.AuthQuery("web", "code_challenge", c, "code_challenge_method", "S256")), idptest.WebRedirect), "web", web)
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "PKCE verifier too short", req: func(t *testing.T) req {
			v, c := idptest.PKCE()
			f := codeForm(h.Code(idptest.AuthQuery("web", "code_challenge", c, "code_challenge_method", "S256")), idptest.WebRedirect)
			f.Set("code_verifier", v[:42])
			return form(f, "web", web)
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "public client missing verifier", req: func(t *testing.T) req {
			_, c := idptest.PKCE()
			f := codeForm(h.Code(idptest.AuthQuery("spa", "code_challenge", c, "code_challenge_method", "S256")), idptest.SPARedirect)
			f.Set("client_id", "spa")
			return form(f, "", "")
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "code replayed", req: func(t *testing.T) req {
			c := webCode()
			if r := h.Redeem("web", c); r.Status != 200 {
				t.Fatalf("first redemption: %d %s", r.Status, r.Raw)
			}
			return form(codeForm(c, idptest.WebRedirect), "web", web)
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "unknown refresh token", req: func(*testing.T) req {
			return form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, "web", web)
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "missing refresh token", req: func(*testing.T) req { return form(url.Values{"grant_type": {"refresh_token"}}, "web", web) },
			wantStatus: 400, wantError: "invalid_request"},
		{name: "refresh token of another client", req: func(t *testing.T) req {
			r := h.Redeem("web", webCode())
			return form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.Str("refresh_token")}}, "other", h.Secrets["other"])
		}, wantStatus: 400, wantError: "invalid_grant"},
		{name: "refresh widening scope", req: func(t *testing.T) req {
			r := h.Redeem("web", webCode())
			return form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.Str("refresh_token")}, "scope": {"openid profile cccd"}}, "web", web)
		}, wantStatus: 400, wantError: "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req(t)
			if r.method == "" {
				r.method = http.MethodPost
			}
			target := h.Issuer + "/token"
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
			resp := h.Do(hr)
			idptest.CheckJSONError(t, resp, tt.wantStatus, tt.wantError)
			got := resp.Header.Get("WWW-Authenticate")
			if tt.wantChallenge && !strings.HasPrefix(got, "Basic ") {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge", got)
			}
			if !tt.wantChallenge && got != "" {
				t.Errorf("WWW-Authenticate = %q, want none", got)
			}
			if tt.wantStatus == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", resp.Header.Get("Allow"))
			}
			if resp.Str("access_token") != "" || resp.Str("id_token") != "" {
				t.Errorf("an error response carries tokens: %s", resp.Raw)
			}
		})
	}
}

// TestTokenSuccess checks the good path for each authentication method.
func TestTokenSuccess(t *testing.T) {
	h := idptest.New(t, true)
	tests := []struct {
		name string
		do   func(t *testing.T) idptest.Response
	}{
		{name: "client_secret_basic", do: func(*testing.T) idptest.Response { return h.Redeem("web", h.Code(idptest.AuthQuery("web"))) }},
		{name: "client_secret_basic with PKCE", do: func(*testing.T) idptest.Response {
			v, c := idptest.PKCE()
			return h.Redeem("web", h.Code(idptest.AuthQuery("web", "code_challenge", c, "code_challenge_method", "S256")), "code_verifier", v)
		}},
		{name: "client_secret_post", do: func(*testing.T) idptest.Response {
			f := url.Values{"grant_type": {"authorization_code"}, "code": {h.Code(idptest.AuthQuery("post"))}, "redirect_uri": {idptest.PostRedirect},
				"client_id": {"post"}, "client_secret": {h.Secrets["post"]}}
			return h.PostForm("/token", f, "", "")
		}},
		{name: "none with PKCE", do: func(*testing.T) idptest.Response {
			v, c := idptest.PKCE()
			f := url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {idptest.SPARedirect}, "client_id": {"spa"}, "code_verifier": {v},
				"code": {h.Code(idptest.AuthQuery("spa", "code_challenge", c, "code_challenge_method", "S256"))}}
			return h.PostForm("/token", f, "", "")
		}},
		{name: "Basic with client_id repeated in body", do: func(*testing.T) idptest.Response {
			return h.Redeem("web", h.Code(idptest.AuthQuery("web")), "client_id", "web")
		}},
		{name: "refresh", do: func(t *testing.T) idptest.Response {
			r := h.Redeem("web", h.Code(idptest.AuthQuery("web")))
			return h.PostForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.Str("refresh_token")}}, "web", h.Secrets["web"])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.do(t)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Raw)
			}
			if r.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("Cache-Control %q Content-Type %q", r.Header.Get("Cache-Control"), r.Header.Get("Content-Type"))
			}
			if r.Str("access_token") == "" || r.Str("id_token") == "" || r.Str("token_type") != "Bearer" || r.Str("refresh_token") == "" {
				t.Errorf("token response %s", r.Raw)
			}
		})
	}
}

// TestReplayRevokes: a replayed code revokes the refresh tokens its first use issued (RFC
// 6749 4.1.2), and a reused refresh token revokes its family (RFC 9700 4.14.2).
func TestReplayRevokes(t *testing.T) {
	h := idptest.New(t, true, func(cfg *idp.Config) { cfg.RefreshReuseGrace = 10 * time.Second })
	refresh := func(rt string) idptest.Response {
		return h.PostForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web", h.Secrets["web"])
	}
	tests := []struct {
		name string
		run  func(t *testing.T) idptest.Response // the request that must now fail
	}{
		{name: "code replay revokes refresh token", run: func(t *testing.T) idptest.Response {
			c := h.Code(idptest.AuthQuery("web"))
			first := h.Redeem("web", c)
			if r := h.Redeem("web", c); r.Status != 400 || r.Str("error") != "invalid_grant" {
				t.Fatalf("replay: %d %s", r.Status, r.Raw)
			}
			return refresh(first.Str("refresh_token"))
		}},
		{name: "refresh retry within the grace window revokes the replaced successor", run: func(t *testing.T) idptest.Response {
			first := h.Redeem("web", h.Code(idptest.AuthQuery("web")))
			second := refresh(first.Str("refresh_token"))
			if second.Status != 200 {
				t.Fatalf("rotation: %d %s", second.Status, second.Raw)
			}
			if r := refresh(first.Str("refresh_token")); r.Status != 200 {
				t.Fatalf("retry within the grace window: %d %s", r.Status, r.Raw)
			}
			return refresh(second.Str("refresh_token"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idptest.CheckJSONError(t, tt.run(t), 400, "invalid_grant")
		})
	}
}

// TestSessionReuse: with a session, /authorize answers without the eID unless the request
// needs a fresh login.
func TestSessionReuse(t *testing.T) {
	h := idptest.New(t, true)
	b := h.Browser()
	h.Code(idptest.AuthQuery("web")) // another browser's session must not matter
	resp := h.Login(b, idptest.AuthQuery("web"))
	idptest.ReadBody(t, resp)
	tests := []struct {
		name string
		q    url.Values
		want string // Location prefix
		err  string // error parameter, if any
	}{
		{name: "prompt none", q: idptest.AuthQuery("web", "prompt", "none"), want: idptest.WebRedirect + "?"},
		{name: "no prompt", q: idptest.AuthQuery("web"), want: idptest.WebRedirect + "?"},
		{name: "acr 2 satisfied", q: idptest.AuthQuery("web", "acr_values", "2"), want: idptest.WebRedirect + "?"},
		{name: "max_age 0 forces login", q: idptest.AuthQuery("web", "max_age", "0"), want: idptest.FakeEIDAuthURL + "?"},
		{name: "max_age 0 with prompt none", q: idptest.AuthQuery("web", "max_age", "0", "prompt", "none"), want: idptest.WebRedirect + "?", err: "login_required"},
		{name: "prompt login", q: idptest.AuthQuery("web", "prompt", "login"), want: idptest.FakeEIDAuthURL + "?"},
		{name: "consent needed with prompt none", q: idptest.AuthQuery("portal", "prompt", "none"), want: idptest.PortalRedirect + "?", err: "consent_required"},
		{name: "consent needed", q: idptest.AuthQuery("portal"), want: h.Issuer + "/consent?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := b.Get(h.Issuer + "/authorize?" + tt.q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			idptest.ReadBody(t, resp)
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, tt.want) {
				t.Fatalf("status %d Location %q, want prefix %q", resp.StatusCode, loc, tt.want)
			}
			u, _ := url.Parse(loc)
			q := u.Query()
			if got := q.Get("error"); got != tt.err {
				t.Errorf("error = %q, want %q", got, tt.err)
			}
			if strings.HasPrefix(tt.want, idptest.FakeEIDAuthURL) || strings.HasPrefix(tt.want, h.Issuer) {
				return
			}
			if q.Get("iss") != h.Issuer || q.Get("state") == "" || (tt.err == "") != q.Has("code") {
				t.Errorf("Location %q", loc)
			}
		})
	}
}
