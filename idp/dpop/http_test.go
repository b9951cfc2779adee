package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/dpop"
	"github.com/motlan/motlan/idp/internal/idptest"
	"github.com/motlan/motlan/idp/store"
)

func newDPoPKey(t testing.TB) *dpop.Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := dpop.New(priv, jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// proof makes a proof for a request to one of the harness's endpoints.
func proof(h *idptest.Harness, k *dpop.Key, method, path, accessToken string) string {
	h.TB.Helper()
	p, err := k.Proof(method, h.Issuer+path, accessToken)
	if err != nil {
		h.TB.Fatal(err)
	}
	return p
}

// postDPoP posts form like postForm, with a DPoP header per proof.
func postDPoP(h *idptest.Harness, path string, form url.Values, user, pass string, proofs ...string) idptest.Response {
	h.TB.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.Issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	return h.Do(req)
}

// accessCnf decodes an access token's payload (the signature is the provider's business)
// and returns its cnf.jkt.
func accessCnf(t testing.TB, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q is not a JWT", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var cl struct {
		Cnf *struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	if err := json.Unmarshal(b, &cl); err != nil {
		t.Fatal(err)
	}
	if cl.Cnf == nil {
		return ""
	}
	return cl.Cnf.JKT
}

// dpopHarness adds a service client for client_credentials.
func dpopHarness(t *testing.T, opts ...func(*idp.Config)) *idptest.Harness {
	t.Helper()
	const svcSecret = "svc-secret-svc-secret-svc-secret-0123"
	h := idptest.New(t, true, append([]func(*idp.Config){func(c *idp.Config) {
		err := c.Store.UpsertClient(context.Background(), store.Client{
			ID: "svc", Name: "Dịch vụ", AuthMethod: "client_secret_basic", AllowedScopes: []string{"signing"},
			SubjectType: "pairwise", IDTokenAlg: "ES256", SecretHash: idp.HashSecret(idptest.RandBytes(16), svcSecret), UpdatedAt: time.Now(),
		})
		if err != nil {
			t.Fatal(err)
		}
	}}, opts...)...)
	h.Secrets["svc"] = svcSecret
	return h
}

// spaCode logs in for the public client with PKCE and returns the code and verifier.
func spaCode(h *idptest.Harness, extra ...string) (code, verifier string) {
	v, c := idptest.PKCE()
	return h.Code(idptest.AuthQuery("spa", append([]string{"code_challenge", c, "code_challenge_method", "S256"}, extra...)...)), v
}

func spaRedeemForm(code, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {idptest.SPARedirect},
		"client_id": {"spa"}, "code_verifier": {verifier}}
}

