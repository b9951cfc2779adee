package revocation_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/idp/internal/idptest"
)

// TestEndpointErrors: the RFC 7009 2.2.1 / RFC 7662 2.3 error cases (RFC 6749 5.2 codes),
// the same at both endpoints.
func TestEndpointErrors(t *testing.T) {
	h := idptest.New(t, true)
	web := h.Secrets["web"]
	for _, path := range []string{"/revoke", "/introspect"} {
		tests := []struct {
			name   string
			do     func() idptest.Response
			status int
			code   string
		}{
			{name: "GET", status: 405, code: "invalid_request", do: func() idptest.Response {
				req, _ := http.NewRequest(http.MethodGet, h.Issuer+path+"?token=x", nil)
				return h.Do(req)
			}},
			{name: "not a form", status: 400, code: "invalid_request", do: func() idptest.Response {
				req, _ := http.NewRequest(http.MethodPost, h.Issuer+path, strings.NewReader(`{"token":"x"}`))
				req.Header.Set("Content-Type", "application/json")
				req.SetBasicAuth("web", web)
				return h.Do(req)
			}},
			{name: "parameter in the query", status: 400, code: "invalid_request", do: func() idptest.Response {
				req, _ := http.NewRequest(http.MethodPost, h.Issuer+path+"?token=x", strings.NewReader("token=x"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("web", web)
				return h.Do(req)
			}},
			{name: "repeated token", status: 400, code: "invalid_request", do: func() idptest.Response {
				return h.PostForm(path, url.Values{"token": {"a", "b"}}, "web", web)
			}},
			{name: "missing token", status: 400, code: "invalid_request", do: func() idptest.Response {
				return h.PostForm(path, url.Values{"token_type_hint": {"access_token"}}, "web", web)
			}},
			{name: "no client authentication", status: 401, code: "invalid_client", do: func() idptest.Response {
				return h.PostForm(path, url.Values{"token": {"x"}}, "", "")
			}},
			{name: "wrong secret", status: 401, code: "invalid_client", do: func() idptest.Response {
				return h.PostForm(path, url.Values{"token": {"x"}}, "web", "wrong")
			}},
			{name: "unknown client", status: 401, code: "invalid_client", do: func() idptest.Response {
				return h.PostForm(path, url.Values{"token": {"x"}}, "nobody", "secret")
			}},
			{name: "wrong method for the client", status: 401, code: "invalid_client", do: func() idptest.Response {
				return h.PostForm(path, url.Values{"token": {"x"}, "client_id": {"web"}, "client_secret": {web}}, "", "")
			}},
			{name: "public client", status: 401, code: "invalid_client", do: func() idptest.Response {
				return h.PostForm(path, url.Values{"token": {"x"}, "client_id": {"spa"}}, "", "")
			}},
		}
		for _, tt := range tests {
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				r := tt.do()
				idptest.CheckJSONError(t, r, tt.status, tt.code)
				if tt.status == 405 && r.Header.Get("Allow") != "POST" {
					t.Errorf("Allow = %q", r.Header.Get("Allow"))
				}
				if tt.status == 401 && tt.name == "wrong secret" && r.Header.Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate after failed Basic authentication")
				}
			})
		}
	}
}

