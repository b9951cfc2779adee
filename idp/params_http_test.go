package idp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/motlan/motlan/idp/internal/idptest"
)

// TestParametersNotUTF8: a parameter the store cannot hold (not UTF-8, or NUL) is a 4xx at
// every endpoint that takes parameters, before it reaches the store.
func TestParametersNotUTF8(t *testing.T) {
	h := idptest.New(t, true)
	for _, tc := range []struct{ method, path, query, body string }{
		{"GET", "/authorize", "client_id=%ff%fe", ""},
		{"GET", "/authorize", "client_id=web&request_uri=urn:ietf:params:oauth:request_uri:%ff", ""},
		{"GET", "/authorize", idptest.AuthQuery("web").Encode() + "&nonce=a%00b", ""},
		{"POST", "/authorize", "", "client_id=web&state=%c3%28"},
		{"POST", "/par", "", "client_id=web&login_hint=%ff"},
		{"POST", "/token", "", "grant_type=authorization_code&client_id=%ff&code=x"},
		{"POST", "/revoke", "", "token=x&client_id=%ff"},
		{"GET", "/eid/callback", "state=%ff%ff&code=x", ""},
		{"POST", "/consent", "", "id=%ff"},
		{"GET", "/logout", "client_id=%ff", ""},
	} {
		req, _ := http.NewRequest(tc.method, h.Issuer+tc.path+"?"+tc.query, strings.NewReader(tc.body))
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		r := h.Do(req)
		if r.Status < 400 || r.Status >= 500 {
			t.Errorf("%s %s?%s %s: %d, want 4xx", tc.method, tc.path, tc.query, tc.body, r.Status)
		}
	}
}
