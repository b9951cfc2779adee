package integration

// The attack suite: one test per threat of RFC 9700 (OAuth 2.0 Security BCP) section 4
// that applies to Motlan, named after the section's title, plus the section 2 practices
// an attacker would try first (password grant, client impersonation) and code replay.
// Each test runs the attack against the real stack over HTTP, on SQLite and PostgreSQL,
// asserts that it fails, and then that the honest flow still works. docs/SPEC-TESTS.md
// maps every section, including those that do not apply and why.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/internal/config"
)

// onEachStore runs an attack against a fresh stack on SQLite and on PostgreSQL.
func onEachStore(t *testing.T, attack func(t *testing.T, s *stack), mods ...func(*config.Config)) {
	t.Helper()
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			s := newStackWith(t, driver, false, mods...)
			// The portal uses client_secret_basic; fixed, so a refused exchange is not
			// retried by x/oauth2 with the secret in the body (which would change the error).
			s.portal.cfg.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
			attack(t, s)
		})
	}
}

// honest is the flow an attack must leave working: a citizen logs in to c in a fresh
// browser, c redeems the code, verifies the ID token and reads userinfo.
func (s *stack) honest(t *testing.T, c *rp) *oauth2.Token {
	t.Helper()
	a := c.authorize([]string{"openid", "profile"})
	cb, _, _ := s.login(t, newBrowser(t), a, linhCCCD, "allow")
	tok, _ := c.redeem(t, s, a, cb)
	if st := userinfoStatus(t, s, tok.AccessToken); st != http.StatusOK {
		t.Fatalf("honest flow: userinfo %d", st)
	}
	return tok
}

// authURL is an authorization request with the given parameters over sensible defaults
// for client c (code flow, openid, S256 challenge, state).
func (s *stack) authURL(c *rp, set url.Values) string {
	q := url.Values{
		"client_id": {c.id}, "redirect_uri": {c.redirect}, "response_type": {"code"}, "scope": {"openid"},
		"state": {"st-" + randSecret()[:8]}, "code_challenge_method": {"S256"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
	}
	for k, v := range set {
		if len(v) == 1 && v[0] == "" {
			q.Del(k)
			continue
		}
		q[k] = v
	}
	return s.issuer + "/authorize?" + q.Encode()
}

// refusedPage asserts that Motlan answered with its own error page: no redirect at all.
func refusedPage(t *testing.T, what string, resp *http.Response, status int) string {
	t.Helper()
	page := body(t, resp)
	if resp.StatusCode != status || resp.Header.Get("Location") != "" || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%s: status %d location %q, want the %d error page and no redirect", what, resp.StatusCode, resp.Header.Get("Location"), status)
	}
	return page
}

// tokenCall posts form to a token-style endpoint, with HTTP Basic when user is set.
func (s *stack) tokenCall(t *testing.T, path string, form url.Values, user, pass string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw := body(t, resp)
	var out map[string]any
	if strings.TrimSpace(raw) != "" {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatalf("%s: %d %q: %v", path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, out
}

func wantOAuthError(t *testing.T, what string, status int, out map[string]any, wantStatus int, code string) {
	t.Helper()
	if status != wantStatus || out["error"] != code {
		t.Fatalf("%s: %d %v, want %d %s", what, status, out, wantStatus, code)
	}
}

// jwtPayload decodes a compact JWS's payload without verifying it.
func jwtPayload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %.40s", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// toConsent takes a browser through authorize and the eID to the consent page and
// returns the page and its form fields.
func (s *stack) toConsent(t *testing.T, b *browser, a authRequest, cccd string) (string, url.Values) {
	t.Helper()
	loc := location(t, b.get(a.url))
	if isEID(s, loc) {
		cb, err := sim.Login(context.Background(), b.client, loc.String(), cccd, sim.DevPassword)
		if err != nil {
			t.Fatal(err)
		}
		loc = location(t, b.get(cb.String()))
	}
	if !strings.HasPrefix(loc.String(), s.issuer+"/consent") {
		t.Fatalf("want the consent page, went to %s", loc)
	}
	page := body(t, b.get(loc.String()))
	form := url.Values{}
	for _, m := range reHidden.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], m[2])
	}
	if form.Get("id") == "" || form.Get("csrf") == "" {
		t.Fatalf("consent form without id or csrf: %v", form)
	}
	return page, form
}

// RFC 9700 4.1, Insufficient Redirection URI Validation: the redirect URI is compared by
// exact string to the registered ones (4.1.3), before anything else, and a request with
// an unregistered one, even one that also has another error, gets a page: Motlan never
// redirects to it. Loopback redirect URIs are matched exactly too, port included.
func TestAttack_InsufficientRedirectionURIValidation(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *stack) {
		portal := []string{
			"https://portal.example.test/callback/",
			"https://portal.example.test/callbackx",
			"https://portal.example.test/callback/../evil",
			"https://portal.example.test/callback%2F..%2Fevil",
			"https://portal.example.test/callback?next=https://evil.example.test/",
			"https://portal.example.test/callback#x",
			"https://portal.example.test:443/callback",
			"https://portal.example.test:8443/callback",
			"https://PORTAL.example.test/callback",
			"https://portal.example.test/Callback",
			"http://portal.example.test/callback",
			"https://portal.example.test.evil.example.test/callback",
			"https://portal.example.test@evil.example.test/callback",
			"https://evil.example.test@portal.example.test/callback",
			"https://evil.example.test/callback",
			"https://evil.example.test/?https://portal.example.test/callback",
			"https://portal.example.test/",
			" https://portal.example.test/callback",
			"https://portal.example.test/callback\t",
			"//portal.example.test/callback",
			"/callback",
			s.insure.redirect, // another client's registered URI
		}
		public := []string{
			"http://127.0.0.1:10/app-cb", "http://127.0.0.1/app-cb", "http://localhost:9/app-cb",
			"http://[::1]:9/app-cb", "https://127.0.0.1:9/app-cb", "http://127.0.0.1:9/app-cb/",
		}
		cases := []struct {
			c    *rp
			uris []string
		}{{&s.portal, portal}, {&s.public, public}}
		for _, cs := range cases {
			for _, u := range cs.uris {
				// Plain, and with a second error that would otherwise be redirected.
				for _, extra := range []url.Values{{}, {"response_type": {"token"}}, {"scope": {"profile"}}, {"prompt": {"none"}}} {
					extra.Set("redirect_uri", u)
					b := newBrowser(t)
					page := refusedPage(t, cs.c.id+" "+u, b.get(s.authURL(cs.c, extra)), http.StatusBadRequest)
					if !strings.Contains(page, "chuyển hướng") {
						t.Fatalf("%s: the page does not say the redirect address is wrong", u)
					}
				}
			}
		}
		// Missing, repeated, and for an unknown client: still a page.
		for name, raw := range map[string]string{
			"missing":        s.authURL(&s.portal, url.Values{"redirect_uri": {""}}),
			"repeated":       s.authURL(&s.portal, url.Values{"redirect_uri": {s.portal.redirect, "https://evil.example.test/"}}),
			"unknown client": s.authURL(&s.portal, url.Values{"client_id": {"evil"}, "redirect_uri": {"https://evil.example.test/"}}),
		} {
			refusedPage(t, name, newBrowser(t).get(raw), http.StatusBadRequest)
		}
		// PAR validates the same way: no request_uri for an unregistered redirect URI.
		form := url.Values{"response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {"https://portal.example.test/callback/"},
			"code_challenge_method": {"S256"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}}
		st, out := s.tokenCall(t, "/par", form, s.portal.id, s.portal.secret)
		wantOAuthError(t, "PAR with an unregistered redirect_uri", st, out, http.StatusBadRequest, "invalid_request")
		if out["request_uri"] != nil {
			t.Fatal("PAR issued a request_uri for an unregistered redirect_uri")
		}
		// A code issued for the registered URI is not redeemed with another one.
		a := s.portal.authorize([]string{"openid"})
		cb, _, _ := s.login(t, newBrowser(t), a, linhCCCD, "allow")
		st, out = s.tokenCall(t, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
			"redirect_uri": {"https://portal.example.test/callback/"}, "code_verifier": {a.verifier}}, s.portal.id, s.portal.secret)
		wantOAuthError(t, "code redeemed with another redirect_uri", st, out, http.StatusBadRequest, "invalid_grant")

		s.honest(t, &s.portal)
		s.honest(t, &s.public)
	})
}