// TestDPoPTokenEndpoint checks RFC 9449 5 at the token endpoint: a proof binds the access
// token (token_type DPoP, cnf.jkt); a bad, doubled or replayed proof is invalid_dpop_proof.
func TestDPoPTokenEndpoint(t *testing.T) {
	h := dpopHarness(t)
	key := newDPoPKey(t)
	codeForm := func() url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {h.Code(idptest.AuthQuery("web"))}, "redirect_uri": {idptest.WebRedirect}}
	}
	replayed := proof(h, key, "POST", "/token", "")
	if r := postDPoP(h, "/token", codeForm(), "web", h.Secrets["web"], replayed); r.Status != http.StatusOK {
		t.Fatalf("first use of the proof: %d %s", r.Status, r.Raw)
	}
	tests := []struct {
		name      string
		form      func() url.Values
		user      string
		proofs    func() []string
		wantBound bool
		wantError string
	}{
		{name: "code with proof", form: codeForm, user: "web", proofs: func() []string { return []string{proof(h, key, "POST", "/token", "")} }, wantBound: true},
		{name: "code without proof stays bearer", form: codeForm, user: "web", proofs: func() []string { return nil }},
		{name: "client_credentials with proof", user: "svc", form: func() url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "scope": {"signing"}}
		}, proofs: func() []string { return []string{proof(h, key, "POST", "/token", "")} }, wantBound: true},
		{name: "proof for another endpoint", form: codeForm, user: "web", proofs: func() []string { return []string{proof(h, key, "POST", "/par", "")} }, wantError: "invalid_dpop_proof"},
		{name: "proof for GET", form: codeForm, user: "web", proofs: func() []string { return []string{proof(h, key, "GET", "/token", "")} }, wantError: "invalid_dpop_proof"},
		{name: "two proofs", form: codeForm, user: "web", proofs: func() []string {
			return []string{proof(h, key, "POST", "/token", ""), proof(h, key, "POST", "/token", "")}
		}, wantError: "invalid_dpop_proof"},
		{name: "replayed proof", form: codeForm, user: "web", proofs: func() []string { return []string{replayed} }, wantError: "invalid_dpop_proof"},
		{name: "not a JWT", form: codeForm, user: "web", proofs: func() []string { return []string{"garbage"} }, wantError: "invalid_dpop_proof"},
		{name: "stale proof", form: codeForm, user: "web", proofs: func() []string {
			old := *key
			old.Now = func() time.Time { return time.Now().Add(-5 * time.Minute) }
			return []string{proof(h, &old, "POST", "/token", "")}
		}, wantError: "invalid_dpop_proof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := postDPoP(h, "/token", tt.form(), tt.user, h.Secrets[tt.user], tt.proofs()...)
			if tt.wantError != "" {
				idptest.CheckJSONError(t, r, http.StatusBadRequest, tt.wantError)
				return
			}
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Raw)
			}
			wantType, wantJKT := "Bearer", ""
			if tt.wantBound {
				wantType, wantJKT = "DPoP", key.Thumbprint()
			}
			if r.Str("token_type") != wantType {
				t.Errorf("token_type = %q, want %q", r.Str("token_type"), wantType)
			}
			if got := accessCnf(t, r.Str("access_token")); got != wantJKT {
				t.Errorf("cnf.jkt = %q, want %q", got, wantJKT)
			}
			if strings.Contains(r.Str("refresh_token"), "~") {
				t.Errorf("a confidential client's refresh token is bound: %q", r.Str("refresh_token"))
			}
		})
	}
}

// TestDPoPRefreshPublicClient checks that a public client's refresh token is bound to its
// key (RFC 9449 5): refreshing without a proof or with another key fails and changes
// nothing; the holder of the key keeps refreshing.
func TestDPoPRefreshPublicClient(t *testing.T) {
	h := dpopHarness(t)
	key, thief := newDPoPKey(t), newDPoPKey(t)
	code, v := spaCode(h)
	r := postDPoP(h, "/token", spaRedeemForm(code, v), "", "", proof(h, key, "POST", "/token", ""))
	if r.Status != http.StatusOK || r.Str("token_type") != "DPoP" {
		t.Fatalf("redeem: %d %s", r.Status, r.Raw)
	}
	rt := r.Str("refresh_token")
	refresh := func(tok string, proofs ...string) idptest.Response {
		return postDPoP(h, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}, "client_id": {"spa"}}, "", "", proofs...)
	}
	attacks := []struct {
		name, token string
		proofs      []string
		want        string
	}{
		{"no proof", rt, nil, "invalid_dpop_proof"},
		{"another key", rt, []string{proof(h, thief, "POST", "/token", "")}, "invalid_grant"},
		{"binding stripped", strings.Split(rt, "~")[0], []string{proof(h, thief, "POST", "/token", "")}, "invalid_grant"},
		{"binding swapped", strings.Split(rt, "~")[0] + "~" + thief.Thumbprint(), []string{proof(h, thief, "POST", "/token", "")}, "invalid_grant"},
		{"proof for userinfo", rt, []string{proof(h, key, "POST", "/userinfo", "")}, "invalid_dpop_proof"},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			idptest.CheckJSONError(t, refresh(a.token, a.proofs...), http.StatusBadRequest, a.want)
		})
	}
	// The honest client was not hurt by any of it: the family lives on, bound to its key.
	for i := range 2 {
		r := refresh(rt, proof(h, key, "POST", "/token", ""))
		if r.Status != http.StatusOK || r.Str("token_type") != "DPoP" || accessCnf(t, r.Str("access_token")) != key.Thumbprint() {
			t.Fatalf("honest refresh %d: %d %s", i, r.Status, r.Raw)
		}
		if !strings.HasSuffix(r.Str("refresh_token"), "~"+key.Thumbprint()) {
			t.Errorf("rotated refresh token is not bound: %q", r.Str("refresh_token"))
		}
		rt = r.Str("refresh_token")
	}
	// A public client's refresh token issued without a proof stays a plain one.
	code, v = spaCode(h)
	r = postDPoP(h, "/token", spaRedeemForm(code, v), "", "")
	if r.Status != http.StatusOK || strings.Contains(r.Str("refresh_token"), "~") || r.Str("token_type") != "Bearer" {
		t.Errorf("redeem without proof: %d %s", r.Status, r.Raw)
	}
}

