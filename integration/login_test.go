package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/internal/config"
)

const (
	haoCCCD   = "038092004567" // Lê Công Hảo, level 2
	linhCCCD  = "038085001234" // Nguyễn Văn Lĩnh, level 2
	childCCCD = "038216009753" // Trương Tuấn Hưng, level 1 only
)

var reHidden = regexp.MustCompile(`<input type="hidden" name="([a-z]+)" value="([^"]*)">`)

// login takes a browser through authorize, the eID (when Motlan sends it there) and the
// consent page (answering it), and returns where Motlan finally sends the browser.
func (s *stack) login(t *testing.T, b *browser, a authRequest, cccd, consent string) (final *url.URL, sawEID, sawConsent bool) {
	t.Helper()
	loc := location(t, b.get(a.url))
	if isEID(s, loc) {
		sawEID = true
		cb, err := sim.Login(context.Background(), b.client, loc.String(), cccd, sim.DevPassword)
		if err != nil {
			t.Fatalf("eID login: %v", err)
		}
		loc = location(t, b.get(cb.String()))
	}
	if strings.HasPrefix(loc.String(), s.issuer+"/consent") {
		sawConsent = true
		page := body(t, b.get(loc.String()))
		form := url.Values{"action": {consent}}
		for _, m := range reHidden.FindAllStringSubmatch(page, -1) {
			form.Set(m[1], m[2])
		}
		loc = location(t, b.postForm(s.issuer+"/consent", form))
	}
	return loc, sawEID, sawConsent
}