// RFC 9700 4.2, Credential Leakage via Referer Headers: every response, pages and the
// redirect carrying the code included, says Referrer-Policy: no-referrer; pages load
// nothing from elsewhere (CSP default-src 'none'); a code is single-use and short-lived,
// so one leaked through a Referer is worth nothing.
func TestAttack_CredentialLeakageViaRefererHeaders(t *testing.T) {
	codeTTL := config.Duration(3 * time.Second)
	onEachStore(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		b := newBrowser(t)
		a := s.portal.authorize([]string{"openid", "profile"})
		loc := location(t, b.get(a.url))
		cbURL, err := sim.Login(ctx, b.client, loc.String(), haoCCCD, sim.DevPassword)
		if err != nil {
			t.Fatal(err)
		}
		consentHop := b.get(cbURL.String())
		consentURL := location(t, consentHop)
		consent := b.get(consentURL.String())
		page := body(t, consent)
		form := url.Values{"action": {"allow"}}
		for _, m := range reHidden.FindAllStringSubmatch(page, -1) {
			form.Set(m[1], m[2])
		}
		codeHop := b.postForm(s.issuer+"/consent", form)
		for name, resp := range map[string]*http.Response{"callback": consentHop, "consent page": consent, "code redirect": codeHop} {
			if rp := resp.Header.Get("Referrer-Policy"); rp != "no-referrer" {
				t.Fatalf("%s: Referrer-Policy %q", name, rp)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Fatalf("%s: CSP %q", name, csp)
			}
		}
		for _, attr := range []string{`src="http`, `href="http`, `src="//`, `href="//`} {
			if strings.Contains(page, attr) {
				t.Fatalf("the consent page refers to another origin (%s)", attr)
			}
		}
		cb := location(t, codeHop)
		code := cb.Query().Get("code")
		if _, err := s.portal.cfg.Exchange(ctx, code, oauth2.VerifierOption(a.verifier)); err != nil {
			t.Fatalf("first redemption: %v", err)
		}
		// A leaked code: used once already.
		if _, err := s.portal.cfg.Exchange(ctx, code, oauth2.VerifierOption(a.verifier)); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("leaked code, second use: %v", err)
		}
		// A leaked code: never used, but older than its lifetime.
		a2 := s.portal.authorize([]string{"openid", "profile"})
		cb2, _, _ := s.login(t, b, a2, "", "")
		time.Sleep(time.Duration(codeTTL) + 500*time.Millisecond)
		if _, err := s.portal.cfg.Exchange(ctx, cb2.Query().Get("code"), oauth2.VerifierOption(a2.verifier)); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("expired code: %v", err)
		}
		s.honest(t, &s.portal)
	}, func(c *config.Config) { c.Tokens.Code = codeTTL })
}

// RFC 9700 4.3, Credential Leakage via Browser History: the code travels in a redirect
// marked no-store, tokens never travel in a URL (no implicit flow, no access_token query
// parameter at userinfo), and token responses are no-store.
func TestAttack_CredentialLeakageViaBrowserHistory(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *stack) {
		b := newBrowser(t)
		a := s.insure.authorize([]string{"openid", "profile"})
		loc := location(t, b.get(a.url))
		cbURL, err := sim.Login(context.Background(), b.client, loc.String(), linhCCCD, sim.DevPassword)
		if err != nil {
			t.Fatal(err)
		}
		resp := b.get(cbURL.String())
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("the redirect with the code: Cache-Control %q", cc)
		}
		cb := location(t, resp)
		if cb.Fragment != "" || cb.Query().Get("access_token") != "" || cb.Query().Get("id_token") != "" {
			t.Fatalf("tokens in the redirect URL: %s", cb)
		}
		st, out := s.tokenCall(t, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
			"redirect_uri": {s.insure.redirect}, "code_verifier": {a.verifier}, "client_id": {s.insure.id}, "client_secret": {s.insure.secret}}, "", "")
		if st != http.StatusOK {
			t.Fatalf("redeem: %d %v", st, out)
		}
		at, _ := out["access_token"].(string)
		// The token response itself must not be cached.
		req, _ := http.NewRequest(http.MethodPost, s.issuer+"/token", strings.NewReader(url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {out["refresh_token"].(string)}, "client_id": {s.insure.id}, "client_secret": {s.insure.secret}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		tr, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body(t, tr); tr.StatusCode != http.StatusOK || tr.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("token response: %d Cache-Control %q", tr.StatusCode, tr.Header.Get("Cache-Control"))
		}
		// An access token in a URL is refused, not used.
		qr, err := http.Get(s.issuer + "/userinfo?access_token=" + url.QueryEscape(at))
		if err != nil {
			t.Fatal(err)
		}
		if raw := body(t, qr); qr.StatusCode != http.StatusBadRequest || !strings.Contains(raw+qr.Header.Get("WWW-Authenticate"), "invalid_request") {
			t.Fatalf("access token in the query: %d %s", qr.StatusCode, raw)
		}
		// Response types that put tokens in the URL are refused (at the registered URI).
		for _, rt := range []string{"token", "id_token", "id_token token", "code token", "code id_token"} {
			a := s.insure.authorize([]string{"openid"}, oauth2.SetAuthURLParam("response_type", rt))
			authError(t, location(t, newBrowser(t).get(a.url)), s.insure.redirect, a.state, s.issuer, "unsupported_response_type")
		}
		s.honest(t, &s.insure)
	})
}

// RFC 9700 4.4, Mix-Up Attacks: every authorization response, errors included, carries
// iss (RFC 9207) equal to the issuer discovery names, and a code from one Motlan is
// nothing at another.
func TestAttack_MixUpAttacks(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		resp, err := http.Get(s.issuer + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			Issuer string `json:"issuer"`
			ISS    bool   `json:"authorization_response_iss_parameter_supported"`
		}
		if err := json.Unmarshal([]byte(body(t, resp)), &meta); err != nil || meta.Issuer != s.issuer || !meta.ISS {
			t.Fatalf("discovery: %+v %v", meta, err)
		}
		b := newBrowser(t)
		// Errors before a login, after the eID, and after consent all name the issuer.
		a := s.portal.authorize([]string{"openid"}, oauth2.SetAuthURLParam("prompt", "none"))
		authError(t, location(t, b.get(a.url)), s.portal.redirect, a.state, meta.Issuer, "login_required")
		a = s.insure.authorize([]string{"openid", "cccd"})
		authError(t, location(t, b.get(a.url)), s.insure.redirect, a.state, meta.Issuer, "invalid_scope")
		a = s.portal.authorize([]string{"openid", "profile"})
		cb, _, _ := s.login(t, b, a, haoCCCD, "deny")
		authError(t, cb, s.portal.redirect, a.state, meta.Issuer, "access_denied")
		// Success: iss in the response (redeem checks it), and the pushed flow too.
		a = s.portal.authorize([]string{"openid", "profile"})
		cb, _, _ = s.login(t, b, a, haoCCCD, "allow")
		if cb.Query().Get("iss") != meta.Issuer {
			t.Fatalf("code response iss %q", cb.Query().Get("iss"))
		}
		pa := s.portal.pushAuthorize(t, s, []string{"openid", "profile"}, true)
		pcb, _, _ := s.login(t, b, pa, "", "")
		if pcb.Query().Get("iss") != meta.Issuer {
			t.Fatalf("pushed flow iss %q", pcb.Query().Get("iss"))
		}
		// A second Motlan, an attacker's or just another: the code from this one is
		// unknown there, even for a client of the same id.
		other := newStackWith(t, "sqlite", false)
		other.portal.cfg.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
		if other.issuer == s.issuer {
			t.Fatal("two stacks, one issuer")
		}
		if _, err := other.portal.cfg.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(a.verifier)); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("code of one issuer at another: %v", err)
		}
		// The code was not spent by the attempt at the other issuer.
		s.portal.redeem(t, s, a, cb)
		s.honest(t, &s.portal)
	})
}

