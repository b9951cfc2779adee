package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/motlan/motlan/internal/config"
)

// pushAuthorize is what a relying party does for PAR (RFC 9126) with go-oidc and
// x/oauth2: it finds the endpoint in discovery, posts the parameters AuthCodeURL would
// put in the query with its own credentials, and sends the browser to the authorization
// endpoint with only client_id and the request_uri it got.
func (c *rp) pushAuthorize(t *testing.T, s *stack, scopes []string, basic bool) authRequest {
	t.Helper()
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, s.issuer)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		PAR     string `json:"pushed_authorization_request_endpoint"`
		Require bool   `json:"require_pushed_authorization_requests"`
	}
	if err := provider.Claims(&meta); err != nil || meta.PAR == "" || meta.Require {
		t.Fatalf("discovery: %+v %v", meta, err)
	}
	a := c.authorize(scopes)
	u, err := url.Parse(a.url)
	if err != nil {
		t.Fatal(err)
	}
	form := u.Query()
	if basic {
		form.Del("client_id")
	} else if c.secret != "" {
		form.Set("client_secret", c.secret)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, meta.PAR, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
		Error      string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated || out.ExpiresIn != 60 {
		t.Fatalf("push: status %d %+v %v", resp.StatusCode, out, err)
	}
	a.url = c.cfg.Endpoint.AuthURL + "?" + url.Values{"client_id": {c.id}, "request_uri": {out.RequestURI}}.Encode()
	return a
}

func TestPushedAuthorization(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			s := newStackWith(t, driver, false, func(c *config.Config) {
				for i := range c.Clients {
					if c.Clients[i].ID == "bhyt" {
						c.Clients[i].RequirePAR = true
					}
				}
			})
			testPushedAuthorization(t, s)
		})
	}
}

func testPushedAuthorization(t *testing.T, s *stack) {
	// A confidential client with Basic: PAR, eID, consent, token, ID token.
	b := newBrowser(t)
	a := s.portal.pushAuthorize(t, s, []string{"openid", "profile"}, true)
	cb, sawEID, sawConsent := s.login(t, b, a, haoCCCD, "allow")
	if !sawEID || !sawConsent {
		t.Fatalf("eID %v consent %v, want both", sawEID, sawConsent)
	}
	_, idt := s.portal.redeem(t, s, a, cb)
	if idt.Subject == "" {
		t.Fatal("no subject")
	}
	// The request_uri is single-use.
	resp := b.get(a.url)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("reused request_uri: status %d", resp.StatusCode)
	}
	body(t, resp)

	// A client that requires PAR (client_secret_post): a plain request is refused at its
	// redirect URI, a pushed one goes through.
	plain := s.insure.authorize([]string{"openid", "profile"})
	authError(t, location(t, newBrowser(t).get(plain.url)), s.insure.redirect, plain.state, s.issuer, "invalid_request")
	a = s.insure.pushAuthorize(t, s, []string{"openid", "profile"}, false)
	cb, sawEID, _ = s.login(t, newBrowser(t), a, linhCCCD, "allow")
	if !sawEID {
		t.Fatal("no eID round trip")
	}
	s.insure.redeem(t, s, a, cb)

	// A public client pushes with PKCE and no secret.
	a = s.public.pushAuthorize(t, s, []string{"openid", "profile"}, false)
	cb, _, _ = s.login(t, newBrowser(t), a, haoCCCD, "allow")
	tok, _ := s.public.redeem(t, s, a, cb)
	if tok.AccessToken == "" {
		t.Fatal("no access token")
	}
}