// TestRevoke: RFC 7009 2.1 and 2.2.
func TestRevoke(t *testing.T) {
	h := idptest.New(t, true)
	revoke := func(client string, form url.Values) idptest.Response {
		return h.PostForm("/revoke", form, client, h.Secrets[client])
	}
	tests := []struct {
		name  string
		run   func(t *testing.T, set idptest.Response) idptest.Response // the revocation
		check func(t *testing.T, set idptest.Response)                  // what must hold after
	}{
		{name: "refresh token revokes its family",
			run: func(t *testing.T, set idptest.Response) idptest.Response {
				rotated := h.Refresh("web", set.Str("refresh_token"))
				if rotated.Status != 200 {
					t.Fatalf("rotate: %d %s", rotated.Status, rotated.Raw)
				}
				set.Body["refresh_token"] = rotated.Str("refresh_token")
				return revoke("web", url.Values{"token": {set.Str("refresh_token")}, "token_type_hint": {"refresh_token"}})
			},
			check: func(t *testing.T, set idptest.Response) {
				// The access tokens minted from the family end with it (RFC 7009 2.1); checked
				// first, since a refresh with a revoked token ends them too.
				if s := h.UserInfo(set.Str("access_token")); s != 401 {
					t.Errorf("userinfo with an access token of the revoked family: %d", s)
				}
				idptest.CheckJSONError(t, h.Refresh("web", set.Str("refresh_token")), 400, "invalid_grant")
			}},
		{name: "access token is denylisted",
			run: func(t *testing.T, set idptest.Response) idptest.Response {
				return revoke("web", url.Values{"token": {set.Str("access_token")}, "token_type_hint": {"access_token"}})
			},
			check: func(t *testing.T, set idptest.Response) {
				if s := h.UserInfo(set.Str("access_token")); s != 401 {
					t.Errorf("userinfo with a revoked token: %d", s)
				}
				if r := h.Refresh("web", set.Str("refresh_token")); r.Status != 200 {
					t.Errorf("refresh after revoking only the access token: %d %s", r.Status, r.Raw)
				}
			}},
		{name: "wrong hint is only a hint",
			run: func(t *testing.T, set idptest.Response) idptest.Response {
				return revoke("web", url.Values{"token": {set.Str("access_token")}, "token_type_hint": {"refresh_token"}})
			},
			check: func(t *testing.T, set idptest.Response) {
				if s := h.UserInfo(set.Str("access_token")); s != 401 {
					t.Errorf("userinfo: %d", s)
				}
			}},
		{name: "unknown hint value is ignored",
			run: func(t *testing.T, set idptest.Response) idptest.Response {
				return revoke("web", url.Values{"token": {set.Str("refresh_token")}, "token_type_hint": {"id_token"}})
			},
			check: func(t *testing.T, set idptest.Response) {
				idptest.CheckJSONError(t, h.Refresh("web", set.Str("refresh_token")), 400, "invalid_grant")
			}},
		{name: "another client's refresh token: 200, nothing done",
			run: func(t *testing.T, set idptest.Response) idptest.Response {
				return revoke("other", url.Values{"token": {set.Str("refresh_token")}})
			},
			check: func(t *testing.T, set idptest.Response) {
				if r := h.Refresh("web", set.Str("refresh_token")); r.Status != 200 {
					t.Errorf("refresh: %d %s", r.Status, r.Raw)
				}
			}},
		{name: "another client's access token: 200, nothing done",
			run: func(t *testing.T, set idptest.Response) idptest.Response {
				return revoke("other", url.Values{"token": {set.Str("access_token")}})
			},
			check: func(t *testing.T, set idptest.Response) {
				if s := h.UserInfo(set.Str("access_token")); s != 200 {
					t.Errorf("userinfo: %d", s)
				}
			}},
		{name: "unknown and forged tokens: 200",
			run: func(t *testing.T, set idptest.Response) idptest.Response {
				if r := revoke("web", url.Values{"token": {"NOTATOKEN"}}); r.Status != 200 {
					t.Fatalf("unknown: %d %s", r.Status, r.Raw)
				}
				// The ID token is signed by the provider but is not an access token.
				return revoke("web", url.Values{"token": {set.Str("id_token")}})
			},
			check: func(t *testing.T, set idptest.Response) {
				if s := h.UserInfo(set.Str("access_token")); s != 200 {
					t.Errorf("userinfo: %d", s)
				}
			}},
		{name: "revoking twice is fine",
			run: func(t *testing.T, set idptest.Response) idptest.Response {
				revoke("web", url.Values{"token": {set.Str("access_token")}})
				return revoke("web", url.Values{"token": {set.Str("access_token")}})
			},
			check: func(t *testing.T, set idptest.Response) {
				if s := h.UserInfo(set.Str("access_token")); s != 401 {
					t.Errorf("userinfo: %d", s)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := h.Redeem("web", h.Code(idptest.AuthQuery("web")))
			if set.Status != 200 {
				t.Fatalf("redeem: %d %s", set.Status, set.Raw)
			}
			r := tt.run(t, set)
			if r.Status != 200 || len(r.Raw) != 0 {
				t.Fatalf("revoke: %d %q, want 200 and no body", r.Status, r.Raw)
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", r.Header.Get("Cache-Control"))
			}
			tt.check(t, set)
		})
	}
}

// TestVerifyAccessTokenRevoked: Motlan's own APIs reject a revoked token too.
func TestVerifyAccessTokenRevoked(t *testing.T) {
	h := idptest.New(t, true)
	at := h.Redeem("web", h.Code(idptest.AuthQuery("web"))).Str("access_token")
	req := func() *http.Request {
		r, _ := http.NewRequest(http.MethodGet, h.Issuer+"/api", nil)
		r.Header.Set("Authorization", "Bearer "+at)
		return r
	}
	if _, err := h.P.VerifyAccessToken(req()); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	h.PostForm("/revoke", url.Values{"token": {at}}, "web", h.Secrets["web"])
	if _, err := h.P.VerifyAccessToken(req()); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("after revocation: %v, want an invalid-token error", err)
	}
}

