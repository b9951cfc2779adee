package idp_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/motlan/motlan/idp"
)

// shiftedClock is time.Now plus an offset tests move forward.
type shiftedClock struct{ off atomic.Int64 }

func (c *shiftedClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *shiftedClock) advance(d time.Duration) { c.off.Add(int64(d)) }

func withClock(c *shiftedClock) func(*idp.Config) { return func(cfg *idp.Config) { cfg.Now = c.now } }

func (h *harness) refresh(clientID, rt string) tokenResponse {
	h.tb.Helper()
	return h.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, clientID, h.secrets[clientID])
}

func (h *harness) userinfo(at string) int {
	h.tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	return h.do(req).status
}

// TestEndpointErrors: the RFC 7009 2.2.1 / RFC 7662 2.3 error cases (RFC 6749 5.2 codes),
// the same at both endpoints.
func TestEndpointErrors(t *testing.T) {
	h := newHarness(t, true)
	web := h.secrets["web"]
	for _, path := range []string{"/revoke", "/introspect"} {
		tests := []struct {
			name   string
			do     func() tokenResponse
			status int
			code   string
		}{
			{name: "GET", status: 405, code: "invalid_request", do: func() tokenResponse {
				req, _ := http.NewRequest(http.MethodGet, h.issuer+path+"?token=x", nil)
				return h.do(req)
			}},
			{name: "not a form", status: 400, code: "invalid_request", do: func() tokenResponse {
				req, _ := http.NewRequest(http.MethodPost, h.issuer+path, strings.NewReader(`{"token":"x"}`))
				req.Header.Set("Content-Type", "application/json")
				req.SetBasicAuth("web", web)
				return h.do(req)
			}},
			{name: "parameter in the query", status: 400, code: "invalid_request", do: func() tokenResponse {
				req, _ := http.NewRequest(http.MethodPost, h.issuer+path+"?token=x", strings.NewReader("token=x"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("web", web)
				return h.do(req)
			}},
			{name: "repeated token", status: 400, code: "invalid_request", do: func() tokenResponse {
				return h.postForm(path, url.Values{"token": {"a", "b"}}, "web", web)
			}},
			{name: "missing token", status: 400, code: "invalid_request", do: func() tokenResponse {
				return h.postForm(path, url.Values{"token_type_hint": {"access_token"}}, "web", web)
			}},
			{name: "no client authentication", status: 401, code: "invalid_client", do: func() tokenResponse {
				return h.postForm(path, url.Values{"token": {"x"}}, "", "")
			}},
			{name: "wrong secret", status: 401, code: "invalid_client", do: func() tokenResponse {
				return h.postForm(path, url.Values{"token": {"x"}}, "web", "wrong")
			}},
			{name: "unknown client", status: 401, code: "invalid_client", do: func() tokenResponse {
				return h.postForm(path, url.Values{"token": {"x"}}, "nobody", "secret")
			}},
			{name: "wrong method for the client", status: 401, code: "invalid_client", do: func() tokenResponse {
				return h.postForm(path, url.Values{"token": {"x"}, "client_id": {"web"}, "client_secret": {web}}, "", "")
			}},
			{name: "public client", status: 401, code: "invalid_client", do: func() tokenResponse {
				return h.postForm(path, url.Values{"token": {"x"}, "client_id": {"spa"}}, "", "")
			}},
		}
		for _, tt := range tests {
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				r := tt.do()
				checkJSONError(t, r, tt.status, tt.code)
				if tt.status == 405 && r.header.Get("Allow") != "POST" {
					t.Errorf("Allow = %q", r.header.Get("Allow"))
				}
				if tt.status == 401 && tt.name == "wrong secret" && r.header.Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate after failed Basic authentication")
				}
			})
		}
	}
}

