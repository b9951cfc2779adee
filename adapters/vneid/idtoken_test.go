package vneid_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/motlan/motlan/idp/eid"
)

// TestIDTokenRefusals: each check of OIDC Core 3.1.3.7 refuses the token for its own
// reason, as an invalid response.
func TestIDTokenRefusals(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	unsigned := func(f *fakeOP) {
		p, _ := json.Marshal(f.claims)
		f.idToken = "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(p) + "."
	}
	tests := []struct {
		name   string
		change func(f *fakeOP)
		reason string
	}{
		{"at_hash not a string", func(f *fakeOP) { f.claims["at_hash"] = 7 }, "at_hash mismatch"},
		{"no exp", func(f *fakeOP) { delete(f.claims, "exp") }, "no exp"},
		{"exp a string", func(f *fakeOP) { f.claims["exp"] = strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) }, "no exp"},
		{"exp beyond any date", func(f *fakeOP) { f.claims["exp"] = 1e300 }, "no exp"},
		{"no iat", func(f *fakeOP) { delete(f.claims, "iat") }, "no iat"},
		{"iat null", func(f *fakeOP) { f.claims["iat"] = nil }, "no iat"},
		{"nbf ahead", func(f *fakeOP) { f.claims["nbf"] = time.Now().Add(10 * time.Minute).Unix() }, "not valid yet"},
		{"nbf not a number", func(f *fakeOP) { f.claims["nbf"] = "soon" }, "not valid yet"},
		{"azp another client", func(f *fakeOP) { f.claims["azp"] = "other" }, "azp is not the client"},
		{"azp not a string", func(f *fakeOP) { f.claims["azp"] = []string{clientID} }, "azp is not the client"},
		{"audience list without the client", func(f *fakeOP) { f.claims["aud"] = []string{"a", "b"} }, "audience is not the client"},
		{"empty audience list", func(f *fakeOP) { f.claims["aud"] = []string{} }, "audience is not the client"},
		{"audience a number", func(f *fakeOP) { f.claims["aud"] = 1 }, "audience is not the client"},
		{"no audience", func(f *fakeOP) { delete(f.claims, "aud") }, "audience is not the client"},
		{"issuer with a trailing slash", func(f *fakeOP) { f.claims["iss"] = f.issuer + "/" }, "issuer is not the eID"},
		{"no issuer", func(f *fakeOP) { delete(f.claims, "iss") }, "issuer is not the eID"},
		{"no nonce", func(f *fakeOP) { delete(f.claims, "nonce") }, "nonce mismatch"},
		{"nonce a prefix", func(f *fakeOP) { f.claims["nonce"] = fakeNonce[:len(fakeNonce)-1] }, "nonce mismatch"},
		{"sub a number", func(f *fakeOP) { f.claims["sub"] = 1 }, "no sub"},
		{"empty sub", func(f *fakeOP) { f.claims["sub"] = "" }, "no sub"},
		{"claims an array", func(f *fakeOP) { f.payload = "[]" }, "claims not a JSON object"},
		{"claims null", func(f *fakeOP) { f.payload = "null" }, "claims not a JSON object"},
		{"claims not JSON", func(f *fakeOP) { f.payload = "{" }, "claims not a JSON object"},
		{"alg none", unsigned, "verification failed"},
		{"alg the eID did not announce", func(f *fakeOP) { f.signAlg, f.signKey = jose.ES384, p384 }, "verification failed"},
		{"not a JWS", func(f *fakeOP) { f.idToken = "not-a-token" }, "verification failed"},
		{"JWS JSON serialization", func(f *fakeOP) { f.idToken = `{"payload":"e30","signatures":[]}` }, "verification failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := exchangeAgainst(t, tt.change)
			if !errors.Is(err, eid.ErrInvalidResponse) {
				t.Fatalf("err = %v, want an invalid response", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("err = %v, want the reason %q", err, tt.reason)
			}
		})
	}
}