// RFC 9700 4.5, Authorization Code Injection: a stolen code does not work with another
// PKCE verifier, for another client, with another redirect URI or without the verifier;
// and where a confidential client used no PKCE, the ID token carries the victim's nonce,
// so the relying party's nonce check (4.5.3.2) catches the injection.
func TestAttack_AuthorizationCodeInjection(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		stolen := func(c *rp, opts ...oauth2.AuthCodeOption) (authRequest, string) {
			t.Helper()
			a := c.authorize([]string{"openid", "profile"}, opts...)
			cb, _, _ := s.login(t, newBrowser(t), a, haoCCCD, "allow")
			if cb.Query().Get("code") == "" {
				t.Fatalf("no code: %s", cb)
			}
			return a, cb.Query().Get("code")
		}
		// The attacker redeems the victim's code with a verifier of their own.
		_, code := stolen(&s.public)
		if _, err := s.public.cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("stolen code, attacker's verifier: %v", err)
		}
		// ... without a verifier.
		_, code = stolen(&s.public)
		if _, err := s.public.cfg.Exchange(ctx, code); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("stolen code, no verifier: %v", err)
		}
		// ... as another client, with its own credentials and either redirect URI.
		for _, redirect := range []string{s.portal.redirect, s.insure.redirect} {
			a, code := stolen(&s.portal)
			st, out := s.tokenCall(t, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
				"code_verifier": {a.verifier}, "client_id": {s.insure.id}, "client_secret": {s.insure.secret}}, "", "")
			wantOAuthError(t, "portal's code at insure", st, out, http.StatusBadRequest, "invalid_grant")
		}
		// ... with another redirect URI of the same client's host.
		a, code := stolen(&s.portal)
		st, out := s.tokenCall(t, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {"https://portal.example.test/other"}, "code_verifier": {a.verifier}}, s.portal.id, s.portal.secret)
		wantOAuthError(t, "stolen code, other redirect_uri", st, out, http.StatusBadRequest, "invalid_grant")

		// A confidential client without PKCE: the attacker injects the victim's code into
		// the attacker's own session at the portal. The code redeems (it is the portal's),
		// but its ID token holds the victim's nonce, not the one of the attacker's session.
		victim := s.portal.authorize([]string{"openid", "profile"})
		victimURL, _ := url.Parse(victim.url)
		q := victimURL.Query()
		q.Del("code_challenge")
		q.Del("code_challenge_method")
		victimURL.RawQuery = q.Encode()
		victim.url = victimURL.String()
		vcb, _, _ := s.login(t, newBrowser(t), victim, haoCCCD, "allow")
		attackerSession := s.portal.authorize([]string{"openid", "profile"}) // the nonce the RP expects
		tok, err := s.portal.cfg.Exchange(ctx, vcb.Query().Get("code"))
		if err != nil {
			t.Fatalf("redeem: %v", err)
		}
		idt, err := s.portal.verifier.Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		if idt.Nonce != victim.nonce || idt.Nonce == attackerSession.nonce {
			t.Fatalf("ID token nonce %q: the relying party could not detect the injected code", idt.Nonce)
		}
		s.honest(t, &s.public)
		s.honest(t, &s.portal)
	})
}

// RFC 6749 4.1.2 and RFC 9700 4.5/2.1.1: a code redeemed twice fails the second time, and
// the replay revokes what the first redemption issued: the refresh token family and the
// access token.
func TestAttack_CodeReplay(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		a := s.insure.authorize([]string{"openid", "profile"})
		cb, _, _ := s.login(t, newBrowser(t), a, linhCCCD, "")
		tok, _ := s.insure.redeem(t, s, a, cb)
		if !s.active(t, tok.RefreshToken) || userinfoStatus(t, s, tok.AccessToken) != http.StatusOK {
			t.Fatal("tokens of the first redemption not usable")
		}
		if _, err := s.insure.cfg.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(a.verifier)); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("replay: %v, want invalid_grant", err)
		}
		if _, err := s.insure.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("refresh token of a replayed code: %v", err)
		}
		if s.active(t, tok.RefreshToken) || s.active(t, tok.AccessToken) {
			t.Fatal("tokens of a replayed code still active at introspection")
		}
		if st := userinfoStatus(t, s, tok.AccessToken); st != http.StatusUnauthorized {
			t.Fatalf("access token of a replayed code at userinfo: %d", st)
		}
		// Replay by another client must not let it revoke someone else's tokens.
		a2 := s.insure.authorize([]string{"openid", "profile"})
		cb2, _, _ := s.login(t, newBrowser(t), a2, linhCCCD, "")
		tok2, _ := s.insure.redeem(t, s, a2, cb2)
		st, out := s.tokenCall(t, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {cb2.Query().Get("code")},
			"redirect_uri": {s.insure.redirect}, "code_verifier": {a2.verifier}}, s.portal.id, s.portal.secret)
		wantOAuthError(t, "replay by another client", st, out, http.StatusBadRequest, "invalid_grant")
		if !s.active(t, tok2.RefreshToken) || userinfoStatus(t, s, tok2.AccessToken) != http.StatusOK {
			t.Fatal("another client's replay revoked the rightful client's tokens")
		}
		s.honest(t, &s.insure)
	})
}