// TestRevoke: RFC 7009 2.1 and 2.2.
func TestRevoke(t *testing.T) {
	h := newHarness(t, true)
	revoke := func(client string, form url.Values) tokenResponse {
		return h.postForm("/revoke", form, client, h.secrets[client])
	}
	tests := []struct {
		name  string
		run   func(t *testing.T, set tokenResponse) tokenResponse // the revocation
		check func(t *testing.T, set tokenResponse)               // what must hold after
	}{
		{name: "refresh token revokes its family",
			run: func(t *testing.T, set tokenResponse) tokenResponse {
				rotated := h.refresh("web", set.str("refresh_token"))
				if rotated.status != 200 {
					t.Fatalf("rotate: %d %s", rotated.status, rotated.raw)
				}
				set.body["refresh_token"] = rotated.str("refresh_token")
				return revoke("web", url.Values{"token": {set.str("refresh_token")}, "token_type_hint": {"refresh_token"}})
			},
			check: func(t *testing.T, set tokenResponse) {
				// The access tokens minted from the family end with it (RFC 7009 2.1); checked
				// first, since a refresh with a revoked token ends them too.
				if s := h.userinfo(set.str("access_token")); s != 401 {
					t.Errorf("userinfo with an access token of the revoked family: %d", s)
				}
				checkJSONError(t, h.refresh("web", set.str("refresh_token")), 400, "invalid_grant")
			}},
		{name: "access token is denylisted",
			run: func(t *testing.T, set tokenResponse) tokenResponse {
				return revoke("web", url.Values{"token": {set.str("access_token")}, "token_type_hint": {"access_token"}})
			},
			check: func(t *testing.T, set tokenResponse) {
				if s := h.userinfo(set.str("access_token")); s != 401 {
					t.Errorf("userinfo with a revoked token: %d", s)
				}
				if r := h.refresh("web", set.str("refresh_token")); r.status != 200 {
					t.Errorf("refresh after revoking only the access token: %d %s", r.status, r.raw)
				}
			}},
		{name: "wrong hint is only a hint",
			run: func(t *testing.T, set tokenResponse) tokenResponse {
				return revoke("web", url.Values{"token": {set.str("access_token")}, "token_type_hint": {"refresh_token"}})
			},
			check: func(t *testing.T, set tokenResponse) {
				if s := h.userinfo(set.str("access_token")); s != 401 {
					t.Errorf("userinfo: %d", s)
				}
			}},
		{name: "unknown hint value is ignored",
			run: func(t *testing.T, set tokenResponse) tokenResponse {
				return revoke("web", url.Values{"token": {set.str("refresh_token")}, "token_type_hint": {"id_token"}})
			},
			check: func(t *testing.T, set tokenResponse) {
				checkJSONError(t, h.refresh("web", set.str("refresh_token")), 400, "invalid_grant")
			}},
		{name: "another client's refresh token: 200, nothing done",
			run: func(t *testing.T, set tokenResponse) tokenResponse {
				return revoke("other", url.Values{"token": {set.str("refresh_token")}})
			},
			check: func(t *testing.T, set tokenResponse) {
				if r := h.refresh("web", set.str("refresh_token")); r.status != 200 {
					t.Errorf("refresh: %d %s", r.status, r.raw)
				}
			}},
		{name: "another client's access token: 200, nothing done",
			run: func(t *testing.T, set tokenResponse) tokenResponse {
				return revoke("other", url.Values{"token": {set.str("access_token")}})
			},
			check: func(t *testing.T, set tokenResponse) {
				if s := h.userinfo(set.str("access_token")); s != 200 {
					t.Errorf("userinfo: %d", s)
				}
			}},
		{name: "unknown and forged tokens: 200",
			run: func(t *testing.T, set tokenResponse) tokenResponse {
				if r := revoke("web", url.Values{"token": {"NOTATOKEN"}}); r.status != 200 {
					t.Fatalf("unknown: %d %s", r.status, r.raw)
				}
				// The ID token is signed by the provider but is not an access token.
				return revoke("web", url.Values{"token": {set.str("id_token")}})
			},
			check: func(t *testing.T, set tokenResponse) {
				if s := h.userinfo(set.str("access_token")); s != 200 {
					t.Errorf("userinfo: %d", s)
				}
			}},
		{name: "revoking twice is fine",
			run: func(t *testing.T, set tokenResponse) tokenResponse {
				revoke("web", url.Values{"token": {set.str("access_token")}})
				return revoke("web", url.Values{"token": {set.str("access_token")}})
			},
			check: func(t *testing.T, set tokenResponse) {
				if s := h.userinfo(set.str("access_token")); s != 401 {
					t.Errorf("userinfo: %d", s)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := h.redeem("web", h.code(authQuery("web")))
			if set.status != 200 {
				t.Fatalf("redeem: %d %s", set.status, set.raw)
			}
			r := tt.run(t, set)
			if r.status != 200 || len(r.raw) != 0 {
				t.Fatalf("revoke: %d %q, want 200 and no body", r.status, r.raw)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
			}
			tt.check(t, set)
		})
	}
}

// TestVerifyAccessTokenRevoked: Motlan's own APIs reject a revoked token too.
func TestVerifyAccessTokenRevoked(t *testing.T) {
	h := newHarness(t, true)
	at := h.redeem("web", h.code(authQuery("web"))).str("access_token")
	req := func() *http.Request {
		r, _ := http.NewRequest(http.MethodGet, h.issuer+"/api", nil)
		r.Header.Set("Authorization", "Bearer "+at)
		return r
	}
	if _, err := h.p.VerifyAccessToken(req()); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	h.postForm("/revoke", url.Values{"token": {at}}, "web", h.secrets["web"])
	if _, err := h.p.VerifyAccessToken(req()); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("after revocation: %v, want an invalid-token error", err)
	}
}

