package clientauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/motlan/motlan/idp/internal/idptest"
)

// TestPrivateKeyJWT checks private_key_jwt client assertions (RFC 7523 3, OIDC Core 9).
func TestPrivateKeyJWT(t *testing.T) {
	h := idptest.New(t, true)
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name      string
		assertion func() string
		form      map[string]string // overrides
		wantError string            // "" means success
		status    int
	}{
		{name: "good, aud token endpoint", assertion: func() string { return h.Assertion(nil, "k1", h.GoodAssertionClaims()) }},
		{name: "good, aud issuer", assertion: func() string {
			c := h.GoodAssertionClaims()
			c.Audience = jwt.Audience{h.Issuer}
			return h.Assertion(nil, "k1", c)
		}},
		{name: "good, no kid", assertion: func() string { return h.Assertion(nil, "", h.GoodAssertionClaims()) }},
		{name: "good, no client_id in body", assertion: func() string { return h.Assertion(nil, "k1", h.GoodAssertionClaims()) },
			form: map[string]string{"client_id": ""}},
		{name: "wrong aud", assertion: func() string {
			c := h.GoodAssertionClaims()
			c.Audience = jwt.Audience{"https://other.example.vn/token"}
			return h.Assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "no aud", assertion: func() string {
			c := h.GoodAssertionClaims()
			c.Audience = nil
			return h.Assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "expired", assertion: func() string {
			c := h.GoodAssertionClaims()
			c.IssuedAt, c.Expiry = jwt.NewNumericDate(now.Add(-10*time.Minute)), jwt.NewNumericDate(now.Add(-5*time.Minute))
			return h.Assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "no exp", assertion: func() string {
			c := h.GoodAssertionClaims()
			c.Expiry = nil
			return h.Assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "not yet valid", assertion: func() string {
			c := h.GoodAssertionClaims()
			c.NotBefore = jwt.NewNumericDate(now.Add(5 * time.Minute))
			c.Expiry = jwt.NewNumericDate(now.Add(8 * time.Minute))
			return h.Assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "iss differs from sub", assertion: func() string {
			c := h.GoodAssertionClaims()
			c.Issuer = "web"
			return h.Assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "sub is another client", assertion: func() string {
			c := h.GoodAssertionClaims()
			c.Issuer, c.Subject = "web", "web"
			return h.Assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401, form: map[string]string{"client_id": ""}},
		{name: "lifetime too long", assertion: func() string {
			c := h.GoodAssertionClaims()
			c.Expiry = jwt.NewNumericDate(now.Add(time.Hour))
			return h.Assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "no jti", assertion: func() string {
			c := h.GoodAssertionClaims()
			c.ID = ""
			return h.Assertion(nil, "k1", c)
		}, wantError: "invalid_client", status: 401},
		{name: "wrong key, same kid", assertion: func() string { return h.Assertion(otherKey, "k1", h.GoodAssertionClaims()) },
			wantError: "invalid_client", status: 401},
		{name: "wrong key, no kid", assertion: func() string { return h.Assertion(otherKey, "", h.GoodAssertionClaims()) },
			wantError: "invalid_client", status: 401},
		{name: "unknown kid", assertion: func() string { return h.Assertion(nil, "k2", h.GoodAssertionClaims()) },
			wantError: "invalid_client", status: 401},
		{name: "alg none", assertion: func() string {
			return "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJwa2p3dCIsInN1YiI6InBrand0In0."
		}, wantError: "invalid_client", status: 401},
		{name: "garbage", assertion: func() string { return "not-a-jwt" }, wantError: "invalid_client", status: 401},
		{name: "wrong assertion type", assertion: func() string { return h.Assertion(nil, "k1", h.GoodAssertionClaims()) },
			form: map[string]string{"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}, wantError: "invalid_client", status: 401},
		{name: "assertion and secret", assertion: func() string { return h.Assertion(nil, "k1", h.GoodAssertionClaims()) },
			form: map[string]string{"client_secret": strings.Repeat("s", 40)}, wantError: "invalid_request", status: 400},
		{name: "client_id differs from sub", assertion: func() string { return h.Assertion(nil, "k1", h.GoodAssertionClaims()) },
			form: map[string]string{"client_id": "web"}, wantError: "invalid_client", status: 401},
		{name: "pkjwt client without assertion", assertion: func() string { return "" }, wantError: "invalid_client", status: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := url.Values{
				"grant_type": {"authorization_code"}, "code": {h.Code(idptest.AuthQuery("pkjwt"))}, "redirect_uri": {idptest.PKRedirect},
				"client_id": {"pkjwt"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion": {tt.assertion()},
			}
			for k, v := range tt.form {
				if v == "" {
					f.Del(k)
				} else {
					f.Set(k, v)
				}
			}
			r := h.PostForm("/token", f, "", "")
			if tt.wantError == "" {
				if r.Status != http.StatusOK || r.Str("access_token") == "" {
					t.Fatalf("status %d: %s", r.Status, r.Raw)
				}
				return
			}
			idptest.CheckJSONError(t, r, tt.status, tt.wantError)
		})
	}
}

// TestPrivateKeyJWTReplay: OIDC Core 9 says a client assertion "MUST only be used once";
// the jti is there to enforce it. A second use of the same assertion must fail.
func TestPrivateKeyJWTReplay(t *testing.T) {
	h := idptest.New(t, true)
	a := h.Assertion(nil, "k1", h.GoodAssertionClaims())
	use := func() idptest.Response {
		return h.PostForm("/token", url.Values{
			"grant_type": {"authorization_code"}, "code": {h.Code(idptest.AuthQuery("pkjwt"))}, "redirect_uri": {idptest.PKRedirect},
			"client_id": {"pkjwt"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion": {a},
		}, "", "")
	}
	if r := use(); r.Status != http.StatusOK {
		t.Fatalf("first use: %d %s", r.Status, r.Raw)
	}
	r := use()
	if r.Status == http.StatusOK {
		t.Fatalf("BUG: a replayed client assertion (same jti) was accepted and minted tokens")
	}
	idptest.CheckJSONError(t, r, 401, "invalid_client")
}