// redeem checks the authorization response and exchanges its code as the RP would.
func (c *rp) redeem(t *testing.T, s *stack, a authRequest, cb *url.URL) (*oauth2.Token, *oidc.IDToken) {
	t.Helper()
	q := cb.Query()
	if !strings.HasPrefix(cb.String(), c.redirect+"?") {
		t.Fatalf("redirected to %s, want %s", cb, c.redirect)
	}
	if q.Get("error") != "" {
		t.Fatalf("authorization error: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != a.state || q.Get("iss") != s.issuer {
		t.Fatalf("state/iss: got %q %q", q.Get("state"), q.Get("iss"))
	}
	tok, err := c.cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(a.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := c.verifier.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != a.nonce {
		t.Fatalf("nonce %q, want %q", idt.Nonce, a.nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	return tok, idt
}

func authError(t *testing.T, cb *url.URL, redirect, state, issuer, want string) {
	t.Helper()
	q := cb.Query()
	if !strings.HasPrefix(cb.String(), redirect+"?") || q.Get("error") != want || q.Get("state") != state || q.Get("iss") != issuer {
		t.Fatalf("want error=%s at %s with state and iss, got %s", want, redirect, cb)
	}
}

func TestFederatedLogin(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			// The portal, a confidential client, has its own refresh reuse window (the
			// default is none).
			testFederatedLogin(t, newStackWith(t, driver, false, func(c *config.Config) {
				g := config.Duration(10 * time.Second)
				c.Clients[0].RefreshReuseGrace = &g
			}))
		})
	}
}

func testFederatedLogin(t *testing.T, s *stack) {
	ctx := context.Background()
	b := newBrowser(t)
	all := []string{"openid", "profile", "address", "phone", "cccd"}

	// 1. First login: eID round trip, consent, claims with diacritics intact.
	a := s.portal.authorize(all, oauth2.SetAuthURLParam("acr_values", "2"))
	cb, sawEID, sawConsent := s.login(t, b, a, haoCCCD, "allow")
	if !sawEID || !sawConsent {
		t.Fatalf("first login: eID %v consent %v, want both", sawEID, sawConsent)
	}
	tok, idt := s.portal.redeem(t, s, a, cb)
	var idc struct {
		ACR      string   `json:"acr"`
		AMR      []string `json:"amr"`
		Sid      string   `json:"sid"`
		AuthTime int64    `json:"auth_time"`
		Azp      string   `json:"azp"`
	}
	if err := idt.Claims(&idc); err != nil {
		t.Fatal(err)
	}
	if idc.ACR != "2" || len(idc.AMR) == 0 || idc.Sid == "" || idc.AuthTime == 0 || idc.Azp != "portal" {
		t.Fatalf("ID token claims: %+v", idc)
	}
	provider, err := oidc.NewProvider(ctx, s.issuer)
	if err != nil {
		t.Fatal(err)
	}
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Subject != idt.Subject {
		t.Fatalf("userinfo sub %q != ID token sub %q", ui.Subject, idt.Subject)
	}
	var claims struct {
		Name        string `json:"name"`
		FamilyName  string `json:"family_name"`
		GivenName   string `json:"given_name"`
		Birthdate   string `json:"birthdate"`
		Gender      string `json:"gender"`
		CCCD        string `json:"cccd"`
		PhoneNumber string `json:"phone_number"`
		Address     struct {
			Formatted string `json:"formatted"`
			Region    string `json:"region"`
		} `json:"address"`
	}
	if err := ui.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Name != "Lê Công Hảo" || claims.FamilyName != "Lê" || claims.GivenName != "Hảo" ||
		claims.Birthdate != "1992-11-02" || claims.Gender != "male" || claims.CCCD != haoCCCD ||
		claims.PhoneNumber == "" || !strings.Contains(claims.Address.Formatted, "Thanh Hóa") {
		t.Fatalf("userinfo claims: %+v", claims)
	}

	// 2. Single sign-on: a second, first-party client gets a code with no eID round trip
	//    and no consent page, and a different pairwise subject.
	a2 := s.insure.authorize([]string{"openid", "profile"})
	cb2, sawEID, sawConsent := s.login(t, b, a2, "", "")
	if sawEID || sawConsent {
		t.Fatalf("SSO: eID %v consent %v, want neither", sawEID, sawConsent)
	}
	_, idt2 := s.insure.redeem(t, s, a2, cb2)
	if idt2.Subject == idt.Subject {
		t.Fatal("pairwise subjects: two clients got the same sub")
	}

	// 3. The remembered consent: the portal again, same scopes: no consent page.
	a3 := s.portal.authorize(all)
	cb3, sawEID, sawConsent := s.login(t, b, a3, "", "")
	if sawEID || sawConsent {
		t.Fatalf("second portal login: eID %v consent %v, want neither", sawEID, sawConsent)
	}
	_, idt3 := s.portal.redeem(t, s, a3, cb3)
	if idt3.Subject != idt.Subject {
		t.Fatal("pairwise subject not stable for one client")
	}

	// 4. prompt=login, and max_age=0, force a new eID login despite the session.
	for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0")} {
		a4 := s.insure.authorize([]string{"openid"}, opt)
		cb4, sawEID, _ := s.login(t, b, a4, haoCCCD, "")
		if !sawEID {
			t.Fatalf("%v did not send the citizen to the eID", opt)
		}
		_, idt4 := s.insure.redeem(t, s, a4, cb4)
		if idt4.Subject != idt2.Subject {
			t.Fatal("same citizen, same client: subject changed after re-login")
		}
	}

	// 5. Refresh rotates; a retry of the old token within the reuse grace window replaces
	// the successor, and the replaced successor, presented again, revokes the family.
	ts := s.portal.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken})
	fresh, err := ts.Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Fatal("refresh token was not rotated")
	}
	if raw, _ := fresh.Extra("id_token").(string); raw == "" {
		t.Fatal("refresh returned no ID token")
	} else if rid, err := s.portal.verifier.Verify(ctx, raw); err != nil || rid.Subject != idt.Subject {
		t.Fatalf("refreshed ID token: %v", err)
	} else if amr := (struct {
		AMR []string `json:"amr"`
	}{}); rid.Claims(&amr) != nil || len(amr.AMR) == 0 {
		t.Fatalf("the eID's amr lost on refresh: %v", amr.AMR)
	}
	retried, err := s.portal.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("retry within the grace window: %v", err)
	}
	if _, err := s.portal.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("replaced successor: %v, want invalid_grant", err)
	}
	if _, err := s.portal.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: retried.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("after the replaced successor came back the family must be revoked: %v", err)
	}

	// 6. Code replay fails.
	if _, err := s.portal.cfg.Exchange(ctx, cb3.Query().Get("code"), oauth2.VerifierOption(a3.verifier)); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("code replay: %v, want invalid_grant", err)
	}
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	if err == nil {
		return false
	}
	if e, ok := err.(*oauth2.RetrieveError); ok {
		re = e
	}
	return re != nil && re.ErrorCode == code
}