// RFC 9700 4.6, Access Token Injection, and token substitution (4.9, 4.10.2): Motlan
// issues no token in a front channel (see BrowserHistory); tokens are typed and bound to
// their audience, so an ID token is no access token, an access token no ID token hint,
// another session's ID token no hint for this session, one client's tokens do nothing at
// another, and a forged token is refused.
func TestAttack_TokenSubstitution(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		b := newBrowser(t)
		a := s.portal.authorize([]string{"openid", "profile"})
		cb, _, _ := s.login(t, b, a, haoCCCD, "allow")
		ptok, pidt := s.portal.redeem(t, s, a, cb)
		idToken := ptok.Extra("id_token").(string)
		if len(pidt.Audience) != 1 || pidt.Audience[0] != s.portal.id {
			t.Fatalf("ID token aud %v", pidt.Audience)
		}
		if at := jwtPayload(t, ptok.AccessToken); at["aud"] != s.issuer || at["client_id"] != s.portal.id {
			t.Fatalf("access token aud %v client_id %v: not audience-restricted", at["aud"], at["client_id"])
		}
		// Another relying party's verifier refuses the portal's ID token (aud).
		if _, err := s.insure.verifier.Verify(ctx, idToken); err == nil {
			t.Fatal("the insurer accepted the portal's ID token")
		}
		// An ID token is not an access token.
		if st := userinfoStatus(t, s, idToken); st != http.StatusUnauthorized {
			t.Fatalf("ID token at userinfo: %d", st)
		}
		// A forged access token: the portal's, with client_id and sub changed, re-signed
		// with no algorithm, or with the signature of another token.
		parts := strings.Split(ptok.AccessToken, ".")
		claims := jwtPayload(t, ptok.AccessToken)
		claims["client_id"], claims["scope"] = s.insure.id, "openid profile cccd"
		forgedPayload, _ := json.Marshal(claims)
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forgedPayload) + "." + parts[2]
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + parts[1] + "."
		idParts := strings.Split(idToken, ".")
		spliced := parts[0] + "." + parts[1] + "." + idParts[2]
		for name, tok := range map[string]string{"altered claims": forged, "alg none": none, "spliced signature": spliced} {
			if st := userinfoStatus(t, s, tok); st != http.StatusUnauthorized {
				t.Fatalf("%s at userinfo: %d", name, st)
			}
		}
		// An access token is not an ID token hint; a hint for the portal does not log out
		// on behalf of the insurer.
		for name, q := range map[string]url.Values{
			"access token as hint": {"id_token_hint": {ptok.AccessToken}},
			"hint for another client": {"id_token_hint": {idToken}, "client_id": {s.insure.id},
				"post_logout_redirect_uri": {s.insure.redirect}},
			"hint of the portal, insure's post-logout URI": {"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://bhyt.example.test/"}},
		} {
			refusedPage(t, name, b.get(s.issuer+"/logout?"+q.Encode()), http.StatusBadRequest)
		}
		// An ID token of another session (the attacker's own, at the same portal) is no hint
		// for this one: it cannot log the victim out without the victim's confirmation.
		ab := newBrowser(t)
		aa := s.portal.authorize([]string{"openid", "profile"})
		acb, _, _ := s.login(t, ab, aa, linhCCCD, "allow")
		atok, _ := s.portal.redeem(t, s, aa, acb)
		for _, q := range []url.Values{
			{"id_token_hint": {atok.Extra("id_token").(string)}},
			{"id_token_hint": {atok.Extra("id_token").(string)}, "post_logout_redirect_uri": {"https://portal.example.test/"}, "state": {"x"}},
		} {
			resp := b.get(s.issuer + "/logout?" + q.Encode())
			page := body(t, resp)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" || !strings.Contains(page, `id="logout-confirm"`) {
				t.Fatalf("hint of another session: %d %q, want the confirmation page", resp.StatusCode, resp.Header.Get("Location"))
			}
			if _, sawEID, _ := s.login(t, b, s.insure.authorize([]string{"openid"}), "", ""); sawEID {
				t.Fatal("another session's ID token logged the victim out")
			}
		}
		// The portal's refresh token at the insurer, and introspection and revocation of the
		// portal's tokens by the insurer: nothing.
		st, out := s.tokenCall(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ptok.RefreshToken},
			"client_id": {s.insure.id}, "client_secret": {s.insure.secret}}, "", "")
		wantOAuthError(t, "portal's refresh token at insure", st, out, http.StatusBadRequest, "invalid_grant")
		for _, tok := range []string{ptok.AccessToken, ptok.RefreshToken} {
			if s.active(t, tok) {
				t.Fatal("the insurer introspected the portal's token as active")
			}
			if st, _ := s.call(t, "/revoke", tok); st != http.StatusOK {
				t.Fatalf("revoke: %d", st)
			}
		}
		// Still the portal's, still working: the session survived all of the above.
		if st := userinfoStatus(t, s, ptok.AccessToken); st != http.StatusOK {
			t.Fatalf("the insurer's revocation touched the portal's access token: %d", st)
		}
		if _, err := s.portal.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: ptok.RefreshToken}).Token(); err != nil {
			t.Fatalf("the insurer's attempts touched the portal's refresh token: %v", err)
		}
		// A token of another Motlan is nothing here.
		other := newStackWith(t, "sqlite", false)
		otok := other.honest(t, &other.insure)
		if st := userinfoStatus(t, s, otok.AccessToken); st != http.StatusUnauthorized {
			t.Fatalf("another issuer's access token: %d", st)
		}
		s.honest(t, &s.insure)
	})
}

// RFC 9700 4.7, Cross-Site Request Forgery: state comes back exactly; the session and
// login-transaction cookies are HttpOnly and SameSite; a callback planted in another
// browser is refused (login CSRF); the consent, logout and signing-approval forms carry
// CSRF tokens, and a cross-site POST (no cookie, or no token) changes nothing.
func TestAttack_CrossSiteRequestForgery(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		// state, with characters that need encoding, comes back unchanged.
		b := newBrowser(t)
		odd := `a b&c=d/é"<>` + randSecret()[:6]
		a := s.insure.authorize([]string{"openid"})
		a.url = strings.Replace(a.url, "state="+url.QueryEscape(a.state), "state="+url.QueryEscape(odd), 1)
		a.state = odd
		cb, _, _ := s.login(t, b, a, linhCCCD, "")
		s.insure.redeem(t, s, a, cb)

		// Cookies.
		b2 := newBrowser(t)
		resp := b2.get(s.portal.authorize([]string{"openid"}).url)
		loc := location(t, resp)
		checkCookies := func(what string, cs []*http.Cookie) {
			t.Helper()
			if len(cs) == 0 {
				t.Fatalf("%s: no cookie", what)
			}
			for _, c := range cs {
				if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode && c.SameSite != http.SameSiteStrictMode {
					t.Fatalf("%s: cookie %s HttpOnly %v SameSite %v", what, c.Name, c.HttpOnly, c.SameSite)
				}
			}
		}
		checkCookies("login transaction", resp.Cookies())
		cbURL, err := sim.Login(ctx, b2.client, loc.String(), haoCCCD, sim.DevPassword)
		if err != nil {
			t.Fatal(err)
		}
		// Login CSRF: the attacker plants the callback in another browser.
		refusedPage(t, "callback in another browser", newBrowser(t).get(cbURL.String()), http.StatusBadRequest)
		resp = b2.get(cbURL.String())
		checkCookies("session", resp.Cookies())
		consentURL := location(t, resp)
		page := body(t, b2.get(consentURL.String()))
		form := url.Values{}
		for _, m := range reHidden.FindAllStringSubmatch(page, -1) {
			form.Set(m[1], m[2])
		}
		// Consent: a cross-site POST carries no session cookie (SameSite); a forged one no
		// token; a token of another transaction is not this one's.
		noCookie := &http.Client{CheckRedirect: b2.client.CheckRedirect}
		allow := url.Values{"id": {form.Get("id")}, "csrf": {form.Get("csrf")}, "action": {"allow"}}
		r, err := noCookie.PostForm(s.issuer+"/consent", allow)
		if err != nil {
			t.Fatal(err)
		}
		refusedPage(t, "consent POST without the session cookie", r, http.StatusBadRequest)
		for name, csrf := range map[string][]string{"no token": nil, "forged token": {"forged"}, "empty token": {""}} {
			f := url.Values{"id": {form.Get("id")}, "action": {"allow"}}
			if csrf != nil {
				f["csrf"] = csrf
			}
			refusedPage(t, "consent, "+name, b2.postForm(s.issuer+"/consent", f), http.StatusForbidden)
		}
		// The citizen's own answer still goes through.
		fin := location(t, b2.postForm(s.issuer+"/consent", allow))
		if fin.Query().Get("code") == "" {
			t.Fatalf("honest consent: %s", fin)
		}

		// Logout: a forged POST (no token, or the token of another session) does nothing.
		other := newBrowser(t)
		oa := s.insure.authorize([]string{"openid"})
		s.login(t, other, oa, linhCCCD, "")
		otherPage := body(t, other.get(s.issuer+"/logout"))
		otherCSRF := ""
		for _, m := range reHidden.FindAllStringSubmatch(otherPage, -1) {
			if m[1] == "csrf" {
				otherCSRF = m[2]
			}
		}
		if otherCSRF == "" {
			t.Fatal("the logout confirmation has no CSRF token")
		}
		for name, f := range map[string]url.Values{"no token": {}, "another session's token": {"csrf": {otherCSRF}}} {
			page := body(t, b2.postForm(s.issuer+"/logout", f))
			if !strings.Contains(page, `id="logout-confirm"`) {
				t.Fatalf("logout, %s: not the confirmation page", name)
			}
			if _, sawEID, _ := s.login(t, b2, s.insure.authorize([]string{"openid"}), "", ""); sawEID {
				t.Fatalf("logout, %s: the session ended", name)
			}
		}

		// Signing approval: a cross-site POST without the form's token signs nothing.
		sp := newSigningPortal(t, s)
		id, approvalURL := sp.request(t, s, randSecret(), "Tờ khai đăng ký khai sinh")
		_, page = sp.openApproval(t, approvalURL) // after the eID login made for it
		approve := url.Values{"action": {"approve"}}
		for _, m := range reHidden.FindAllStringSubmatch(page, -1) {
			approve.Add(m[1], m[2])
		}
		if approve.Get("csrf") == "" || approve.Get("hash") == "" {
			t.Fatalf("approval form without csrf or hash: %v", approve)
		}
		for name, f := range map[string]url.Values{
			"no token":     {"action": {"approve"}, "hash": approve["hash"]},
			"forged token": {"action": {"approve"}, "hash": approve["hash"], "csrf": {base64.RawURLEncoding.EncodeToString(make([]byte, 40))}},
		} {
			r := sp.b.postForm(approvalURL, f)
			if body(t, r); r.StatusCode != http.StatusForbidden {
				t.Fatalf("approval, %s: %d", name, r.StatusCode)
			}
		}
		r, err = noCookie.PostForm(approvalURL, approve)
		if err != nil {
			t.Fatal(err)
		}
		if body(t, r); r.StatusCode != http.StatusForbidden {
			t.Fatalf("approval POST without the session cookie: %d", r.StatusCode)
		}
		st, err := sp.api.Get(s.issuer + "/signing/v1/requests/" + id)
		if err != nil {
			t.Fatal(err)
		}
		var status requestStatus
		if err := json.Unmarshal([]byte(body(t, st)), &status); err != nil || status.Status != "pending" {
			t.Fatalf("after forged approvals the request is %q (%v), want pending", status.Status, err)
		}
		sp.approve(t, approvalURL, "Tờ khai đăng ký khai sinh")
		if got := sp.wait(t, s, id); got.Status != "signed" {
			t.Fatalf("honest approval: %+v", got)
		}
		s.honest(t, &s.portal)
	})
}

