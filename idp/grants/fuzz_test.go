package grants_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/motlan/motlan/idp/internal/idptest"
)

// The fuzz targets build one provider per process (outside f.Fuzz) and call ServeHTTP
// through a recorder, so an iteration costs one handler call. Inputs that carry client
// secrets work in every worker because the harness's secrets are deterministic.

// FuzzTokenRequest feeds arbitrary form bodies, Content-Types and Authorization headers to
// /token. Invariants: no 5xx, never a token (no valid code can be guessed), an RFC 6749 5.2
// JSON error with no-store, 401 only for invalid_client, and a Basic challenge exactly when
// Basic was tried and failed.
func FuzzTokenRequest(f *testing.F) {
	h := idptest.New(f, false)
	form := "application/x-www-form-urlencoded"
	basic := func(id string) string {
		r, _ := http.NewRequest("POST", "/", nil)
		r.SetBasicAuth(id, h.Secrets[id])
		return r.Header.Get("Authorization")
	}
	code := url.Values{"grant_type": {"authorization_code"}, "code": {"abc"}, "redirect_uri": {idptest.WebRedirect}}
	f.Add(form, basic("web"), code.Encode())
	f.Add(form, basic("web"), code.Encode()+"&code_verifier="+strings.Repeat("v", 43))
	f.Add(form, basic("web"), "grant_type=refresh_token&refresh_token=abc&scope=openid")
	f.Add(form, basic("web"), "grant_type=password&username=a&password=b")
	f.Add(form, basic("web"), code.Encode()+"&client_secret=x")
	f.Add(form, basic("post"), code.Encode())
	f.Add(form, "", code.Encode()+"&client_id=post&client_secret="+h.Secrets["post"])
	f.Add(form, "", code.Encode()+"&client_id=spa&code_verifier="+strings.Repeat("v", 43))
	f.Add(form, "", code.Encode()+"&client_id=pkjwt&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=e30.e30.e30")
	f.Add(form, "Basic Og==", code.Encode())
	f.Add(form, "Basic !!!", code.Encode())
	f.Add(form, "Bearer abc", code.Encode())
	f.Add("application/json", basic("web"), `{"grant_type":"authorization_code"}`)
	f.Add(form+"; charset=utf-8", basic("web"), code.Encode()+"&code=x")
	f.Add(form, basic("web"), "grant_type=authorization_code&code=%zz")

	f.Fuzz(func(t *testing.T, contentType, auth, body string) {
		if len(body) > idptest.MaxFormBytes {
			t.Skip()
		}
		req := httptest.NewRequest(http.MethodPost, h.Issuer+"/token", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		_, _, triedBasic := req.BasicAuth()
		rec := httptest.NewRecorder()
		h.P.ServeHTTP(rec, req)
		res := rec.Result()
		idptest.CheckTokenError(t, res, rec.Body.Bytes())
		challenge := res.Header.Get("WWW-Authenticate")
		if res.StatusCode == http.StatusUnauthorized && triedBasic && !strings.HasPrefix(challenge, "Basic ") {
			t.Fatalf("401 after Basic without a Basic challenge")
		}
		if challenge != "" && !(triedBasic && res.StatusCode == http.StatusUnauthorized) {
			t.Fatalf("WWW-Authenticate %q on a %d without Basic", challenge, res.StatusCode)
		}
	})
}
