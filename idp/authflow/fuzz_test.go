package authflow_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/motlan/motlan/idp/internal/idptest"
)

// The fuzz targets build one provider per process (outside f.Fuzz) and call ServeHTTP
// through a recorder, so an iteration costs one handler call. Inputs that carry client
// secrets work in every worker because the harness's secrets are deterministic.

// FuzzAuthorizeRequest feeds arbitrary queries (GET) and bodies (POST) to /authorize.
// Invariants: no 5xx; a redirect goes to the eID or to a redirect URI registered for the
// request's client_id and equal to its redirect_uri, and then carries iss and an error (no
// session exists, so never a code); anything else is a 400 HTML page.
//
// Every input runs against the provider on SQLite and on PostgreSQL, which refuses text
// SQLite takes (not UTF-8, NUL): a parameter that reached the store unchecked shows there
// as a 5xx.
func FuzzAuthorizeRequest(f *testing.F) {
	h := idptest.New(f, false)
	hs := []*idptest.Harness{h, idptest.NewOn(f, "postgres", false)}
	_, challenge := idptest.PKCE()
	for _, q := range []url.Values{
		idptest.AuthQuery("web"),
		idptest.AuthQuery("web", "redirect_uri", idptest.QueryRedirect),
		idptest.AuthQuery("web", "response_type", "token"),
		idptest.AuthQuery("web", "scope", "profile"),
		idptest.AuthQuery("post", "scope", "openid address"),
		idptest.AuthQuery("spa"),
		idptest.AuthQuery("spa", "code_challenge", challenge, "code_challenge_method", "S256"),
		idptest.AuthQuery("web", "code_challenge", challenge, "code_challenge_method", "plain"),
		idptest.AuthQuery("web", "prompt", "none"),
		idptest.AuthQuery("web", "prompt", "none login"),
		idptest.AuthQuery("web", "max_age", "-1"),
		idptest.AuthQuery("web", "claims", `{"id_token":{"acr":{"essential":true,"values":["2"]}},"userinfo":{"name":null}}`),
		idptest.AuthQuery("web", "request", "e30.e30."),
		idptest.AuthQuery("web", "request_uri", "urn:x"),
		idptest.AuthQuery("web", "redirect_uri", "https://evil.example/cb"),
		idptest.AuthQuery("nobody"),
	} {
		f.Add(false, q.Encode())
		f.Add(true, q.Encode())
	}
	f.Add(false, idptest.AuthQuery("web").Encode()+"&scope=openid")
	f.Add(false, idptest.AuthQuery("web").Encode()+"&client_id=web")
	f.Add(false, "client_id=web&redirect_uri=https%3A%2F%2Fweb.example.vn%2Fcb;state=x")
	f.Add(false, "%zz")
	f.Add(false, "")

	f.Add(false, "client_id=%ff%fe")
	f.Add(false, "client_id=web&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A%ff")
	f.Add(true, idptest.AuthQuery("web").Encode()+"&login_hint=a%00b")
	f.Fuzz(func(t *testing.T, post bool, raw string) {
		for _, h := range hs {
			checkAuthorize(t, h, post, raw)
		}
	})
}

// checkAuthorize runs one FuzzAuthorizeRequest input against one provider.
func checkAuthorize(t *testing.T, h *idptest.Harness, post bool, raw string) {
	var req *http.Request
	if post {
		req = httptest.NewRequest(http.MethodPost, h.Issuer+"/authorize", strings.NewReader(raw))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(http.MethodGet, h.Issuer+"/authorize", nil)
		req.URL.RawQuery = raw
	}
	rec := httptest.NewRecorder()
	h.P.ServeHTTP(rec, req)
	res := rec.Result()
	loc := res.Header.Get("Location")
	switch res.StatusCode {
	case http.StatusFound:
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("unparsable Location %q", loc)
		}
		if strings.HasPrefix(loc, idptest.FakeEIDAuthURL+"?") {
			if !slices.ContainsFunc(res.Cookies(), func(c *http.Cookie) bool { return strings.HasPrefix(c.Name, "motlan_tx_") }) {
				t.Fatalf("upstream redirect without a transaction cookie")
			}
			return
		}
		// The redirect must be the request's own redirect_uri, registered for its client.
		vals, _ := url.ParseQuery(raw)
		clientID, redirectURI := vals.Get("client_id"), vals.Get("redirect_uri")
		if !slices.Contains(idptest.RedirectsOf[clientID], redirectURI) {
			t.Fatalf("redirected to %q for client_id %q redirect_uri %q, which are not registered together", loc, clientID, redirectURI)
		}
		reg, _ := url.Parse(redirectURI)
		if u.Scheme != reg.Scheme || u.Host != reg.Host || u.Path != reg.Path || u.User != nil || u.Fragment != "" {
			t.Fatalf("redirected to %q, not the registered %q", loc, redirectURI)
		}
		q := u.Query()
		for k, v := range reg.Query() {
			if q.Get(k) != v[0] {
				t.Fatalf("registered query %s lost: %q", k, loc)
			}
		}
		if q.Get("iss") != h.Issuer {
			t.Fatalf("redirect without iss: %q", loc)
		}
		if q.Get("error") == "" || q.Has("code") {
			t.Fatalf("redirect without a session must carry an error and no code: %q", loc)
		}
	case http.StatusBadRequest:
		if loc != "" {
			t.Fatalf("400 with Location %q", loc)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("400 with Content-Type %q, want an HTML page", ct)
		}
		if !strings.Contains(rec.Body.String(), "frame-ancestors") && !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatalf("page without frame-ancestors 'none'")
		}
	default:
		t.Fatalf("status %d (Location %q, body %.200q)", res.StatusCode, loc, rec.Body.String())
	}
}
