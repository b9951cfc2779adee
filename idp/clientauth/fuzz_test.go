package clientauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/motlan/motlan/idp/internal/idptest"
	"github.com/motlan/motlan/idp/internal/web"
)

// The fuzz targets build one provider per process (outside f.Fuzz) and call ServeHTTP
// through a recorder, so an iteration costs one handler call. Inputs that carry client
// secrets work in every worker because the harness's secrets are deterministic.

// FuzzClientAssertion feeds arbitrary client_assertion values for the private_key_jwt
// client. Invariant: invalid_client (401), except an assertion that really verifies under
// the registered key, which passes authentication and fails on the made-up code.
func FuzzClientAssertion(f *testing.F) {
	h := idptest.New(f, false)
	cl := h.GoodAssertionClaims()
	f.Add(h.Assertion(nil, "k1", cl), true) // valid: authenticates, then invalid_grant
	f.Add(h.Assertion(nil, "", cl), false)
	expired := cl
	expired.Expiry = jwt.NewNumericDate(cl.IssuedAt.Time().Add(-3600e9))
	f.Add(h.Assertion(nil, "k1", expired), true)
	wrongSub := cl
	wrongSub.Subject = "web"
	f.Add(h.Assertion(nil, "k1", wrongSub), false)
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJwa2p3dCIsInN1YiI6InBrand0In0.", true)
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwa2p3dCJ9.c2ln", false)
	f.Add("a.b.c", true)
	f.Add("a.b.c.d.e", true)
	f.Add("", true)
	f.Add("{}", false)

	f.Fuzz(func(t *testing.T, assertion string, withClientID bool) {
		form := url.Values{
			"grant_type": {"authorization_code"}, "code": {"unknown-code"}, "redirect_uri": {idptest.PKRedirect},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {assertion},
		}
		if withClientID {
			form.Set("client_id", "pkjwt")
		}
		body := form.Encode()
		if len(body) > idptest.MaxFormBytes {
			t.Skip()
		}
		req := httptest.NewRequest(http.MethodPost, h.Issuer+"/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.P.ServeHTTP(rec, req)
		res := rec.Result()
		code := idptest.CheckTokenError(t, res, rec.Body.Bytes())
		if code == "invalid_client" {
			return
		}
		// A parameter the store cannot hold (not UTF-8, or with NUL) is a malformed
		// request, refused before the client is authenticated.
		if code == "invalid_request" && !web.Storable(url.Values{"a": {assertion}}) {
			return
		}
		if code == "invalid_grant" && verifiesAsPKJWT(h, assertion) {
			return
		}
		t.Fatalf("error %s for an assertion that does not verify under the registered key", code)
	})
}

// verifiesAsPKJWT is the fuzz oracle: does the assertion carry a valid signature of the
// registered key with iss = sub = pkjwt?
func verifiesAsPKJWT(h *idptest.Harness, a string) bool {
	tok, err := jwt.ParseSigned(a, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return false
	}
	var cl jwt.Claims
	if tok.Claims(&h.PKKey.PublicKey, &cl) != nil {
		return false
	}
	return cl.Issuer == "pkjwt" && cl.Subject == "pkjwt"
}
