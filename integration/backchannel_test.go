package integration

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/internal/config"
)

// TestBackchannelLogout: after RP-initiated logout the portal, configured with a
// back-channel logout URI, receives a logout token it verifies with Motlan's JWKS, naming
// the sid and sub of the ID token it got in that session.
func TestBackchannelLogout(t *testing.T) {
	tokens := make(chan string, 4)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		tokens <- r.PostFormValue("logout_token")
	}))
	t.Cleanup(rcv.Close)
	s := newStackWith(t, "sqlite", false, func(c *config.Config) {
		c.Clients[0].BackchannelLogoutURI = rcv.URL + "/backchannel-logout"
		c.Clients[0].BackchannelLogoutSessionRequired = true
	})

	b := newBrowser(t)
	a := s.portal.authorize([]string{"openid", "profile"})
	cb, _, _ := s.login(t, b, a, haoCCCD, "allow")
	tok, idt := s.portal.redeem(t, s, a, cb)
	var portalClaims struct {
		Sid string `json:"sid"`
	}
	if err := idt.Claims(&portalClaims); err != nil || portalClaims.Sid == "" {
		t.Fatalf("ID token sid %q: %v", portalClaims.Sid, err)
	}
	// insure takes part in the session too, without a back-channel URI.
	a2 := s.insure.authorize([]string{"openid"})
	cb2, _, _ := s.login(t, b, a2, "", "")
	s.insure.redeem(t, s, a2, cb2)

	hint, _ := tok.Extra("id_token").(string)
	loc := location(t, b.get(s.issuer+"/logout?"+url.Values{
		"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://portal.example.test/"},
	}.Encode()))
	for strings.HasPrefix(loc.String(), s.eid.URL) || strings.HasPrefix(loc.String(), s.issuer) {
		loc = location(t, b.get(loc.String()))
	}
	if loc.String() != "https://portal.example.test/" {
		t.Fatalf("final redirect %s", loc)
	}

	var raw string
	select {
	case raw = <-tokens:
	case <-time.After(10 * time.Second):
		t.Fatal("no logout token arrived")
	}
	// The relying party's checks (Back-Channel Logout 1.0 section 2.6): typ, signature
	// against the JWKS, iss, aud, exp (go-oidc), then events, sid, sub and no nonce.
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if typ, _ := jws.Signatures[0].Protected.ExtraHeaders["typ"].(string); typ != "logout+jwt" {
		t.Errorf("typ %q, want logout+jwt", typ)
	}
	provider, err := oidc.NewProvider(context.Background(), s.issuer)
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Supported        bool `json:"backchannel_logout_supported"`
		SessionSupported bool `json:"backchannel_logout_session_supported"`
	}
	if err := provider.Claims(&disc); err != nil || !disc.Supported || !disc.SessionSupported {
		t.Errorf("discovery %+v, %v", disc, err)
	}
	lt, err := provider.Verifier(&oidc.Config{ClientID: s.portal.id, SupportedSigningAlgs: []string{"ES256", "RS256"}}).
		Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("verify logout token: %v", err)
	}
	var c struct {
		Sid    string                    `json:"sid"`
		Jti    string                    `json:"jti"`
		Nonce  *string                   `json:"nonce"`
		Events map[string]map[string]any `json:"events"`
	}
	if err := lt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if ev, ok := c.Events[idp.BackchannelLogoutEvent]; !ok || len(ev) != 0 || len(c.Events) != 1 {
		t.Errorf("events %v", c.Events)
	}
	if c.Sid != portalClaims.Sid || lt.Subject != idt.Subject || c.Jti == "" || c.Nonce != nil {
		t.Errorf("logout token sid %q sub %q jti %q nonce %v; ID token sid %q sub %q",
			c.Sid, lt.Subject, c.Jti, c.Nonce, portalClaims.Sid, idt.Subject)
	}
	select {
	case extra := <-tokens:
		t.Errorf("a second logout token arrived: %.40s", extra)
	case <-time.After(200 * time.Millisecond):
	}
}
