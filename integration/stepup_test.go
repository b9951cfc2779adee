package integration

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/motlan/motlan/adapters/vneid/sim"
)

// TestStepUp: Motlan's own pages (signing approval) get a fresh level-2 eID login and come
// back to a local path; never to another origin, never below level 2.
func TestStepUp(t *testing.T) {
	s := newStack(t, "sqlite")
	ctx := context.Background()
	tests := []struct {
		name, cccd string
		wantBack   bool
		wantStatus int
	}{
		{"level 2 comes back", haoCCCD, true, 0},
		{"level 1 is refused", childCCCD, false, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t)
			loc := location(t, b.get(s.issuer+"/stepup?return=%2Fsign%2Fabc"))
			q := loc.Query()
			if !isEID(s, loc) || q.Get("acr_values") != "2" || q.Get("prompt") != "login" || q.Get("max_age") != "0" {
				t.Fatalf("step-up went to %s", loc)
			}
			cb, err := sim.Login(ctx, b.client, loc.String(), tt.cccd, sim.DevPassword)
			if err != nil {
				t.Fatal(err)
			}
			resp := b.get(cb.String())
			if tt.wantBack {
				if back := location(t, resp); back.String() != s.issuer+"/sign/abc" {
					t.Fatalf("came back to %s", back)
				}
				return
			}
			page := body(t, resp)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(page, "mức độ 2") {
				t.Fatalf("status %d, want %d with the level-2 explanation", resp.StatusCode, tt.wantStatus)
			}
		})
	}
	t.Run("another origin is refused", func(t *testing.T) {
		for _, ret := range []string{"//evil.example", "https://evil.example/", "/\\evil"} {
			resp := newBrowser(t).get(s.issuer + "/stepup?return=" + url.QueryEscape(ret))
			if body(t, resp); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("return=%s: status %d", ret, resp.StatusCode)
			}
		}
	})
}

// TestClientCredentials: a portal's server gets a token for the signing API, and that
// token opens no citizen data.
func TestClientCredentials(t *testing.T) {
	s := newStack(t, "sqlite")
	ctx := context.Background()
	cc := clientcredentials.Config{ClientID: s.portal.id, ClientSecret: s.portal.secret,
		TokenURL: s.issuer + "/token", Scopes: []string{"signing"}, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Fatalf("userinfo with a service token: %d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	cc.Scopes = []string{"profile"}
	if _, err := cc.Token(ctx); !isOAuthError(err, "invalid_scope") {
		t.Fatalf("client_credentials for citizen data: %v", err)
	}
}
