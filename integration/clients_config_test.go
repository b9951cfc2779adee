package integration

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/motlan/motlan/internal/config"
)

// TestRemovedClient: the configuration is the truth for clients. A client removed from
// it is disabled when a replica starts with the new file (a restart) and when a running
// one re-reads it (SIGHUP, Running.ReloadClients): its access tokens fail at userinfo
// and the signing API, its refresh token is revoked, it can no longer get tokens. Listed
// again, it works again with new tokens; the revoked refresh token stays revoked.
func TestRemovedClient(t *testing.T) {
	var cfg *config.Config
	s := newStackWith(t, "sqlite", false, func(c *config.Config) { cfg = c })
	b := newBrowser(t)
	a := s.portal.authorize([]string{"openid", "profile", "offline_access"})
	cb, _, _ := s.login(t, b, a, haoCCCD, "allow")
	tok, _ := s.portal.redeem(t, s, a, cb)
	cc := clientcredentials.Config{ClientID: s.portal.id, ClientSecret: s.portal.secret, TokenURL: s.issuer + "/token",
		Scopes: []string{"signing"}, AuthStyle: oauth2.AuthStyleInHeader}
	service, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	check := func(when, base string, want int) {
		t.Helper()
		for _, c := range []struct{ name, path, token string }{
			{"userinfo", "/userinfo", tok.AccessToken},
			{"signing API", "/signing/v1/requests?subject=x", service.AccessToken},
		} {
			req, _ := http.NewRequest(http.MethodGet, base+c.path, nil)
			req.Header.Set("Authorization", "Bearer "+c.token)
			resp := do(t, http.DefaultClient, req)
			if raw := body(t, resp); (resp.StatusCode == http.StatusUnauthorized) != (want == http.StatusUnauthorized) {
				t.Errorf("%s: %s: %d %s, want %v", when, c.name, resp.StatusCode, raw, want)
			} else if want == http.StatusUnauthorized && !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("%s: %s: WWW-Authenticate %q lacks invalid_token", when, c.name, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
	refresh := func(base string) (int, string) {
		v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
		req, _ := http.NewRequest(http.MethodPost, base+"/token", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(s.portal.id, s.portal.secret)
		resp := do(t, http.DefaultClient, req)
		return resp.StatusCode, body(t, resp)
	}
	check("configured", s.issuer, http.StatusOK)

	all := cfg.Clients
	without := *cfg
	without.Clients = nil
	for _, c := range all {
		if c.ID != s.portal.id {
			without.Clients = append(without.Clients, c)
		}
	}
	// A restart with the new file: another replica starting on the same store.
	addr := freeAddr(t)
	startReplica(t, without, addr, discard())
	check("after a restart without the client", "http://"+addr, http.StatusUnauthorized)
	if status, raw := refresh("http://" + addr); status == http.StatusOK {
		t.Errorf("refresh after the client was removed: %d %s", status, raw)
	}
	// The running replica re-reads the file (SIGHUP).
	if err := s.run.ReloadClients(context.Background(), without.Clients); err != nil {
		t.Fatal(err)
	}
	check("after SIGHUP without the client", s.issuer, http.StatusUnauthorized)
	if _, err := cc.Token(context.Background()); err == nil {
		t.Error("a removed client got a client_credentials token")
	}
	// Listed again: new tokens work; the revoked refresh token does not come back.
	if err := s.run.ReloadClients(context.Background(), all); err != nil {
		t.Fatal(err)
	}
	if status, raw := refresh(s.issuer); status == http.StatusOK {
		t.Errorf("the refresh token revoked with the client works again: %s", raw)
	}
	if service, err = cc.Token(context.Background()); err != nil {
		t.Fatalf("client listed again: %v", err)
	}
	tok.AccessToken = service.AccessToken // userinfo refuses a client_credentials token (no openid) with 403, not 401
	check("listed again", s.issuer, http.StatusForbidden)
}