// RFC 9700 4.8, PKCE Downgrade Attack: a code issued without code_challenge is refused
// with a code_verifier (4.8.2); plain and malformed challenges are refused; a code issued
// with a challenge is refused without its verifier; public clients must use PKCE.
func TestAttack_PKCEDowngradeAttack(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		// The attacker strips code_challenge from the victim's request and redeems the
		// code with a verifier of their own.
		a := s.portal.authorize([]string{"openid", "profile"})
		u, _ := url.Parse(a.url)
		q := u.Query()
		q.Del("code_challenge")
		q.Del("code_challenge_method")
		u.RawQuery = q.Encode()
		a.url = u.String()
		cb, _, _ := s.login(t, newBrowser(t), a, haoCCCD, "allow")
		if _, err := s.portal.cfg.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("verifier for a code issued without a challenge: %v", err)
		}
		verifier := oauth2.GenerateVerifier()
		for name, set := range map[string]url.Values{
			"plain":                    {"code_challenge_method": {"plain"}, "code_challenge": {verifier}},
			"method without challenge": {"code_challenge": {""}},
			"unknown method":           {"code_challenge_method": {"S512"}},
			"short challenge":          {"code_challenge": {"abc"}},
			"challenge with bad chars": {"code_challenge": {strings.Repeat("+", 43)}},
		} {
			state := "st-" + name[:3]
			set.Set("state", state)
			authError(t, location(t, newBrowser(t).get(s.authURL(&s.portal, set))), s.portal.redirect, state, s.issuer, "invalid_request")
		}
		// No challenge at all, for a public client.
		authError(t, location(t, newBrowser(t).get(s.authURL(&s.public, url.Values{"code_challenge": {""}, "code_challenge_method": {""},
			"state": {"st-pub"}}))), s.public.redirect, "st-pub", s.issuer, "invalid_request")
		// A code issued with a challenge, redeemed without a verifier or with a plain one.
		for name, v := range map[string]string{"no verifier": "", "the challenge as verifier": ""} {
			a := s.public.authorize([]string{"openid"})
			cb, _, _ := s.login(t, newBrowser(t), a, linhCCCD, "")
			if name == "the challenge as verifier" {
				v = oauth2.S256ChallengeFromVerifier(a.verifier)
			}
			form := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")}, "redirect_uri": {s.public.redirect},
				"client_id": {s.public.id}}
			if v != "" {
				form.Set("code_verifier", v)
			}
			st, out := s.tokenCall(t, "/token", form, "", "")
			wantOAuthError(t, name, st, out, http.StatusBadRequest, "invalid_grant")
		}
		resp, err := http.Get(s.issuer + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			Methods []string `json:"code_challenge_methods_supported"`
		}
		if err := json.Unmarshal([]byte(body(t, resp)), &meta); err != nil || len(meta.Methods) != 1 || meta.Methods[0] != "S256" {
			t.Fatalf("code_challenge_methods_supported %v %v", meta.Methods, err)
		}
		s.honest(t, &s.public)
		s.honest(t, &s.portal)
	})
}

