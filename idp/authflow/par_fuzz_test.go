package authflow_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/motlan/motlan/idp/internal/idptest"
)

// FuzzPARRequest feeds arbitrary bodies to /par, with HTTP Basic for a named client or
// none. Invariants: no 5xx and no redirect; 201 carries a fresh request_uri and
// expires_in 60, and only for a client that authenticated; anything else is an RFC 6749
// JSON error that is not cached.
//
// Every input runs against the provider on SQLite and on PostgreSQL.
func FuzzPARRequest(f *testing.F) {
	h := idptest.New(f, false)
	hs := []*idptest.Harness{h, idptest.NewOn(f, "postgres", false)}
	_, challenge := idptest.PKCE()
	noID := func(q url.Values) string { q.Del("client_id"); return q.Encode() }
	for _, s := range []struct {
		basic string
		body  string
	}{
		{"web", noID(idptest.AuthQuery("web"))},
		{"web", idptest.AuthQuery("web").Encode()},
		{"web", noID(idptest.AuthQuery("web", "response_type", "token"))},
		{"web", noID(idptest.AuthQuery("web", "scope", "profile"))},
		{"web", noID(idptest.AuthQuery("web", "request_uri", "urn:ietf:params:oauth:request_uri:x"))},
		{"web", noID(idptest.AuthQuery("web", "redirect_uri", "https://evil.example/cb"))},
		{"web", noID(idptest.AuthQuery("web", "claims", `{"userinfo":{"name":null}}`))},
		{"web", noID(idptest.AuthQuery("web", "code_challenge", challenge, "code_challenge_method", "plain"))},
		{"", idptest.AuthQuery("spa", "code_challenge", challenge, "code_challenge_method", "S256").Encode()},
		{"", idptest.AuthQuery("spa").Encode()},
		{"", idptest.AuthQuery("post", "client_secret", h.Secrets["post"]).Encode()},
		{"", idptest.AuthQuery("web").Encode()},
		{"other", idptest.AuthQuery("web").Encode()},
		{"nobody", noID(idptest.AuthQuery("web"))},
		{"web", "%zz"},
		{"", ""},
	} {
		f.Add(s.basic, s.body)
	}

	f.Add("web", "login_hint=%ff&"+noID(idptest.AuthQuery("web")))
	f.Add("", "client_id=%ff%00")
	f.Fuzz(func(t *testing.T, basic, raw string) {
		for _, h := range hs {
			checkPAR(t, h, basic, raw)
		}
	})
}

// checkPAR runs one FuzzPARRequest input against one provider.
func checkPAR(t *testing.T, h *idptest.Harness, basic, raw string) {
	req := httptest.NewRequest(http.MethodPost, h.Issuer+"/par", strings.NewReader(raw))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != "" {
		req.SetBasicAuth(url.QueryEscape(basic), url.QueryEscape(h.Secrets[basic]))
	}
	rec := httptest.NewRecorder()
	h.P.ServeHTTP(rec, req)
	res := rec.Result()
	if res.StatusCode >= 500 {
		t.Fatalf("status %d: %s", res.StatusCode, rec.Body.String())
	}
	if loc := res.Header.Get("Location"); loc != "" {
		t.Fatalf("redirect from /par to %q", loc)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
	var body struct {
		RequestURI  string `json:"request_uri"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body is not JSON: %v %q", err, rec.Body.String())
	}
	switch res.StatusCode {
	case http.StatusCreated:
		if !strings.HasPrefix(body.RequestURI, "urn:ietf:params:oauth:request_uri:") || body.ExpiresIn != 60 || body.Error != "" {
			t.Fatalf("201 with %q", rec.Body.String())
		}
		if basic == "" || h.Secrets[basic] == "" {
			// Only the public client "spa" may push without a secret.
			vals, _ := url.ParseQuery(raw)
			if vals.Get("client_id") != "spa" && vals.Get("client_secret") == "" {
				t.Fatalf("pushed without client authentication: %q", raw)
			}
		}
	case http.StatusBadRequest, http.StatusUnauthorized:
		if body.Error == "" || body.Description == "" || body.RequestURI != "" {
			t.Fatalf("%d with %q", res.StatusCode, rec.Body.String())
		}
		if !idptest.OAuthErrorCodes[body.Error] && body.Error != "unsupported_response_type" && body.Error != "request_not_supported" {
			t.Fatalf("error code %q", body.Error)
		}
	default:
		t.Fatalf("status %d: %s", res.StatusCode, rec.Body.String())
	}
}