// TestIntrospect: RFC 7662 2.2; a token of another client is inactive.
func TestIntrospect(t *testing.T) {
	clock := &shiftedClock{}
	h := newHarness(t, true, withClock(clock))
	introspect := func(client, tok string) tokenResponse {
		return h.postForm("/introspect", url.Values{"token": {tok}}, client, h.secrets[client])
	}
	set := h.redeem("web", h.code(authQuery("web", "scope", "openid profile offline_access")))
	if set.status != 200 {
		t.Fatalf("redeem: %d %s", set.status, set.raw)
	}
	rotatedFrom := h.redeem("web", h.code(authQuery("web"))).str("refresh_token")
	if r := h.refresh("web", rotatedFrom); r.status != 200 {
		t.Fatalf("rotate: %d %s", r.status, r.raw)
	}
	revokedAT := h.redeem("web", h.code(authQuery("web"))).str("access_token")
	h.postForm("/revoke", url.Values{"token": {revokedAT}}, "web", h.secrets["web"])

	tests := []struct {
		name, client, token string
		active              bool
		tokenType           string
	}{
		{name: "access token", client: "web", token: set.str("access_token"), active: true, tokenType: "Bearer"},
		{name: "refresh token", client: "web", token: set.str("refresh_token"), active: true, tokenType: "refresh_token"},
		{name: "access token of another client", client: "other", token: set.str("access_token")},
		{name: "refresh token of another client", client: "other", token: set.str("refresh_token")},
		{name: "client_secret_post client, not its token", client: "post", token: set.str("access_token")},
		{name: "revoked access token", client: "web", token: revokedAT},
		{name: "rotated refresh token", client: "web", token: rotatedFrom},
		{name: "ID token", client: "web", token: set.str("id_token")},
		{name: "unknown", client: "web", token: "NOTATOKEN"},
		{name: "garbage JWT", client: "web", token: "a.b.c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r tokenResponse
			if tt.client == "post" {
				r = h.postForm("/introspect", url.Values{"token": {tt.token}, "client_id": {"post"}, "client_secret": {h.secrets["post"]}}, "", "")
			} else {
				r = introspect(tt.client, tt.token)
			}
			if r.status != 200 || r.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Fatalf("status %d headers %v body %s", r.status, r.header, r.raw)
			}
			if !tt.active {
				if strings.TrimSpace(string(r.raw)) != `{"active":false}` {
					t.Errorf("inactive: body %s, want {\"active\":false} only", r.raw)
				}
				return
			}
			if r.body["active"] != true || r.str("client_id") != "web" || r.str("iss") != h.issuer || r.str("sub") == "" ||
				r.str("token_type") != tt.tokenType || !strings.Contains(r.str("scope"), "openid") {
				t.Errorf("active: %s", r.raw)
			}
			exp, _ := r.body["exp"].(float64)
			iat, _ := r.body["iat"].(float64)
			if exp <= iat || iat == 0 {
				t.Errorf("exp %v iat %v", exp, iat)
			}
		})
	}
	t.Run("sub matches the ID token's", func(t *testing.T) {
		a, r := introspect("web", set.str("access_token")), introspect("web", set.str("refresh_token"))
		if a.str("sub") != r.str("sub") {
			t.Errorf("access sub %q, refresh sub %q", a.str("sub"), r.str("sub"))
		}
	})
	t.Run("expired access token", func(t *testing.T) {
		clock.advance(11 * time.Minute)
		if r := introspect("web", set.str("access_token")); strings.TrimSpace(string(r.raw)) != `{"active":false}` {
			t.Errorf("body %s", r.raw)
		}
	})
}