// RFC 9700 4.11, Open Redirection: Motlan redirects only to registered URIs
// (post_logout_redirect_uri exact match, error redirects only after the redirect URI is
// validated) and to local paths (/stepup?return=), never elsewhere.
func TestAttack_OpenRedirection(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		b := newBrowser(t)
		a := s.portal.authorize([]string{"openid", "profile"})
		cb, _, _ := s.login(t, b, a, haoCCCD, "allow")
		tok, _ := s.portal.redeem(t, s, a, cb)
		hint := tok.Extra("id_token").(string)
		for _, u := range []string{
			"https://evil.example.test/", "https://portal.example.test", "https://portal.example.test/x",
			"https://portal.example.test/?next=https://evil.example.test/", "https://portal.example.test.evil.example.test/",
			"https://portal.example.test@evil.example.test/", "//evil.example.test/", s.portal.redirect,
		} {
			q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {u}, "state": {"x"}}
			refusedPage(t, "post_logout_redirect_uri "+u, b.get(s.issuer+"/logout?"+q.Encode()), http.StatusBadRequest)
			// Without a hint the client is unverified; naming it does not help.
			q = url.Values{"client_id": {s.portal.id}, "post_logout_redirect_uri": {u}}
			refusedPage(t, "post_logout_redirect_uri without hint "+u, b.get(s.issuer+"/logout?"+q.Encode()), http.StatusBadRequest)
		}
		// A registered URI without any client named is not trusted either.
		refusedPage(t, "post_logout_redirect_uri without client", b.get(s.issuer+"/logout?"+
			url.Values{"post_logout_redirect_uri": {"https://portal.example.test/"}}.Encode()), http.StatusBadRequest)
		// The eID's return leg does not redirect without the sealed cookie it set.
		done := newBrowser(t).get(s.issuer + "/logout/done?state=x&post_logout_redirect_uri=https://evil.example.test/")
		if body(t, done); done.StatusCode != http.StatusOK || done.Header.Get("Location") != "" {
			t.Fatalf("/logout/done without its cookie: %d %q", done.StatusCode, done.Header.Get("Location"))
		}
		// /stepup comes back only to a local path: every spelling of another origin a
		// browser would follow is refused before the login starts.
		for _, ret := range []string{
			"//evil.example.test", "///evil.example.test", "https://evil.example.test/", "/\\evil.example.test", "\\\\evil.example.test",
			"/\t/evil.example.test", "/\n/evil.example.test", "/\r/evil.example.test",
			"\t//evil.example.test", "evil.example.test", "javascript:alert(1)", "/\x00/evil.example.test", "/\x7f/evil",
			"/" + strings.Repeat("a", 600), "",
		} {
			refusedPage(t, "stepup return "+strconvQuote(ret), newBrowser(t).get(s.issuer+"/stepup?return="+url.QueryEscape(ret)), http.StatusBadRequest)
		}
		// The honest step-up still returns to a local path.
		sb := newBrowser(t)
		loc := location(t, sb.get(s.issuer+"/stepup?return="+url.QueryEscape("/sign/abc")))
		back, err := sim.Login(ctx, sb.client, loc.String(), haoCCCD, sim.DevPassword)
		if err != nil {
			t.Fatal(err)
		}
		if l := location(t, sb.get(back.String())); l.String() != s.issuer+"/sign/abc" {
			t.Fatalf("step-up came back to %s", l)
		}
		// The honest logout with a registered URI still redirects there, with state.
		loc = location(t, b.get(s.issuer+"/logout?"+url.Values{"id_token_hint": {hint},
			"post_logout_redirect_uri": {"https://portal.example.test/"}, "state": {"st-1"}}.Encode()))
		for isEID(s, loc) || strings.HasPrefix(loc.String(), s.issuer) {
			loc = location(t, b.get(loc.String()))
		}
		if loc.String() != "https://portal.example.test/?state=st-1" {
			t.Fatalf("honest logout went to %s", loc)
		}
		s.honest(t, &s.portal)
	})
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// RFC 9700 4.12, 307 Redirect: a redirect that answers a POST (consent, logout, a POSTed
// authorization request) is 302 or 303, never 307 or 308, so the browser never re-posts
// the form to the client.
func TestAttack_307Redirect(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *stack) {
		check := func(what string, r *http.Response) *http.Response {
			t.Helper()
			if r.StatusCode == http.StatusTemporaryRedirect || r.StatusCode == http.StatusPermanentRedirect {
				t.Fatalf("%s: %d after a POST", what, r.StatusCode)
			}
			if r.StatusCode != http.StatusFound && r.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s: %d, want a redirect", what, r.StatusCode)
			}
			return r
		}
		for _, action := range []string{"allow", "deny"} {
			b := newBrowser(t)
			_, form := s.toConsent(t, b, s.portal.authorize([]string{"openid", "profile"}, oauth2.SetAuthURLParam("prompt", "consent")), haoCCCD)
			form.Set("action", action)
			location(t, check("consent "+action, b.postForm(s.issuer+"/consent", form)))
		}
		// A POSTed authorization request (OIDC Core 3.1.2.1) with an error to redirect.
		b := newBrowser(t)
		u, _ := url.Parse(s.authURL(&s.insure, url.Values{"scope": {"openid cccd"}}))
		location(t, check("POST /authorize", b.postForm(s.issuer+"/authorize", u.Query())))
		// Logout confirmed by POST.
		a := s.insure.authorize([]string{"openid"})
		s.login(t, b, a, linhCCCD, "")
		page := body(t, b.get(s.issuer+"/logout?"+url.Values{"client_id": {s.portal.id}, "post_logout_redirect_uri": {"https://portal.example.test/"}}.Encode()))
		f := url.Values{}
		for _, m := range reHidden.FindAllStringSubmatch(page, -1) {
			f.Set(m[1], m[2])
		}
		if f.Get("csrf") == "" {
			t.Fatal("no logout confirmation form")
		}
		location(t, check("POST /logout", b.postForm(s.issuer+"/logout", f)))
		s.honest(t, &s.portal)
	})
}

// RFC 9700 4.13, TLS Terminating Reverse Proxies: Motlan takes its own URLs from the
// configured issuer, never from X-Forwarded-* or Host headers an attacker can set, so
// those headers cannot move the endpoints, the redirects or the cookie scope.
func TestAttack_TLSTerminatingReverseProxies(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *stack) {
		spoof := func(req *http.Request) {
			req.Header.Set("X-Forwarded-Host", "evil.example.test")
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("X-Forwarded-For", "10.0.0.1")
			req.Header.Set("Forwarded", "for=10.0.0.1;host=evil.example.test;proto=https")
			req.Host = "evil.example.test"
		}
		req, _ := http.NewRequest(http.MethodGet, s.issuer+"/.well-known/openid-configuration", nil)
		spoof(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw := body(t, resp)
		if strings.Contains(raw, "evil.example.test") || !strings.Contains(raw, `"issuer": "`+s.issuer+`"`) {
			t.Fatalf("discovery under spoofed headers: %.300s", raw)
		}
		// A login under spoofed headers: the consent redirect is to the real issuer, and
		// the cookies are for the real host and path.
		b := newBrowser(t)
		a := s.portal.authorize([]string{"openid", "profile"})
		req, _ = http.NewRequest(http.MethodGet, a.url, nil)
		spoof(req)
		resp, err = b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.Cookies() {
			if c.Domain != "" {
				t.Fatalf("cookie %s scoped to domain %q", c.Name, c.Domain)
			}
		}
		loc := location(t, resp)
		if !isEID(s, loc) {
			t.Fatalf("went to %s", loc)
		}
		cbURL, err := sim.Login(context.Background(), b.client, loc.String(), haoCCCD, sim.DevPassword)
		if err != nil {
			t.Fatal(err)
		}
		req, _ = http.NewRequest(http.MethodGet, cbURL.String(), nil)
		spoof(req)
		resp, err = b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if loc := location(t, resp); !strings.HasPrefix(loc.String(), s.issuer+"/consent") {
			t.Fatalf("consent redirect under spoofed headers: %s", loc)
		}
		s.honest(t, &s.portal)
	})
}