func TestLoginErrors(t *testing.T) {
	s := newStack(t, "sqlite")
	ctx := context.Background()

	t.Run("unregistered redirect_uri gets a page, never a redirect", func(t *testing.T) {
		b := newBrowser(t)
		c := s.portal
		c.cfg.RedirectURL = "https://evil.example.test/callback"
		resp := b.get(c.authorize([]string{"openid"}).url)
		page := body(t, resp)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(page, "chuyển hướng") {
			t.Fatalf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("prompt=none without a session: login_required", func(t *testing.T) {
		b := newBrowser(t)
		a := s.portal.authorize([]string{"openid"}, oauth2.SetAuthURLParam("prompt", "none"))
		authError(t, location(t, b.get(a.url)), s.portal.redirect, a.state, s.issuer, "login_required")
	})
	t.Run("level 2 essential, level-1 citizen: access_denied", func(t *testing.T) {
		b := newBrowser(t)
		a := s.insure.authorize([]string{"openid"}, oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"essential":true,"value":"2"}}}`))
		cb, _, _ := s.login(t, b, a, childCCCD, "")
		authError(t, cb, s.insure.redirect, a.state, s.issuer, "access_denied")
	})
	t.Run("level 2 preferred, level-1 citizen: logged in at level 1", func(t *testing.T) {
		b := newBrowser(t)
		a := s.insure.authorize([]string{"openid"}, oauth2.SetAuthURLParam("acr_values", "2"))
		cb, _, _ := s.login(t, b, a, childCCCD, "")
		_, idt := s.insure.redeem(t, s, a, cb)
		var c struct {
			ACR string `json:"acr"`
		}
		if err := idt.Claims(&c); err != nil || c.ACR != "1" {
			t.Fatalf("acr %q (%v), want 1", c.ACR, err)
		}
	})
	t.Run("consent declined: access_denied", func(t *testing.T) {
		b := newBrowser(t)
		a := s.portal.authorize([]string{"openid", "profile"})
		cb, _, saw := s.login(t, b, a, linhCCCD, "deny")
		if !saw {
			t.Fatal("no consent page")
		}
		authError(t, cb, s.portal.redirect, a.state, s.issuer, "access_denied")
	})
	t.Run("scope not allowed: invalid_scope", func(t *testing.T) {
		b := newBrowser(t)
		a := s.insure.authorize([]string{"openid", "cccd"})
		authError(t, location(t, b.get(a.url)), s.insure.redirect, a.state, s.issuer, "invalid_scope")
	})
	t.Run("public client without PKCE: invalid_request", func(t *testing.T) {
		b := newBrowser(t)
		u := s.public.cfg.AuthCodeURL("st")
		authError(t, location(t, b.get(u)), s.public.redirect, "st", s.issuer, "invalid_request")
	})
	t.Run("wrong PKCE verifier: invalid_grant", func(t *testing.T) {
		b := newBrowser(t)
		a := s.public.authorize([]string{"openid"})
		cb, _, _ := s.login(t, b, a, linhCCCD, "")
		_, err := s.public.cfg.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
		if !isOAuthError(err, "invalid_grant") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("public client with PKCE logs in", func(t *testing.T) {
		b := newBrowser(t)
		a := s.public.authorize([]string{"openid", "profile"})
		cb, _, _ := s.login(t, b, a, linhCCCD, "")
		_, idt := s.public.redeem(t, s, a, cb)
		var c struct {
			Name string `json:"name"`
		}
		_ = idt.Claims(&c)
		if c.Name != "" {
			t.Fatal("scope claims belong in userinfo, not the ID token, unless the claims parameter asks")
		}
	})
	t.Run("claims parameter puts the name in the ID token", func(t *testing.T) {
		b := newBrowser(t)
		req, _ := json.Marshal(map[string]any{"id_token": map[string]any{"name": nil, "cccd": nil}})
		a := s.public.authorize([]string{"openid", "profile"}, oauth2.SetAuthURLParam("claims", string(req)))
		cb, _, _ := s.login(t, b, a, linhCCCD, "")
		_, idt := s.public.redeem(t, s, a, cb)
		var c map[string]any
		_ = idt.Claims(&c)
		if c["name"] != "Nguyễn Văn Lĩnh" {
			t.Fatalf("name in ID token: %v", c["name"])
		}
		if _, ok := c["cccd"]; ok {
			t.Fatal("cccd released to a client not allowed that scope")
		}
	})
	t.Run("eID down at the token exchange: temporarily_unavailable", func(t *testing.T) {
		s2 := newStack(t, "sqlite")
		b := newBrowser(t)
		a := s2.portal.authorize([]string{"openid"})
		cbURL, err := sim.Login(ctx, b.client, location(t, b.get(a.url)).String(), linhCCCD, sim.DevPassword)
		if err != nil {
			t.Fatal(err)
		}
		s2.eid.CloseClientConnections()
		s2.eid.Close()
		authError(t, location(t, b.get(cbURL.String())), s2.portal.redirect, a.state, s2.issuer, "temporarily_unavailable")
	})
	t.Run("eID down since start: temporarily_unavailable", func(t *testing.T) {
		s2 := newStackWith(t, "sqlite", true)
		b := newBrowser(t)
		a := s2.portal.authorize([]string{"openid"})
		authError(t, location(t, b.get(a.url)), s2.portal.redirect, a.state, s2.issuer, "temporarily_unavailable")
	})
	t.Run("callback replayed or from another browser is refused", func(t *testing.T) {
		b := newBrowser(t)
		a := s.insure.authorize([]string{"openid"})
		loc := location(t, b.get(a.url))
		cbURL, err := sim.Login(ctx, b.client, loc.String(), linhCCCD, sim.DevPassword)
		if err != nil {
			t.Fatal(err)
		}
		other := newBrowser(t)
		if resp := other.get(cbURL.String()); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("foreign browser: %d", resp.StatusCode)
		}
		_, _ = s.insure.redeem(t, s, a, location(t, b.get(cbURL.String())))
		if resp := b.get(cbURL.String()); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("replayed callback: %d", resp.StatusCode)
		}
	})
}
