package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLogout: RP-initiated logout ends Motlan's session and the eID's, so the next login on
// a shared device asks for the password again.
func TestLogout(t *testing.T) {
	s := newStack(t, "sqlite")
	b := newBrowser(t)
	a := s.portal.authorize([]string{"openid", "profile"})
	cb, _, _ := s.login(t, b, a, haoCCCD, "allow")
	tok, _ := s.portal.redeem(t, s, a, cb)
	hint, _ := tok.Extra("id_token").(string)

	t.Run("unregistered post_logout_redirect_uri is refused", func(t *testing.T) {
		resp := b.get(s.issuer + "/logout?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example.test/"}}.Encode())
		if body(t, resp); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Fatalf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("without id_token_hint the citizen confirms", func(t *testing.T) {
		resp := b.get(s.issuer + "/logout")
		page := body(t, resp)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="logout-confirm"`) {
			t.Fatalf("status %d, want the confirmation page", resp.StatusCode)
		}
		// A forged POST without the form's CSRF token changes nothing.
		resp = b.postForm(s.issuer+"/logout", url.Values{"csrf": {"forged"}})
		if page := body(t, resp); !strings.Contains(page, `id="logout-confirm"`) {
			t.Fatal("a POST without the CSRF token logged the citizen out")
		}
		a2 := s.insure.authorize([]string{"openid"})
		if _, sawEID, _ := s.login(t, b, a2, "", ""); sawEID {
			t.Fatal("the session ended without confirmation")
		}
	})

	// With the hint: Motlan → eID end_session → Motlan /logout/done → the portal, with state.
	loc := location(t, b.get(s.issuer+"/logout?"+url.Values{
		"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://portal.example.test/"}, "state": {"st-1"},
	}.Encode()))
	if !isEID(s, loc) {
		t.Fatalf("logout did not pass through the eID: %s", loc)
	}
	loc = location(t, b.get(loc.String()))
	if !strings.HasPrefix(loc.String(), s.issuer+"/logout/done") {
		t.Fatalf("eID sent the browser to %s", loc)
	}
	loc = location(t, b.get(loc.String()))
	if loc.String() != "https://portal.example.test/?state=st-1" {
		t.Fatalf("final redirect %s", loc)
	}

	// Both sessions are gone: Motlan sends to the eID, and the eID asks for the password.
	a3 := s.portal.authorize([]string{"openid", "profile"})
	loc = location(t, b.get(a3.url))
	if !isEID(s, loc) {
		t.Fatal("Motlan session survived logout")
	}
	loc = location(t, b.get(loc.String()))
	if !strings.Contains(loc.Path, "/login") {
		t.Fatalf("eID session survived logout: eID redirected to %s", loc)
	}
}
