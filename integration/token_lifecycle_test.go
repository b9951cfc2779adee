package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/motlan/motlan/internal/config"
)

// TestTokenLifecycle: revocation (RFC 7009), introspection (RFC 7662) and the refresh reuse
// grace window (RFC 9700 4.14.2), driven by an x/oauth2 relying party against the real
// stack.
func TestTokenLifecycle(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			grace := config.Duration(time.Second)
			s := newStackWith(t, driver, false, func(c *config.Config) { c.Tokens.RefreshReuseGrace = &grace })
			testTokenLifecycle(t, s)
		})
	}
}

// call posts token to a revocation or introspection endpoint as the insure client
// (client_secret_post) and returns the status and decoded body.
func (s *stack) call(t *testing.T, path, token string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"token": {token}, "client_id": {s.insure.id}, "client_secret": {s.insure.secret}}
	resp, err := http.PostForm(s.issuer+path, form)
	if err != nil {
		t.Fatal(err)
	}
	raw := body(t, resp)
	var out map[string]any
	if strings.TrimSpace(raw) != "" {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatalf("%s: %q: %v", path, raw, err)
		}
	}
	return resp.StatusCode, out
}

func (s *stack) active(t *testing.T, token string) bool {
	t.Helper()
	status, out := s.call(t, "/introspect", token)
	if status != http.StatusOK {
		t.Fatalf("introspect: %d %v", status, out)
	}
	if out["active"] != true && len(out) != 1 {
		t.Fatalf("inactive response carries more than active: %v", out)
	}
	return out["active"] == true
}

func userinfoStatus(t *testing.T, s *stack, at string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body(t, resp)
	return resp.StatusCode
}

func testTokenLifecycle(t *testing.T, s *stack) {
	ctx := context.Background()
	login := func() *oauth2.Token {
		t.Helper()
		a := s.insure.authorize([]string{"openid", "profile"})
		cb, _, _ := s.login(t, newBrowser(t), a, linhCCCD, "")
		tok, _ := s.insure.redeem(t, s, a, cb)
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token")
		}
		return tok
	}
	refresh := func(rt string) (*oauth2.Token, error) {
		return s.insure.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	}

	t.Run("introspect active and inactive", func(t *testing.T) {
		tok := login()
		_, out := s.call(t, "/introspect", tok.AccessToken)
		if out["active"] != true || out["client_id"] != s.insure.id || out["iss"] != s.issuer || out["token_type"] != "Bearer" {
			t.Fatalf("access token: %v", out)
		}
		if !s.active(t, tok.RefreshToken) {
			t.Fatal("fresh refresh token inactive")
		}
		if s.active(t, "not-a-token") {
			t.Fatal("garbage active")
		}
		// The portal's token is not the insurer's business.
		portalStatus, portalOut := func() (int, map[string]any) {
			form := url.Values{"token": {tok.AccessToken}}
			req, _ := http.NewRequest(http.MethodPost, s.issuer+"/introspect", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(s.portal.id, s.portal.secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			_ = json.Unmarshal([]byte(body(t, resp)), &m)
			return resp.StatusCode, m
		}()
		if portalStatus != 200 || len(portalOut) != 1 || portalOut["active"] != false {
			t.Fatalf("another client's token: %d %v", portalStatus, portalOut)
		}
	})

	t.Run("revoke refresh token: refresh fails", func(t *testing.T) {
		tok := login()
		if status, _ := s.call(t, "/revoke", tok.RefreshToken); status != 200 {
			t.Fatalf("revoke: %d", status)
		}
		if _, err := refresh(tok.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("refresh after revocation: %v", err)
		}
		if s.active(t, tok.RefreshToken) {
			t.Fatal("revoked refresh token still active")
		}
	})

	t.Run("revoke access token: userinfo 401", func(t *testing.T) {
		tok := login()
		if st := userinfoStatus(t, s, tok.AccessToken); st != 200 {
			t.Fatalf("userinfo before: %d", st)
		}
		if status, _ := s.call(t, "/revoke", tok.AccessToken); status != 200 {
			t.Fatalf("revoke: %d", status)
		}
		if st := userinfoStatus(t, s, tok.AccessToken); st != 401 {
			t.Fatalf("userinfo after revocation: %d", st)
		}
		if s.active(t, tok.AccessToken) {
			t.Fatal("revoked access token still active")
		}
	})

	t.Run("lost response retried within grace", func(t *testing.T) {
		tok := login()
		lost, err := refresh(tok.RefreshToken) // the RP never sees this response
		if err != nil {
			t.Fatal(err)
		}
		retried, err := refresh(tok.RefreshToken)
		if err != nil {
			t.Fatalf("retry within grace: %v", err)
		}
		if retried.RefreshToken == lost.RefreshToken {
			t.Fatal("retry returned the lost token")
		}
		if s.active(t, lost.RefreshToken) {
			t.Fatal("the lost response's refresh token is still active")
		}
		if !s.active(t, retried.RefreshToken) {
			t.Fatal("the retry's refresh token is inactive")
		}
		if _, err := refresh(retried.RefreshToken); err != nil {
			t.Fatalf("the retry's refresh token: %v", err)
		}
	})

	t.Run("reuse after the grace window revokes the family", func(t *testing.T) {
		tok := login()
		next, err := refresh(tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1200 * time.Millisecond)
		if _, err := refresh(tok.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("reuse after grace: %v", err)
		}
		if _, err := refresh(next.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("family not revoked: %v", err)
		}
	})
}