// TestIntrospect: RFC 7662 2.2; a token of another client is inactive.
func TestIntrospect(t *testing.T) {
	clock := &idptest.ShiftedClock{}
	h := idptest.New(t, true, idptest.WithClock(clock))
	introspect := func(client, tok string) idptest.Response {
		return h.PostForm("/introspect", url.Values{"token": {tok}}, client, h.Secrets[client])
	}
	set := h.Redeem("web", h.Code(idptest.AuthQuery("web", "scope", "openid profile offline_access")))
	if set.Status != 200 {
		t.Fatalf("redeem: %d %s", set.Status, set.Raw)
	}
	rotatedFrom := h.Redeem("web", h.Code(idptest.AuthQuery("web"))).Str("refresh_token")
	if r := h.Refresh("web", rotatedFrom); r.Status != 200 {
		t.Fatalf("rotate: %d %s", r.Status, r.Raw)
	}
	revokedAT := h.Redeem("web", h.Code(idptest.AuthQuery("web"))).Str("access_token")
	h.PostForm("/revoke", url.Values{"token": {revokedAT}}, "web", h.Secrets["web"])

	tests := []struct {
		name, client, token string
		active              bool
		tokenType           string
	}{
		{name: "access token", client: "web", token: set.Str("access_token"), active: true, tokenType: "Bearer"},
		{name: "refresh token", client: "web", token: set.Str("refresh_token"), active: true, tokenType: "refresh_token"},
		{name: "access token of another client", client: "other", token: set.Str("access_token")},
		{name: "refresh token of another client", client: "other", token: set.Str("refresh_token")},
		{name: "client_secret_post client, not its token", client: "post", token: set.Str("access_token")},
		{name: "revoked access token", client: "web", token: revokedAT},
		{name: "rotated refresh token", client: "web", token: rotatedFrom},
		{name: "ID token", client: "web", token: set.Str("id_token")},
		{name: "unknown", client: "web", token: "NOTATOKEN"},
		{name: "garbage JWT", client: "web", token: "a.b.c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r idptest.Response
			if tt.client == "post" {
				r = h.PostForm("/introspect", url.Values{"token": {tt.token}, "client_id": {"post"}, "client_secret": {h.Secrets["post"]}}, "", "")
			} else {
				r = introspect(tt.client, tt.token)
			}
			if r.Status != 200 || r.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("status %d headers %v body %s", r.Status, r.Header, r.Raw)
			}
			if !tt.active {
				if strings.TrimSpace(string(r.Raw)) != `{"active":false}` {
					t.Errorf("inactive: body %s, want {\"active\":false} only", r.Raw)
				}
				return
			}
			if r.Body["active"] != true || r.Str("client_id") != "web" || r.Str("iss") != h.Issuer || r.Str("sub") == "" ||
				r.Str("token_type") != tt.tokenType || !strings.Contains(r.Str("scope"), "openid") {
				t.Errorf("active: %s", r.Raw)
			}
			exp, _ := r.Body["exp"].(float64)
			iat, _ := r.Body["iat"].(float64)
			if exp <= iat || iat == 0 {
				t.Errorf("exp %v iat %v", exp, iat)
			}
		})
	}
	t.Run("sub matches the ID token's", func(t *testing.T) {
		a, r := introspect("web", set.Str("access_token")), introspect("web", set.Str("refresh_token"))
		if a.Str("sub") != r.Str("sub") {
			t.Errorf("access sub %q, refresh sub %q", a.Str("sub"), r.Str("sub"))
		}
	})
	t.Run("expired access token", func(t *testing.T) {
		clock.Advance(11 * time.Minute)
		if r := introspect("web", set.Str("access_token")); strings.TrimSpace(string(r.Raw)) != `{"active":false}` {
			t.Errorf("body %s", r.Raw)
		}
	})
}