// TestDPoPRequiredByClient checks dpop_bound_access_tokens: per client and as the
// provider's default, a client that must use DPoP gets nothing without a proof.
func TestDPoPRequiredByClient(t *testing.T) {
	key := newDPoPKey(t)
	tests := []struct {
		name     string
		cfg      func(*idp.Config)
		client   string
		required bool
	}{
		{"client setting on", func(c *idp.Config) { c.DPoPBoundClients = map[string]bool{"web": true} }, "web", true},
		{"other client unaffected", func(c *idp.Config) { c.DPoPBoundClients = map[string]bool{"web": true} }, "post", false},
		{"default on", func(c *idp.Config) { c.DPoPBoundDefault = true }, "post", true},
		{"default on, client off", func(c *idp.Config) {
			c.DPoPBoundDefault, c.DPoPBoundClients = true, map[string]bool{"post": false}
		}, "post", false},
		{"default off", func(*idp.Config) {}, "web", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := dpopHarness(t, tt.cfg)
			form := func() url.Values {
				f := url.Values{"grant_type": {"authorization_code"}, "code": {h.Code(idptest.AuthQuery(tt.client))}, "redirect_uri": {idptest.RedirectsOf[tt.client][0]}}
				if tt.client == "post" {
					f.Set("client_id", "post")
					f.Set("client_secret", h.Secrets["post"])
				}
				return f
			}
			user := tt.client
			if tt.client == "post" {
				user = ""
			}
			r := postDPoP(h, "/token", form(), user, h.Secrets[user])
			if tt.required {
				idptest.CheckJSONError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
			} else if r.Status != http.StatusOK || r.Str("token_type") != "Bearer" {
				t.Errorf("without proof: %d %s", r.Status, r.Raw)
			}
			r = postDPoP(h, "/token", form(), user, h.Secrets[user], proof(h, key, "POST", "/token", ""))
			if r.Status != http.StatusOK || r.Str("token_type") != "DPoP" {
				t.Errorf("with proof: %d %s", r.Status, r.Raw)
			}
		})
	}
}