// RFC 9700 4.14, Refresh Token Protection: refresh tokens rotate; a stolen one replayed
// after the rightful client rotated it, or used by the thief first, ends the whole family
// for both (with the reuse grace window off); refresh tokens are bound to their client,
// cannot widen the scope, and online ones die with the session.
func TestAttack_RefreshTokenProtection(t *testing.T) {
	noGrace := config.Duration(0)
	onEachStore(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		refresh := func(c *rp, rt string) (*oauth2.Token, error) {
			return c.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
		}
		login := func(c *rp, scopes ...string) (*oauth2.Token, *browser) {
			t.Helper()
			b := newBrowser(t)
			a := c.authorize(append([]string{"openid", "profile"}, scopes...))
			cb, _, _ := s.login(t, b, a, linhCCCD, "allow")
			tok, _ := c.redeem(t, s, a, cb)
			if tok.RefreshToken == "" {
				t.Fatal("no refresh token")
			}
			return tok, b
		}
		// The rightful client rotates first; the thief's replay revokes the family.
		stolen, _ := login(&s.insure)
		next, err := refresh(&s.insure, stolen.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := refresh(&s.insure, stolen.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("thief's replay: %v", err)
		}
		if _, err := refresh(&s.insure, next.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("family not revoked after the replay: %v", err)
		}
		if s.active(t, next.RefreshToken) {
			t.Fatal("revoked family's refresh token active")
		}
		if st := userinfoStatus(t, s, next.AccessToken); st != http.StatusUnauthorized {
			t.Fatalf("access token minted from the revoked family at userinfo: %d", st)
		}
		// The thief rotates first; the rightful client's next use revokes the thief's.
		stolen, _ = login(&s.insure)
		thief, err := refresh(&s.insure, stolen.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := refresh(&s.insure, stolen.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("rightful client after theft: %v", err)
		}
		if _, err := refresh(&s.insure, thief.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("thief's rotated token survived: %v", err)
		}
		if st := userinfoStatus(t, s, thief.AccessToken); st != http.StatusUnauthorized {
			t.Fatalf("thief's access token at userinfo after the family was revoked: %d", st)
		}
		// Bound to the client: the portal's refresh token is nothing for the insurer or
		// the public app, and the failed attempts leave it working.
		ptok, _ := login(&s.portal, "offline_access")
		if _, err := refresh(&s.insure, ptok.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("portal's refresh token at insure: %v", err)
		}
		st, out := s.tokenCall(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ptok.RefreshToken}, "client_id": {s.public.id}}, "", "")
		wantOAuthError(t, "portal's refresh token at the public client", st, out, http.StatusBadRequest, "invalid_grant")
		// Without the portal's credentials there is no refresh at all.
		st, out = s.tokenCall(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ptok.RefreshToken}, "client_id": {s.portal.id}}, "", "")
		wantOAuthError(t, "portal's refresh token without its secret", st, out, http.StatusUnauthorized, "invalid_client")
		// No wider scope than granted.
		st, out = s.tokenCall(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ptok.RefreshToken},
			"scope": {"openid profile cccd"}}, s.portal.id, s.portal.secret)
		wantOAuthError(t, "scope widened at refresh", st, out, http.StatusBadRequest, "invalid_scope")
		pnext, err := refresh(&s.portal, ptok.RefreshToken)
		if err != nil {
			t.Fatalf("the portal's own refresh after the attempts: %v", err)
		}
		// An online refresh token dies with the session; an offline one does not.
		itok, ib := login(&s.insure)
		hint := itok.Extra("id_token").(string)
		loc := location(t, ib.get(s.issuer+"/logout?"+url.Values{"id_token_hint": {hint}}.Encode()))
		for isEID(s, loc) || strings.HasPrefix(loc.String(), s.issuer) {
			r := ib.get(loc.String())
			if r.StatusCode == http.StatusOK {
				body(t, r)
				break
			}
			loc = location(t, r)
		}
		if _, err := refresh(&s.insure, itok.RefreshToken); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("online refresh token after logout: %v", err)
		}
		if _, err := refresh(&s.portal, pnext.RefreshToken); err != nil {
			t.Fatalf("offline refresh token of another session: %v", err)
		}
		s.honest(t, &s.insure)
	}, func(c *config.Config) { c.Tokens.RefreshReuseGrace = &noGrace })
}

// RFC 9700 4.15, Client Impersonating Resource Owner: a client's own token
// (client_credentials) has the client as sub and can never pass for a citizen: no
// citizen scopes, nothing at userinfo, and introspection shows whose it is.
func TestAttack_ClientImpersonatingResourceOwner(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *stack) {
		for _, scope := range []string{"openid", "openid signing", "profile", "cccd", "offline_access", "sign"} {
			st, out := s.tokenCall(t, "/token", url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, s.portal.id, s.portal.secret)
			wantOAuthError(t, "client_credentials scope "+scope, st, out, http.StatusBadRequest, "invalid_scope")
		}
		st, out := s.tokenCall(t, "/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"signing"}, "client_id": {s.public.id}}, "", "")
		wantOAuthError(t, "public client_credentials", st, out, http.StatusBadRequest, "unauthorized_client")
		cc := clientcredentials.Config{ClientID: s.portal.id, ClientSecret: s.portal.secret, TokenURL: s.issuer + "/token", Scopes: []string{"signing"}}
		tok, err := cc.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		at := jwtPayload(t, tok.AccessToken)
		if at["sub"] != s.portal.id || at["client_id"] != s.portal.id || at["cit"] != "" && at["cit"] != nil {
			t.Fatalf("client token claims: sub %v client_id %v cit %v", at["sub"], at["client_id"], at["cit"])
		}
		if _, ok := tok.Extra("id_token").(string); ok {
			t.Fatal("client_credentials returned an ID token")
		}
		if st := userinfoStatus(t, s, tok.AccessToken); st != http.StatusForbidden {
			t.Fatalf("client token at userinfo: %d, want 403 insufficient_scope", st)
		}
		// Citizens' subjects never equal a client id: pairwise subjects are 43-character
		// hashes, and the client's token says client_id = sub only for itself.
		itok := s.honest(t, &s.insure)
		if sub := jwtPayload(t, itok.AccessToken)["sub"]; sub == s.insure.id || sub == s.portal.id {
			t.Fatalf("a citizen's sub equals a client id: %v", sub)
		}
	})
}

// RFC 9700 4.16, Clickjacking: every page Motlan serves (login errors, consent, logout
// confirmation and result, step-up errors, the signing approval page and its messages)
// forbids framing twice, with CSP frame-ancestors 'none' and X-Frame-Options: DENY; so do
// the JSON endpoints.
func TestAttack_Clickjacking(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *stack) {
		type shown struct {
			name string
			resp *http.Response
		}
		var pages []shown
		add := func(name string, r *http.Response) { pages = append(pages, shown{name, r}) }

		b := newBrowser(t)
		add("authorize error page", b.get(s.authURL(&s.portal, url.Values{"redirect_uri": {"https://evil.example.test/"}})))
		add("callback error page", b.get(s.issuer+"/eid/callback?state=nothing"))
		add("stepup error page", b.get(s.issuer+"/stepup?return=https://evil.example.test/"))
		add("logged-out page", b.get(s.issuer+"/logout/done"))
		add("logout without session", b.get(s.issuer+"/logout"))
		add("consent with unknown id", b.get(s.issuer+"/consent?id=nothing"))
		add("discovery", b.get(s.issuer+"/.well-known/openid-configuration"))
		add("jwks", b.get(s.issuer+"/jwks"))
		add("userinfo without token", b.get(s.issuer+"/userinfo"))
		add("token GET", b.get(s.issuer+"/token"))
		a := s.portal.authorize([]string{"openid", "profile"})
		page, _ := s.toConsent(t, b, a, haoCCCD)
		if !strings.Contains(page, `<form method="post"`) {
			t.Fatal("not the consent form")
		}
		// Fetch the consent page again to check its headers.
		cu := location(t, b.get(s.authURL(&s.portal, url.Values{"scope": {"openid profile"}})))
		add("consent page", b.get(cu.String()))
		add("logout confirmation", b.get(s.issuer+"/logout"))

		sp := newSigningPortal(t, s)
		_, approvalURL := sp.request(t, s, randSecret(), "Giấy đề nghị cấp bản sao")
		// The page needs an eID login made for it (sole control): its URL then has a ticket.
		pageURL, _ := sp.openApproval(t, approvalURL)
		ticket := strings.TrimPrefix(pageURL, approvalURL+"?")
		approvalPage := sp.b.get(pageURL)
		add("signing approval page", approvalPage)
		reject := url.Values{"action": {"reject"}}
		for _, m := range reHidden.FindAllStringSubmatch(body(t, sp.b.get(pageURL)), -1) {
			reject.Set(m[1], m[2])
		}
		add("signing original PDF", sp.b.get(approvalURL+"/documents/0?"+ticket))
		add("signing not found", sp.b.get(s.issuer+"/sign/nothing"))
		add("signing POST without session", newBrowser(t).postForm(approvalURL, url.Values{"action": {"approve"}}))
		rejected := sp.b.postForm(approvalURL, reject)
		if rejected.StatusCode != http.StatusOK || reject.Get("csrf") == "" {
			t.Fatalf("reject: %d, want the result page", rejected.StatusCode)
		}
		add("signing result page (rejected)", rejected)

		for _, p := range pages {
			raw := body(t, p.resp)
			h := p.resp.Header
			if h.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%s (%d): X-Frame-Options %q", p.name, p.resp.StatusCode, h.Get("X-Frame-Options"))
			}
			if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("%s (%d): CSP %q", p.name, p.resp.StatusCode, csp)
			}
			if strings.Contains(h.Get("Content-Type"), "text/html") && !strings.Contains(raw, "<html") {
				t.Errorf("%s: HTML content type without a page", p.name)
			}
		}
		if t.Failed() {
			return
		}
		s.honest(t, &s.portal)
	})
}

