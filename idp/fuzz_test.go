package idp_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The fuzz targets build one provider per process (outside f.Fuzz) and call ServeHTTP
// through a recorder, so an iteration costs one handler call. Inputs that carry client
// secrets work in every worker because the harness's secrets are deterministic.

// maxFormBytes mirrors the provider's limit on a request's form.
const maxFormBytes = 64 << 10

// FuzzAuthorizeRequest feeds arbitrary queries (GET) and bodies (POST) to /authorize.
// Invariants: no 5xx; a redirect goes to the eID or to a redirect URI registered for the
// request's client_id and equal to its redirect_uri, and then carries iss and an error (no
// session exists, so never a code); anything else is a 400 HTML page.
func FuzzAuthorizeRequest(f *testing.F) {
	h := newHarness(f, false)
	_, challenge := pkce()
	for _, q := range []url.Values{
		authQuery("web"),
		authQuery("web", "redirect_uri", queryRedirect),
		authQuery("web", "response_type", "token"),
		authQuery("web", "scope", "profile"),
		authQuery("post", "scope", "openid address"),
		authQuery("spa"),
		authQuery("spa", "code_challenge", challenge, "code_challenge_method", "S256"),
		authQuery("web", "code_challenge", challenge, "code_challenge_method", "plain"),
		authQuery("web", "prompt", "none"),
		authQuery("web", "prompt", "none login"),
		authQuery("web", "max_age", "-1"),
		authQuery("web", "claims", `{"id_token":{"acr":{"essential":true,"values":["2"]}},"userinfo":{"name":null}}`),
		authQuery("web", "request", "e30.e30."),
		authQuery("web", "request_uri", "urn:x"),
		authQuery("web", "redirect_uri", "https://evil.example/cb"),
		authQuery("nobody"),
	} {
		f.Add(false, q.Encode())
		f.Add(true, q.Encode())
	}
	f.Add(false, authQuery("web").Encode()+"&scope=openid")
	f.Add(false, authQuery("web").Encode()+"&client_id=web")
	f.Add(false, "client_id=web&redirect_uri=https%3A%2F%2Fweb.example.vn%2Fcb;state=x")
	f.Add(false, "%zz")
	f.Add(false, "")

	f.Fuzz(func(t *testing.T, post bool, raw string) {
		var req *http.Request
		if post {
			req = httptest.NewRequest(http.MethodPost, h.issuer+"/authorize", strings.NewReader(raw))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req = httptest.NewRequest(http.MethodGet, h.issuer+"/authorize", nil)
			req.URL.RawQuery = raw
		}
		rec := httptest.NewRecorder()
		h.p.ServeHTTP(rec, req)
		res := rec.Result()
		loc := res.Header.Get("Location")
		switch res.StatusCode {
		case http.StatusFound:
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatalf("unparsable Location %q", loc)
			}
			if strings.HasPrefix(loc, fakeEIDAuthURL+"?") {
				if !slices.ContainsFunc(res.Cookies(), func(c *http.Cookie) bool { return strings.HasPrefix(c.Name, "motlan_tx_") }) {
					t.Fatalf("upstream redirect without a transaction cookie")
				}
				return
			}
			// The redirect must be the request's own redirect_uri, registered for its client.
			vals, _ := url.ParseQuery(raw)
			clientID, redirectURI := vals.Get("client_id"), vals.Get("redirect_uri")
			if !slices.Contains(redirectsOf[clientID], redirectURI) {
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
			if q.Get("iss") != h.issuer {
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
	})
}

// checkTokenError asserts the shape every failed token request has.
func checkTokenError(t *testing.T, res *http.Response, body []byte) string {
	t.Helper()
	if res.StatusCode >= 500 {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	if res.StatusCode == http.StatusOK {
		t.Fatalf("tokens issued without a valid code: %s", body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("body is not JSON: %v %q", err, body)
	}
	if !oauthErrorCodes[e.Error] {
		t.Fatalf("error %q is not an RFC 6749 5.2 code", e.Error)
	}
	if e.Description == "" {
		t.Fatalf("no error_description")
	}
	want := http.StatusBadRequest
	if e.Error == "invalid_client" {
		want = http.StatusUnauthorized
	}
	if res.StatusCode != want {
		t.Fatalf("status %d for %s", res.StatusCode, e.Error)
	}
	return e.Error
}

// FuzzTokenRequest feeds arbitrary form bodies, Content-Types and Authorization headers to
// /token. Invariants: no 5xx, never a token (no valid code can be guessed), an RFC 6749 5.2
// JSON error with no-store, 401 only for invalid_client, and a Basic challenge exactly when
// Basic was tried and failed.
func FuzzTokenRequest(f *testing.F) {
	h := newHarness(f, false)
	form := "application/x-www-form-urlencoded"
	basic := func(id string) string {
		r, _ := http.NewRequest("POST", "/", nil)
		r.SetBasicAuth(id, h.secrets[id])
		return r.Header.Get("Authorization")
	}
	code := url.Values{"grant_type": {"authorization_code"}, "code": {"abc"}, "redirect_uri": {webRedirect}}
	f.Add(form, basic("web"), code.Encode())
	f.Add(form, basic("web"), code.Encode()+"&code_verifier="+strings.Repeat("v", 43))
	f.Add(form, basic("web"), "grant_type=refresh_token&refresh_token=abc&scope=openid")
	f.Add(form, basic("web"), "grant_type=password&username=a&password=b")
	f.Add(form, basic("web"), code.Encode()+"&client_secret=x")
	f.Add(form, basic("post"), code.Encode())
	f.Add(form, "", code.Encode()+"&client_id=post&client_secret="+h.secrets["post"])
	f.Add(form, "", code.Encode()+"&client_id=spa&code_verifier="+strings.Repeat("v", 43))
	f.Add(form, "", code.Encode()+"&client_id=pkjwt&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=e30.e30.e30")
	f.Add(form, "Basic Og==", code.Encode())
	f.Add(form, "Basic !!!", code.Encode())
	f.Add(form, "Bearer abc", code.Encode())
	f.Add("application/json", basic("web"), `{"grant_type":"authorization_code"}`)
	f.Add(form+"; charset=utf-8", basic("web"), code.Encode()+"&code=x")
	f.Add(form, basic("web"), "grant_type=authorization_code&code=%zz")

	f.Fuzz(func(t *testing.T, contentType, auth, body string) {
		if len(body) > maxFormBytes {
			t.Skip()
		}
		req := httptest.NewRequest(http.MethodPost, h.issuer+"/token", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		_, _, triedBasic := req.BasicAuth()
		rec := httptest.NewRecorder()
		h.p.ServeHTTP(rec, req)
		res := rec.Result()
		checkTokenError(t, res, rec.Body.Bytes())
		challenge := res.Header.Get("WWW-Authenticate")
		if res.StatusCode == http.StatusUnauthorized && triedBasic && !strings.HasPrefix(challenge, "Basic ") {
			t.Fatalf("401 after Basic without a Basic challenge")
		}
		if challenge != "" && !(triedBasic && res.StatusCode == http.StatusUnauthorized) {
			t.Fatalf("WWW-Authenticate %q on a %d without Basic", challenge, res.StatusCode)
		}
	})
}

// FuzzClientAssertion feeds arbitrary client_assertion values for the private_key_jwt
// client. Invariant: invalid_client (401), except an assertion that really verifies under
// the registered key, which passes authentication and fails on the made-up code.
func FuzzClientAssertion(f *testing.F) {
	h := newHarness(f, false)
	cl := h.goodAssertionClaims()
	f.Add(h.assertion(nil, "k1", cl), true) // valid: authenticates, then invalid_grant
	f.Add(h.assertion(nil, "", cl), false)
	expired := cl
	expired.Expiry = jwt.NewNumericDate(cl.IssuedAt.Time().Add(-3600e9))
	f.Add(h.assertion(nil, "k1", expired), true)
	wrongSub := cl
	wrongSub.Subject = "web"
	f.Add(h.assertion(nil, "k1", wrongSub), false)
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJwa2p3dCIsInN1YiI6InBrand0In0.", true)
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwa2p3dCJ9.c2ln", false)
	f.Add("a.b.c", true)
	f.Add("a.b.c.d.e", true)
	f.Add("", true)
	f.Add("{}", false)

	f.Fuzz(func(t *testing.T, assertion string, withClientID bool) {
		form := url.Values{
			"grant_type": {"authorization_code"}, "code": {"unknown-code"}, "redirect_uri": {pkRedirect},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {assertion},
		}
		if withClientID {
			form.Set("client_id", "pkjwt")
		}
		body := form.Encode()
		if len(body) > maxFormBytes {
			t.Skip()
		}
		req := httptest.NewRequest(http.MethodPost, h.issuer+"/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.p.ServeHTTP(rec, req)
		res := rec.Result()
		code := checkTokenError(t, res, rec.Body.Bytes())
		if code == "invalid_client" {
			return
		}
		if code == "invalid_grant" && h.verifiesAsPKJWT(assertion) {
			return
		}
		t.Fatalf("error %s for an assertion that does not verify under the registered key", code)
	})
}

// verifiesAsPKJWT is the fuzz oracle: does the assertion carry a valid signature of the
// registered key with iss = sub = pkjwt?
func (h *harness) verifiesAsPKJWT(a string) bool {
	tok, err := jwt.ParseSigned(a, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return false
	}
	var cl jwt.Claims
	if tok.Claims(&h.pkKey.PublicKey, &cl) != nil {
		return false
	}
	return cl.Issuer == "pkjwt" && cl.Subject == "pkjwt"
}
