package idp_test

// Small tests for clauses of OpenID Connect Core, Discovery and RP-Initiated Logout that
// Motlan implements and no other test pinned down; docs/SPEC-TESTS.md names them.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/internal/idptest"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/keys"
)

// idClaims verifies an ID token with the provider's keys and returns its header and claims.
func idClaims(h *idptest.Harness, t *testing.T, tok string) (keys.Header, map[string]any) {
	t.Helper()
	payload, hdr, err := h.Keys.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("ID token does not verify: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return hdr, c
}

func unixOf(v any) time.Time { f, _ := v.(float64); return time.Unix(int64(f), 0) }

// TestSpecIDTokenClaims: OIDC Core 2 and 3.1.3.6, what every ID token from the code flow
// carries: iss, sub (at most 255 ASCII characters), aud and azp (the client), exp after
// iat by the ID token lifetime, iat now, auth_time not after iat, the request's nonce,
// acr, amr, sid, and at_hash of the access token with the ID token's algorithm.
func TestSpecIDTokenClaims(t *testing.T) {
	h := idptest.New(t, true)
	before := time.Now().Add(-2 * time.Second)
	r := h.Redeem("web", h.Code(idptest.AuthQuery("web")))
	if r.Status != http.StatusOK {
		t.Fatalf("redeem: %d %s", r.Status, r.Raw)
	}
	hdr, c := idClaims(h, t, r.Str("id_token"))
	atHash, err := keys.LeftHalfHash(hdr.Alg, r.Str("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := c["sub"].(string)
	iat, exp, authTime := unixOf(c["iat"]), unixOf(c["exp"]), unixOf(c["auth_time"])
	amr, _ := c["amr"].([]any)
	tests := []struct {
		name string
		ok   bool
	}{
		{"alg ES256 with kid, not an access token type", hdr.Alg == "ES256" && hdr.KeyID != "" && !strings.EqualFold(hdr.Type, "at+jwt")},
		{"iss is the issuer", c["iss"] == h.Issuer},
		{"sub is 1..255 ASCII characters", len(sub) > 0 && len(sub) <= 255 && isASCII(sub)},
		{"aud is the client", c["aud"] == "web"},
		{"azp is the client", c["azp"] == "web"},
		{"iat is now", !iat.Before(before) && !iat.After(time.Now().Add(2*time.Second))},
		{"exp is iat plus the 10 minute default", exp.Sub(iat) == 10*time.Minute},
		{"auth_time is not after iat", c["auth_time"] != nil && !authTime.After(iat)},
		{"nonce is the request's", c["nonce"] == idptest.AuthQuery("web").Get("nonce")},
		{"acr is the eID level", c["acr"] == "2"},
		{"amr lists the methods", len(amr) == 2 && amr[0] == "pwd" && amr[1] == "otp"},
		{"sid names the session", c["sid"] != nil && c["sid"] != ""},
		{"at_hash matches the access token", c["at_hash"] == atHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok {
				t.Errorf("ID token fails %q: header %+v claims %v", tt.name, hdr, c)
			}
		})
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// TestSpecRefreshIDToken: OIDC Core 12.2, the ID token of a refresh: same iss, sub, aud,
// azp and auth_time as the original, a new iat, and no nonce.
func TestSpecRefreshIDToken(t *testing.T) {
	clock := &idptest.ShiftedClock{}
	h := idptest.New(t, true, idptest.WithClock(clock))
	first := h.Redeem("web", h.Code(idptest.AuthQuery("web")))
	if first.Status != http.StatusOK {
		t.Fatalf("redeem: %d %s", first.Status, first.Raw)
	}
	_, orig := idClaims(h, t, first.Str("id_token"))
	clock.Advance(5 * time.Minute)
	next := h.Refresh("web", first.Str("refresh_token"))
	if next.Status != http.StatusOK || next.Str("id_token") == "" {
		t.Fatalf("refresh: %d %s", next.Status, next.Raw)
	}
	_, got := idClaims(h, t, next.Str("id_token"))
	for _, k := range []string{"iss", "sub", "aud", "azp", "auth_time", "acr", "sid"} {
		if got[k] != orig[k] {
			t.Errorf("%s: refreshed %v, original %v", k, got[k], orig[k])
		}
	}
	if d := unixOf(got["iat"]).Sub(unixOf(orig["iat"])); d < 5*time.Minute-2*time.Second {
		t.Errorf("iat advanced by %v, want the time of the refresh", d)
	}
	if _, ok := got["nonce"]; ok {
		t.Errorf("refreshed ID token carries nonce %v", got["nonce"])
	}
}

// TestSpecSubjectTypes: OIDC Core 8, subject identifier types. A public client sees the
// same sub as every other public client; pairwise clients see one sub per sector (the
// redirect URIs' host, or the client alone when its hosts differ), stable across logins,
// different between sectors.
func TestSpecSubjectTypes(t *testing.T) {
	clock := &idptest.ShiftedClock{}
	h := idptest.New(t, true, idptest.WithClock(clock))
	ctx := context.Background()
	for _, c := range []store.Client{
		{ID: "pub1", RedirectURIs: []string{"https://pub1.example.vn/cb"}, SubjectType: "public"},
		{ID: "pub2", RedirectURIs: []string{"https://pub2.example.vn/cb"}, SubjectType: "public"},
		{ID: "spasib", RedirectURIs: []string{"https://spa.example.vn/other-cb"}, SubjectType: "pairwise"},
	} {
		c.Name, c.AuthMethod, c.AllowedScopes, c.FirstParty, c.IDTokenAlg, c.UpdatedAt = c.ID, "none", []string{"profile"}, true, "ES256", time.Now()
		if err := h.Store.UpsertClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(31 * time.Second) // the provider re-reads clients on a miss after 30 s
	sub := func(client, redirect string) string {
		t.Helper()
		v, ch := idptest.PKCE()
		q := idptest.AuthQuery(client, "redirect_uri", redirect, "code_challenge", ch, "code_challenge_method", "S256")
		r := h.PostForm("/token", url.Values{"grant_type": {"authorization_code"}, "code": {h.Code(q)}, "redirect_uri": {redirect},
			"client_id": {client}, "code_verifier": {v}}, "", "")
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", client, r.Status, r.Raw)
		}
		_, c := idClaims(h, t, r.Str("id_token"))
		return c["sub"].(string)
	}
	pub1, pub2 := sub("pub1", "https://pub1.example.vn/cb"), sub("pub2", "https://pub2.example.vn/cb")
	sib, spa := sub("spasib", "https://spa.example.vn/other-cb"), sub("spa", idptest.SPARedirect)
	web := func() string {
		_, c := idClaims(h, t, h.Redeem("web", h.Code(idptest.AuthQuery("web"))).Str("id_token"))
		return c["sub"].(string)
	}
	w1, w2 := web(), web()
	_, oc := idClaims(h, t, h.Redeem("other", h.Code(idptest.AuthQuery("other"))).Str("id_token"))
	switch {
	case pub1 != pub2:
		t.Errorf("public subjects differ: %s %s", pub1, pub2)
	case w1 != w2:
		t.Errorf("pairwise subject not stable: %s %s", w1, w2)
	case sib != spa:
		t.Errorf("same sector (spa.example.vn), different subjects: %s %s", sib, spa)
	case oc["sub"] == w1 || w1 == pub1:
		t.Errorf("subjects shared across sectors: web %s other %v public %s", w1, oc["sub"], pub1)
	}
	// The citizen's ID sorts by the first login's time; the public subject leaves that out.
	id, err := h.Store.SubjectCitizen(ctx, "pub1", pub1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(id, pub1) || len(id) != len(pub1)+11 || id[10] != '.' || strings.Contains(pub1, ".") {
		t.Errorf("citizen ID %q, public subject %q: want the ID's random part without its time prefix", id, pub1)
	}
}

// TestSpecDiscoveryMetadata: OpenID Connect Discovery 3 for what the other discovery test
// leaves out: logout (RP-Initiated Logout 2.1, Back-Channel Logout 2.1), revocation and
// introspection (RFC 8414 metadata of RFC 7009 and RFC 7662), subject types, RS256 (OIDC
// Core 15.1), grant types without implicit or password, claims parameter and acr values.
func TestSpecDiscoveryMetadata(t *testing.T) {
	h := idptest.New(t, true)
	resp, err := idptest.NoJar().Get(h.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(idptest.ReadBody(t, resp), &doc); err != nil {
		t.Fatal(err)
	}
	strs := func(k string) []string {
		var out []string
		l, _ := doc[k].([]any)
		for _, v := range l {
			s, _ := v.(string)
			out = append(out, s)
		}
		return out
	}
	tests := []struct {
		name string
		ok   bool
	}{
		{"end_session_endpoint", doc["end_session_endpoint"] == h.Issuer+"/logout"},
		{"backchannel_logout_supported", doc["backchannel_logout_supported"] == true},
		{"backchannel_logout_session_supported", doc["backchannel_logout_session_supported"] == true},
		{"revocation_endpoint", doc["revocation_endpoint"] == h.Issuer+"/revoke"},
		{"introspection_endpoint", doc["introspection_endpoint"] == h.Issuer+"/introspect"},
		{"revocation auth methods are confidential only", !slices.Contains(strs("revocation_endpoint_auth_methods_supported"), "none") &&
			len(strs("revocation_endpoint_auth_methods_supported")) == 3},
		{"introspection auth methods are confidential only", !slices.Contains(strs("introspection_endpoint_auth_methods_supported"), "none") &&
			len(strs("introspection_endpoint_auth_methods_supported")) == 3},
		{"subject_types_supported", slices.Equal(strs("subject_types_supported"), []string{"pairwise", "public"})},
		{"RS256 among ID token algorithms", slices.Contains(strs("id_token_signing_alg_values_supported"), "RS256")},
		{"grant types without implicit or password", slices.Equal(strs("grant_types_supported"), []string{"authorization_code", "refresh_token", "client_credentials"})},
		{"response_modes_supported is query", slices.Equal(strs("response_modes_supported"), []string{"query"})},
		{"claims_parameter_supported", doc["claims_parameter_supported"] == true},
		{"claims_supported lists sub and cccd", slices.Contains(strs("claims_supported"), "sub") && slices.Contains(strs("claims_supported"), "cccd")},
		{"acr_values_supported", slices.Equal(strs("acr_values_supported"), []string{"1", "2"})},
		{"ui_locales_supported", slices.Equal(strs("ui_locales_supported"), []string{"vi", "en"})},
		{"token endpoint auth methods", slices.Equal(strs("token_endpoint_auth_methods_supported"),
			[]string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok {
				t.Errorf("discovery fails %q: %v", tt.name, doc)
			}
		})
	}
}

// TestSpecDiscoveryIssuerPath: Discovery 4.1 and 4.3, an issuer with a path serves its
// configuration at issuer + /.well-known/openid-configuration, with that exact issuer and
// every endpoint under it.
func TestSpecDiscoveryIssuerPath(t *testing.T) {
	var issuer string
	h := idptest.New(t, true, func(c *idp.Config) { c.Issuer += "/tinh"; issuer = c.Issuer })
	resp, err := idptest.NoJar().Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if raw := idptest.ReadBody(t, resp); resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &doc) != nil {
		t.Fatalf("discovery under the path: %d %s", resp.StatusCode, raw)
	}
	if doc["issuer"] != issuer {
		t.Fatalf("issuer %v, want %s", doc["issuer"], issuer)
	}
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint"} {
		if s, _ := doc[k].(string); !strings.HasPrefix(s, issuer+"/") {
			t.Errorf("%s %q is not under the issuer", k, s)
		}
	}
	// And nothing at the root.
	resp, err = idptest.NoJar().Get(h.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	if idptest.ReadBody(t, resp); resp.StatusCode != http.StatusNotFound {
		t.Errorf("discovery at the root of a path issuer: %d", resp.StatusCode)
	}
}

// TestSpecLogoutExpiredIDTokenHint: RP-Initiated Logout 1.0 section 2 (id_token_hint): an
// ID token the provider issued is accepted as a hint after it expired and logs the
// session out without confirmation; a hint of another issuer's signing is refused.
func TestSpecLogoutExpiredIDTokenHint(t *testing.T) {
	clock := &idptest.ShiftedClock{}
	h := idptest.New(t, true, idptest.WithClock(clock))
	b := h.Browser()
	resp := h.Login(b, idptest.AuthQuery("web"))
	idptest.ReadBody(t, resp)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	r := h.Redeem("web", loc.Query().Get("code"))
	hint := r.Str("id_token")
	// A hint of another provider (another key) is refused.
	other := idptest.New(t, true)
	forged := other.Redeem("web", other.Code(idptest.AuthQuery("web"))).Str("id_token")
	resp, err := b.Get(h.Issuer + "/logout?" + url.Values{"id_token_hint": {forged}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if idptest.ReadBody(t, resp); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("foreign hint: %d", resp.StatusCode)
	}
	clock.Advance(2 * time.Hour) // the ID token expired 10 minutes after issue; the session lives 8 h
	resp, err = b.Get(h.Issuer + "/logout?" + url.Values{"id_token_hint": {hint}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page := string(idptest.ReadBody(t, resp))
	if resp.StatusCode != http.StatusOK || strings.Contains(page, `id="logout-confirm"`) {
		t.Fatalf("expired hint: %d, want the logged-out page without confirmation", resp.StatusCode)
	}
	// The session is gone: prompt=none now fails.
	resp, err = b.Get(h.Issuer + "/authorize?" + idptest.AuthQuery("web", "prompt", "none").Encode())
	if err != nil {
		t.Fatal(err)
	}
	idptest.ReadBody(t, resp)
	if l, _ := url.Parse(resp.Header.Get("Location")); l == nil || l.Query().Get("error") != "login_required" {
		t.Fatalf("after logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