// RFC 9700 4.17, Attacks on In-Browser Communication Flows: Motlan answers in the query
// of a redirect only; response modes that would pass the response through postMessage
// (web_message) or another channel are refused at the registered URI.
func TestAttack_AttacksOnInBrowserCommunicationFlows(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *stack) {
		for _, mode := range []string{"web_message", "form_post", "fragment", "query.jwt", "jwt"} {
			a := s.insure.authorize([]string{"openid"}, oauth2.SetAuthURLParam("response_mode", mode))
			authError(t, location(t, newBrowser(t).get(a.url)), s.insure.redirect, a.state, s.issuer, "invalid_request")
		}
		resp, err := http.Get(s.issuer + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			Modes []string `json:"response_modes_supported"`
		}
		if err := json.Unmarshal([]byte(body(t, resp)), &meta); err != nil || len(meta.Modes) != 1 || meta.Modes[0] != "query" {
			t.Fatalf("response_modes_supported %v %v", meta.Modes, err)
		}
		s.honest(t, &s.insure)
	})
}

// RFC 9700 2.4, Resource Owner Password Credentials Grant: not offered. Citizens' passwords
// are the eID's alone; the grant and its cousins are unsupported_grant_type.
func TestAttack_ResourceOwnerPasswordCredentialsGrant(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *stack) {
		for _, gt := range []string{"password", "urn:ietf:params:oauth:grant-type:device_code",
			"urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:token-exchange", "implicit"} {
			st, out := s.tokenCall(t, "/token", url.Values{"grant_type": {gt}, "username": {linhCCCD}, "password": {sim.DevPassword},
				"scope": {"openid profile"}}, s.portal.id, s.portal.secret)
			wantOAuthError(t, "grant_type "+gt, st, out, http.StatusBadRequest, "unsupported_grant_type")
		}
		resp, err := http.Get(s.issuer + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		if raw := body(t, resp); strings.Contains(raw, `"password"`) {
			t.Fatal("discovery lists the password grant")
		}
		s.honest(t, &s.portal)
	})
}

// RFC 9700 2.5 (Client Authentication) and OIDC Core 9: a client cannot pass for
// another: a private_key_jwt assertion is single-use, bound to this issuer's token
// endpoint, signed by the client's registered key, short-lived; a client must use the
// method it registered; one client's secret is nothing for another.
func TestAttack_ClientImpersonation(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	const kid = "kjwt"
	onEachStore(t, func(t *testing.T, s *stack) {
		assertion := func(k *ecdsa.PrivateKey, alg jose.SignatureAlgorithm, mod func(*jwt.Claims)) string {
			t.Helper()
			now := time.Now()
			cl := jwt.Claims{Issuer: kid, Subject: kid, Audience: jwt.Audience{s.issuer + "/token"}, ID: randSecret(),
				IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))}
			if mod != nil {
				mod(&cl)
			}
			var signingKey any = jose.JSONWebKey{Key: k, KeyID: "k1"}
			if alg == jose.HS256 {
				signingKey = []byte(strings.Repeat("k", 32))
			}
			sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: signingKey}, (&jose.SignerOptions{}).WithType("JWT"))
			if err != nil {
				t.Fatal(err)
			}
			out, err := jwt.Signed(sig).Claims(cl).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		call := func(a, clientID string) (int, map[string]any) {
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"signing"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
			if clientID != "" {
				form.Set("client_id", clientID)
			}
			return s.tokenCall(t, "/token", form, "", "")
		}
		good := assertion(key, jose.ES256, nil)
		if st, out := call(good, kid); st != http.StatusOK {
			t.Fatalf("first use of a good assertion: %d %v", st, out)
		}
		st, out := call(good, kid)
		wantOAuthError(t, "replayed assertion", st, out, http.StatusUnauthorized, "invalid_client")
		bad := map[string]string{
			"audience of another server": assertion(key, jose.ES256, func(c *jwt.Claims) { c.Audience = jwt.Audience{"https://evil.example.test/token"} }),
			"audience of another endpoint": assertion(key, jose.ES256, func(c *jwt.Claims) {
				c.Audience = jwt.Audience{s.issuer + "/userinfo"}
			}),
			"no audience":         assertion(key, jose.ES256, func(c *jwt.Claims) { c.Audience = nil }),
			"signed by other key": assertion(other, jose.ES256, nil),
			"HMAC":                assertion(nil, jose.HS256, nil),
			"expired": assertion(key, jose.ES256, func(c *jwt.Claims) {
				c.IssuedAt, c.Expiry = jwt.NewNumericDate(time.Now().Add(-10*time.Minute)), jwt.NewNumericDate(time.Now().Add(-5*time.Minute))
			}),
			"lives for a day": assertion(key, jose.ES256, func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(time.Now().Add(24 * time.Hour)) }),
			"no jti":          assertion(key, jose.ES256, func(c *jwt.Claims) { c.ID = "" }),
			"issuer is another client": assertion(key, jose.ES256, func(c *jwt.Claims) {
				c.Issuer, c.Subject = s.portal.id, s.portal.id
			}),
			"alg none": base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
				strings.Split(assertion(key, jose.ES256, nil), ".")[1] + ".",
		}
		for name, a := range bad {
			st, out := call(a, "")
			if st != http.StatusUnauthorized && st != http.StatusBadRequest || out["error"] != "invalid_client" && out["error"] != "invalid_request" {
				t.Fatalf("%s: %d %v", name, st, out)
			}
		}
		// The portal's assertion-less secret, or the insurer's secret, for the key client.
		st, out = s.tokenCall(t, "/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"signing"}}, kid, s.portal.secret)
		wantOAuthError(t, "secret for a private_key_jwt client", st, out, http.StatusUnauthorized, "invalid_client")
		st, out = s.tokenCall(t, "/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"signing"}}, s.portal.id, s.insure.secret)
		wantOAuthError(t, "another client's secret", st, out, http.StatusUnauthorized, "invalid_client")
		// The portal registered client_secret_basic: client_secret_post is refused.
		st, out = s.tokenCall(t, "/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"signing"},
			"client_id": {s.portal.id}, "client_secret": {s.portal.secret}}, "", "")
		wantOAuthError(t, "another auth method", st, out, http.StatusUnauthorized, "invalid_client")
		// The public client cannot claim to be the portal by naming it.
		st, out = s.tokenCall(t, "/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"signing"}, "client_id": {s.portal.id}}, "", "")
		wantOAuthError(t, "no credentials for a confidential client", st, out, http.StatusUnauthorized, "invalid_client")
		// A fresh assertion still works.
		if st, out := call(assertion(key, jose.ES256, nil), ""); st != http.StatusOK {
			t.Fatalf("honest assertion: %d %v", st, out)
		}
		s.honest(t, &s.portal)
	}, func(c *config.Config) {
		c.Clients = append(c.Clients, config.Client{ID: kid, AuthMethod: "private_key_jwt", JWKS: string(set),
			RedirectURIs: []string{"https://kjwt.example.test/cb"}, Scopes: []string{"openid", "signing"}})
	})
}