// TestDPoPJKT checks the dpop_jkt authorization parameter (RFC 9449 10), at /authorize and
// through PAR, where a DPoP proof binds the code too (10.1).
func TestDPoPJKT(t *testing.T) {
	h := dpopHarness(t)
	key, thief := newDPoPKey(t), newDPoPKey(t)
	redeem := func(code, v string, k *dpop.Key) idptest.Response {
		var proofs []string
		if k != nil {
			proofs = append(proofs, proof(h, k, "POST", "/token", ""))
		}
		return postDPoP(h, "/token", spaRedeemForm(code, v), "", "", proofs...)
	}
	// pushed returns a code for a request pushed with extra parameters and proofs.
	pushed := func(t *testing.T, extra []string, proofs ...string) (string, string) {
		v, c := idptest.PKCE()
		q := idptest.AuthQuery("spa", append([]string{"code_challenge", c, "code_challenge_method", "S256"}, extra...)...)
		r := postDPoP(h, "/par", q, "", "", proofs...)
		if r.Status != http.StatusCreated {
			t.Fatalf("push: %d %s", r.Status, r.Raw)
		}
		return h.Code(idptest.RedeemQuery("spa", r.Str("request_uri"))), v
	}
	type codeOf func(t *testing.T) (string, string)
	sources := map[string]codeOf{
		"authorize dpop_jkt": func(*testing.T) (string, string) { return spaCode(h, "dpop_jkt", key.Thumbprint()) },
		"PAR dpop_jkt":       func(t *testing.T) (string, string) { return pushed(t, []string{"dpop_jkt", key.Thumbprint()}) },
		"PAR DPoP header":    func(t *testing.T) (string, string) { return pushed(t, nil, proof(h, key, "POST", "/par", "")) },
		"PAR both, matching": func(t *testing.T) (string, string) {
			return pushed(t, []string{"dpop_jkt", key.Thumbprint()}, proof(h, key, "POST", "/par", ""))
		},
	}
	for name, src := range sources {
		t.Run(name, func(t *testing.T) {
			code, v := src(t)
			idptest.CheckJSONError(t, redeem(code, v, nil), http.StatusBadRequest, "invalid_dpop_proof")
			code, v = src(t)
			idptest.CheckJSONError(t, redeem(code, v, thief), http.StatusBadRequest, "invalid_grant")
			code, v = src(t)
			if r := redeem(code, v, key); r.Status != http.StatusOK || accessCnf(t, r.Str("access_token")) != key.Thumbprint() {
				t.Errorf("redeem with the key: %d %s", r.Status, r.Raw)
			}
		})
	}
	t.Run("malformed dpop_jkt", func(t *testing.T) {
		_, c := idptest.PKCE()
		for _, bad := range []string{"short", strings.Repeat("+", 43), key.Thumbprint() + "A"} {
			got, _ := h.AuthorizeOutcome(t, idptest.AuthQuery("spa", "code_challenge", c, "code_challenge_method", "S256", "dpop_jkt", bad))
			if got != "invalid_request" {
				t.Errorf("dpop_jkt %q: %s, want invalid_request", bad, got)
			}
			r := postDPoP(h, "/par", idptest.AuthQuery("spa", "code_challenge", c, "code_challenge_method", "S256", "dpop_jkt", bad), "", "")
			idptest.CheckJSONError(t, r, http.StatusBadRequest, "invalid_request")
		}
	})
	t.Run("PAR dpop_jkt and proof disagree", func(t *testing.T) {
		_, c := idptest.PKCE()
		q := idptest.AuthQuery("spa", "code_challenge", c, "code_challenge_method", "S256", "dpop_jkt", thief.Thumbprint())
		idptest.CheckJSONError(t, postDPoP(h, "/par", q, "", "", proof(h, key, "POST", "/par", "")), http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("PAR bad proof", func(t *testing.T) {
		_, c := idptest.PKCE()
		q := idptest.AuthQuery("spa", "code_challenge", c, "code_challenge_method", "S256")
		idptest.CheckJSONError(t, postDPoP(h, "/par", q, "", "", proof(h, key, "POST", "/token", "")), http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("unbound code redeems with any key or none", func(t *testing.T) {
		code, v := spaCode(h)
		if r := redeem(code, v, thief); r.Status != http.StatusOK {
			t.Errorf("%d %s", r.Status, r.Raw)
		}
	})
}

// TestDPoPUserInfoTwoTokens checks RFC 6750 2's one method per request holds for DPoP.
func TestDPoPUserInfoTwoTokens(t *testing.T) {
	h := dpopHarness(t)
	key := newDPoPKey(t)
	r := postDPoP(h, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {h.Code(idptest.AuthQuery("web"))}, "redirect_uri": {idptest.WebRedirect}},
		"web", h.Secrets["web"], proof(h, key, "POST", "/token", ""))
	at := r.Str("access_token")
	req, _ := http.NewRequest(http.MethodPost, h.Issuer+"/userinfo", strings.NewReader(url.Values{"access_token": {at}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "DPoP "+at)
	req.Header.Set("DPoP", proof(h, key, "POST", "/userinfo", at))
	got := h.Do(req)
	if got.Status != http.StatusBadRequest || got.Str("error") != "invalid_request" || !strings.HasPrefix(got.Header.Get("WWW-Authenticate"), "DPoP ") {
		t.Errorf("DPoP header and body token: %d %s %q", got.Status, got.Raw, got.Header.Get("WWW-Authenticate"))
	}
}

// userinfoDPoP calls /userinfo with method, an Authorization header and DPoP proofs.
func userinfoDPoP(h *idptest.Harness, method, authz string, proofs ...string) idptest.Response {
	h.TB.Helper()
	req, _ := http.NewRequest(method, h.Issuer+"/userinfo", nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	return h.Do(req)
}

// TestDPoPUserInfo checks RFC 9449 7 at userinfo: a DPoP-bound token needs the DPoP scheme
// and a fresh proof by its key for this request naming it in ath; everything else is 401
// with a DPoP challenge.
func TestDPoPUserInfo(t *testing.T) {
	h := dpopHarness(t)
	key, thief := newDPoPKey(t), newDPoPKey(t)
	r := postDPoP(h, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {h.Code(idptest.AuthQuery("web"))}, "redirect_uri": {idptest.WebRedirect}},
		"web", h.Secrets["web"], proof(h, key, "POST", "/token", ""))
	bound := r.Str("access_token")
	bearer := h.Redeem("web", h.Code(idptest.AuthQuery("web"))).Str("access_token")
	if bound == "" || bearer == "" {
		t.Fatal("no tokens")
	}
	used := proof(h, key, "GET", "/userinfo", bound)
	if r := userinfoDPoP(h, "GET", "DPoP "+bound, used); r.Status != http.StatusOK {
		t.Fatalf("first use: %d %s", r.Status, r.Raw)
	}
	edKey := func() *dpop.Key {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		k, err := dpop.New(priv, jose.EdDSA)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}()
	tests := []struct {
		name       string
		method     string
		authz      string
		proofs     func() []string
		wantStatus int
		wantError  string
		wantScheme string // of WWW-Authenticate
	}{
		{name: "GET with proof", method: "GET", authz: "DPoP " + bound, proofs: func() []string { return []string{proof(h, key, "GET", "/userinfo", bound)} }, wantStatus: 200},
		{name: "POST with proof", method: "POST", authz: "DPoP " + bound, proofs: func() []string { return []string{proof(h, key, "POST", "/userinfo", bound)} }, wantStatus: 200},
		{name: "scheme in lower case", method: "GET", authz: "dpop " + bound, proofs: func() []string { return []string{proof(h, key, "GET", "/userinfo", bound)} }, wantStatus: 200},
		{name: "bound token as Bearer", method: "GET", authz: "Bearer " + bound, proofs: func() []string { return nil }, wantStatus: 401, wantError: "invalid_token", wantScheme: "Bearer"},
		{name: "bound token as Bearer with proof", method: "GET", authz: "Bearer " + bound, proofs: func() []string { return []string{proof(h, key, "GET", "/userinfo", bound)} }, wantStatus: 401, wantError: "invalid_token", wantScheme: "Bearer"},
		{name: "no proof", method: "GET", authz: "DPoP " + bound, proofs: func() []string { return nil }, wantStatus: 401, wantError: "invalid_dpop_proof", wantScheme: "DPoP"},
		{name: "proof by another key", method: "GET", authz: "DPoP " + bound, proofs: func() []string { return []string{proof(h, thief, "GET", "/userinfo", bound)} }, wantStatus: 401, wantError: "invalid_dpop_proof", wantScheme: "DPoP"},
		{name: "proof by another key type", method: "GET", authz: "DPoP " + bound, proofs: func() []string { return []string{proof(h, edKey, "GET", "/userinfo", bound)} }, wantStatus: 401, wantError: "invalid_dpop_proof", wantScheme: "DPoP"},
		{name: "replayed proof", method: "GET", authz: "DPoP " + bound, proofs: func() []string { return []string{used} }, wantStatus: 401, wantError: "invalid_dpop_proof", wantScheme: "DPoP"},
		{name: "wrong htm", method: "GET", authz: "DPoP " + bound, proofs: func() []string { return []string{proof(h, key, "POST", "/userinfo", bound)} }, wantStatus: 401, wantError: "invalid_dpop_proof", wantScheme: "DPoP"},
		{name: "wrong htu", method: "GET", authz: "DPoP " + bound, proofs: func() []string { return []string{proof(h, key, "GET", "/token", bound)} }, wantStatus: 401, wantError: "invalid_dpop_proof", wantScheme: "DPoP"},
		{name: "no ath", method: "GET", authz: "DPoP " + bound, proofs: func() []string { return []string{proof(h, key, "GET", "/userinfo", "")} }, wantStatus: 401, wantError: "invalid_dpop_proof", wantScheme: "DPoP"},
		{name: "ath of another token", method: "GET", authz: "DPoP " + bound, proofs: func() []string { return []string{proof(h, key, "GET", "/userinfo", bearer)} }, wantStatus: 401, wantError: "invalid_dpop_proof", wantScheme: "DPoP"},
		{name: "two proofs", method: "GET", authz: "DPoP " + bound, proofs: func() []string {
			return []string{proof(h, key, "GET", "/userinfo", bound), proof(h, key, "GET", "/userinfo", bound)}
		}, wantStatus: 401, wantError: "invalid_dpop_proof", wantScheme: "DPoP"},
		{name: "bearer token as DPoP", method: "GET", authz: "DPoP " + bearer, proofs: func() []string { return []string{proof(h, key, "GET", "/userinfo", bearer)} }, wantStatus: 401, wantError: "invalid_token", wantScheme: "DPoP"},
		{name: "empty DPoP credentials", method: "GET", authz: "DPoP ", proofs: func() []string { return nil }, wantStatus: 400, wantError: "invalid_request", wantScheme: "DPoP"},
		{name: "bearer token still works as Bearer", method: "GET", authz: "Bearer " + bearer, proofs: func() []string { return nil }, wantStatus: 200},
		{name: "bearer token with a stray proof", method: "GET", authz: "Bearer " + bearer, proofs: func() []string { return []string{proof(h, key, "GET", "/userinfo", bearer)} }, wantStatus: 400, wantError: "invalid_request", wantScheme: "Bearer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := userinfoDPoP(h, tt.method, tt.authz, tt.proofs()...)
			if r.Status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.Status, tt.wantStatus, r.Raw)
			}
			if tt.wantStatus == 200 {
				if r.Str("sub") == "" || r.Str("name") != idptest.FakeCitizen["name"] {
					t.Errorf("userinfo body %s", r.Raw)
				}
				return
			}
			if r.Str("error") != tt.wantError {
				t.Errorf("error = %q, want %q (%s)", r.Str("error"), tt.wantError, r.Str("error_description"))
			}
			ch := r.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, tt.wantScheme+" ") || !strings.Contains(ch, `error="`+tt.wantError+`"`) {
				t.Errorf("WWW-Authenticate = %q, want scheme %s with error %s", ch, tt.wantScheme, tt.wantError)
			}
			if tt.wantScheme == "DPoP" && !strings.Contains(ch, `algs="ES256 `) {
				t.Errorf("DPoP challenge without algs: %q", ch)
			}
		})
	}
	t.Run("no token offers both schemes", func(t *testing.T) {
		r := userinfoDPoP(h, "GET", "")
		chs := r.Header.Values("WWW-Authenticate")
		if r.Status != 401 || len(chs) != 2 || !strings.HasPrefix(chs[0], "Bearer ") || !strings.HasPrefix(chs[1], "DPoP ") || strings.Contains(strings.Join(chs, ","), "error=") {
			t.Errorf("status %d, challenges %q", r.Status, chs)
		}
	})
}

// TestDPoPIntrospection checks RFC 9449 6.2: introspection names the key a token is bound to.
func TestDPoPIntrospection(t *testing.T) {
	h := dpopHarness(t)
	key := newDPoPKey(t)
	r := postDPoP(h, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {h.Code(idptest.AuthQuery("web"))}, "redirect_uri": {idptest.WebRedirect}},
		"web", h.Secrets["web"], proof(h, key, "POST", "/token", ""))
	bound := r.Str("access_token")
	bearer := h.Redeem("web", h.Code(idptest.AuthQuery("web"))).Str("access_token")
	for _, tt := range []struct {
		name, token, wantType, wantJKT string
	}{
		{"bound", bound, "DPoP", key.Thumbprint()},
		{"bearer", bearer, "Bearer", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.PostForm("/introspect", url.Values{"token": {tt.token}}, "web", h.Secrets["web"])
			if r.Status != 200 || r.Body["active"] != true || r.Str("token_type") != tt.wantType {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
			cnf, _ := r.Body["cnf"].(map[string]any)
			if got, _ := cnf["jkt"].(string); got != tt.wantJKT {
				t.Errorf("cnf.jkt = %q, want %q (%s)", got, tt.wantJKT, r.Raw)
			}
		})
	}
}

// TestDPoPDiscovery checks the discovery document names the proof algorithms (RFC 9449 5.1).
func TestDPoPDiscovery(t *testing.T) {
	h := idptest.New(t, true)
	resp, err := http.Get(h.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Algs []string `json:"dpop_signing_alg_values_supported"`
	}
	if err := json.Unmarshal(idptest.ReadBody(t, resp), &doc); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ES256", "RS256", "PS256", "EdDSA"} {
		if !slices.Contains(doc.Algs, want) {
			t.Errorf("dpop_signing_alg_values_supported = %v, lacks %s", doc.Algs, want)
		}
	}
	for _, bad := range []string{"none", "HS256"} {
		if slices.Contains(doc.Algs, bad) {
			t.Errorf("dpop_signing_alg_values_supported offers %s", bad)
		}
	}
}

// TestDPoPNonceFlow checks RFC 9449 8 and 9 with Config.DPoPNonce: a proof without the
// server's nonce gets use_dpop_nonce and a DPoP-Nonce to retry with, at the token endpoint
// (400) and at userinfo (401, DPoP challenge); a nonce too old or forged is refused too.
func TestDPoPNonceFlow(t *testing.T) {
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	h := dpopHarness(t, func(c *idp.Config) { c.DPoPNonce, c.Now, c.AccessTokenTTL = true, now, time.Hour })
	key := newDPoPKey(t)
	key.Now = now
	form := func() url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {h.Code(idptest.AuthQuery("web"))}, "redirect_uri": {idptest.WebRedirect}}
	}
	r := postDPoP(h, "/token", form(), "web", h.Secrets["web"], proof(h, key, "POST", "/token", ""))
	idptest.CheckJSONError(t, r, http.StatusBadRequest, "use_dpop_nonce")
	nonce := r.Header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("use_dpop_nonce without a DPoP-Nonce header")
	}
	key.Nonce = "forged-forged-forged-forged-0123"
	idptest.CheckJSONError(t, postDPoP(h, "/token", form(), "web", h.Secrets["web"], proof(h, key, "POST", "/token", "")), http.StatusBadRequest, "use_dpop_nonce")
	key.Nonce = nonce
	r = postDPoP(h, "/token", form(), "web", h.Secrets["web"], proof(h, key, "POST", "/token", ""))
	if r.Status != http.StatusOK || r.Str("token_type") != "DPoP" || r.Header.Get("DPoP-Nonce") == "" {
		t.Fatalf("with the nonce: %d %s, DPoP-Nonce %q", r.Status, r.Raw, r.Header.Get("DPoP-Nonce"))
	}
	at := r.Str("access_token")

	key.Nonce = ""
	u := userinfoDPoP(h, "GET", "DPoP "+at, proof(h, key, "GET", "/userinfo", at))
	if u.Status != http.StatusUnauthorized || u.Str("error") != "use_dpop_nonce" || u.Header.Get("DPoP-Nonce") == "" ||
		!strings.HasPrefix(u.Header.Get("WWW-Authenticate"), `DPoP realm="motlan", error="use_dpop_nonce"`) {
		t.Fatalf("userinfo without nonce: %d %s %q", u.Status, u.Raw, u.Header.Get("WWW-Authenticate"))
	}
	key.Nonce = u.Header.Get("DPoP-Nonce")
	if u := userinfoDPoP(h, "GET", "DPoP "+at, proof(h, key, "GET", "/userinfo", at)); u.Status != http.StatusOK {
		t.Fatalf("userinfo with the nonce: %d %s", u.Status, u.Raw)
	}
	// Two nonce slots on, whenever in its slot the nonce was made, it has gone stale.
	skew.Store(int64(10*time.Minute + time.Second))
	if u := userinfoDPoP(h, "GET", "DPoP "+at, proof(h, key, "GET", "/userinfo", at)); u.Status != http.StatusUnauthorized || u.Str("error") != "use_dpop_nonce" {
		t.Errorf("stale nonce: %d %s", u.Status, u.Raw)
	}
}