// TestRefreshReuseGrace: RFC 9700 4.14.2 with a grace window for a lost response.
func TestRefreshReuseGrace(t *testing.T) {
	tests := []struct {
		name  string
		grace time.Duration
		steps func(t *testing.T, h *harness, c *shiftedClock, rt0 string)
	}{
		{name: "retry within the window replaces the successor", steps: func(t *testing.T, h *harness, c *shiftedClock, rt0 string) {
			lost := h.refresh("web", rt0).str("refresh_token")
			c.advance(5 * time.Second)
			retry := h.refresh("web", rt0)
			if retry.status != 200 || retry.str("access_token") == "" || retry.str("id_token") == "" {
				t.Fatalf("retry: %d %s", retry.status, retry.raw)
			}
			rt2 := retry.str("refresh_token")
			if rt2 == lost || rt2 == rt0 {
				t.Fatal("retry did not issue a new refresh token")
			}
			if r := h.refresh("web", rt2); r.status != 200 {
				t.Fatalf("the retry's token: %d %s", r.status, r.raw)
			}
		}},
		{name: "the replaced successor then revokes the family", steps: func(t *testing.T, h *harness, c *shiftedClock, rt0 string) {
			lost := h.refresh("web", rt0).str("refresh_token")
			rt2 := h.refresh("web", rt0).str("refresh_token")
			checkJSONError(t, h.refresh("web", lost), 400, "invalid_grant")
			checkJSONError(t, h.refresh("web", rt2), 400, "invalid_grant")
		}},
		{name: "window runs from the first rotation", steps: func(t *testing.T, h *harness, c *shiftedClock, rt0 string) {
			h.refresh("web", rt0)
			c.advance(6 * time.Second)
			if r := h.refresh("web", rt0); r.status != 200 {
				t.Fatalf("first retry: %d %s", r.status, r.raw)
			}
			c.advance(6 * time.Second)
			checkJSONError(t, h.refresh("web", rt0), 400, "invalid_grant")
		}},
		{name: "reuse after the window revokes the family", steps: func(t *testing.T, h *harness, c *shiftedClock, rt0 string) {
			rt1 := h.refresh("web", rt0).str("refresh_token")
			c.advance(11 * time.Second)
			checkJSONError(t, h.refresh("web", rt0), 400, "invalid_grant")
			checkJSONError(t, h.refresh("web", rt1), 400, "invalid_grant")
		}},
		{name: "reuse after the successor was used revokes the family", steps: func(t *testing.T, h *harness, c *shiftedClock, rt0 string) {
			rt1 := h.refresh("web", rt0).str("refresh_token")
			rt2 := h.refresh("web", rt1).str("refresh_token")
			checkJSONError(t, h.refresh("web", rt0), 400, "invalid_grant")
			checkJSONError(t, h.refresh("web", rt2), 400, "invalid_grant")
		}},
		{name: "another client gets no grace", steps: func(t *testing.T, h *harness, c *shiftedClock, rt0 string) {
			rt1 := h.refresh("web", rt0).str("refresh_token")
			checkJSONError(t, h.refresh("other", rt0), 400, "invalid_grant")
			if r := h.refresh("web", rt1); r.status != 200 {
				t.Fatalf("successor after another client's attempt: %d %s", r.status, r.raw)
			}
		}},
		{name: "negative grace disables the window", grace: -1, steps: func(t *testing.T, h *harness, c *shiftedClock, rt0 string) {
			rt1 := h.refresh("web", rt0).str("refresh_token")
			checkJSONError(t, h.refresh("web", rt0), 400, "invalid_grant")
			checkJSONError(t, h.refresh("web", rt1), 400, "invalid_grant")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &shiftedClock{}
			h := newHarness(t, true, withClock(c), func(cfg *idp.Config) { cfg.RefreshReuseGrace = tt.grace })
			set := h.redeem("web", h.code(authQuery("web", "scope", "openid profile offline_access")))
			if set.status != 200 {
				t.Fatalf("redeem: %d %s", set.status, set.raw)
			}
			tt.steps(t, h, c, set.str("refresh_token"))
		})
	}
}
