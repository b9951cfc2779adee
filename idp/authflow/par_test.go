package authflow_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/internal/idptest"
	"github.com/motlan/motlan/idp/store"
)

// parOnlySecret is the secret of client "paronly", which must use PAR.
const (
	parOnlyRedirect = "https://paronly.example.vn/cb"
	parOnlySecret   = "paronly-secret-0123456789abcdefghijklmnop"
)

// parHarness is a serving harness with a client that requires PAR and a provider clock
// that can be moved back (the store keeps real time), to push requests that are already
// expired.
func parHarness(t *testing.T) (*idptest.Harness, *atomic.Int64) {
	t.Helper()
	var skew atomic.Int64
	h := idptest.New(t, true, func(c *idp.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		err := c.Store.UpsertClient(context.Background(), store.Client{
			ID: "paronly", Name: "PAR only", AuthMethod: "client_secret_basic", AllowedScopes: []string{"profile"},
			FirstParty: true, RedirectURIs: []string{parOnlyRedirect}, SubjectType: "pairwise", IDTokenAlg: "ES256",
			SecretHash: idp.HashSecret(idptest.RandBytes(16), parOnlySecret), RequirePAR: true, UpdatedAt: time.Now(),
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	h.Secrets["paronly"] = parOnlySecret
	return h, &skew
}

// push posts an authorization request to /par with the client's registered authentication.
func push(h *idptest.Harness, clientID string, q url.Values) idptest.Response {
	h.TB.Helper()
	q = cloneValues(q)
	if clientID == "spa" {
		return h.PostForm("/par", q, "", "")
	}
	q.Del("client_id")
	return h.PostForm("/par", q, clientID, h.Secrets[clientID])
}

func redirectOf(clientID string) string {
	if clientID == "paronly" {
		return parOnlyRedirect
	}
	return idptest.RedirectsOf[clientID][0]
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func TestPARDiscovery(t *testing.T) {
	h := idptest.New(t, true)
	r := h.Do(mustRequest(t, http.MethodGet, h.Issuer+"/.well-known/openid-configuration"))
	if got := r.Str("pushed_authorization_request_endpoint"); got != h.Issuer+"/par" {
		t.Errorf("pushed_authorization_request_endpoint = %q", got)
	}
	if v, ok := r.Body["require_pushed_authorization_requests"].(bool); !ok || v {
		t.Errorf("require_pushed_authorization_requests = %v, want false", r.Body["require_pushed_authorization_requests"])
	}
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestPARFlow pushes, redeems the request_uri at /authorize (other query parameters are
// ignored), logs in and redeems the code; the request_uri then is spent.
func TestPARFlow(t *testing.T) {
	h, _ := parHarness(t)
	for _, clientID := range []string{"web", "spa", "paronly"} {
		t.Run(clientID, func(t *testing.T) {
			verifier, challenge := idptest.PKCE()
			q := idptest.AuthQuery(clientID, "redirect_uri", redirectOf(clientID), "code_challenge", challenge, "code_challenge_method", "S256")
			r := push(h, clientID, q)
			if r.Status != http.StatusCreated {
				t.Fatalf("push: status %d: %s", r.Status, r.Raw)
			}
			if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q", cc)
			}
			uri := r.Str("request_uri")
			if !strings.HasPrefix(uri, "urn:ietf:params:oauth:request_uri:") || len(uri) < len("urn:ietf:params:oauth:request_uri:")+32 {
				t.Fatalf("request_uri = %q", uri)
			}
			if r.Body["expires_in"] != float64(60) {
				t.Errorf("expires_in = %v, want 60", r.Body["expires_in"])
			}
			// Parameters beside client_id and request_uri are ignored.
			code := h.Code(idptest.RedeemQuery(clientID, uri, "scope", "openid address", "redirect_uri", "https://evil.example/cb", "state", "other"))
			tok := h.PostForm("/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {q.Get("redirect_uri")}, "code_verifier": {verifier}, "client_id": {clientID}},
				map[bool]string{true: "", false: clientID}[clientID == "spa"], h.Secrets[clientID])
			if tok.Status != http.StatusOK || tok.Str("id_token") == "" {
				t.Fatalf("token: %d %s", tok.Status, tok.Raw)
			}
			if got, _ := h.AuthorizeOutcome(t, idptest.RedeemQuery(clientID, uri)); got != "page" {
				t.Errorf("second use of request_uri: %s, want an error page", got)
			}
		})
	}
}

// TestPARStateFromPush checks the authorization response carries what was pushed.
func TestPARStateFromPush(t *testing.T) {
	h, _ := parHarness(t)
	q := idptest.AuthQuery("web", "prompt", "none")
	r := push(h, "web", q)
	if r.Status != http.StatusCreated {
		t.Fatalf("push: %d %s", r.Status, r.Raw)
	}
	got, loc := h.AuthorizeOutcome(t, idptest.RedeemQuery("web", r.Str("request_uri"), "state", "x", "prompt", "login"))
	if got != "login_required" || loc.Query().Get("state") != q.Get("state") || loc.Query().Get("iss") != h.Issuer ||
		!strings.HasPrefix(loc.String(), idptest.WebRedirect+"?") {
		t.Fatalf("got %s at %v, want login_required with the pushed state", got, loc)
	}
}

func TestPARClientAuthentication(t *testing.T) {
	h, _ := parHarness(t)
	good := idptest.AuthQuery("web")
	good.Del("client_id")
	tests := []struct {
		name       string
		form       url.Values
		user, pass string
		status     int
		code       string
	}{
		{"no authentication", idptest.AuthQuery("web"), "", "", http.StatusUnauthorized, "invalid_client"},
		{"wrong secret", good, "web", "wrong", http.StatusUnauthorized, "invalid_client"},
		{"unknown client", good, "nobody", "x", http.StatusUnauthorized, "invalid_client"},
		{"wrong method", idptest.AuthQuery("web", "client_secret", "x"), "", "", http.StatusUnauthorized, "invalid_client"},
		{"client_id names another client", idptest.AuthQuery("other"), "web", "", http.StatusBadRequest, "invalid_request"},
		{"two methods", idptest.AuthQuery("web", "client_secret", "x"), "web", "", http.StatusBadRequest, "invalid_request"},
		{"public client without PKCE", idptest.AuthQuery("spa"), "", "", http.StatusBadRequest, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pass := tc.pass
			if tc.user != "" && pass == "" {
				pass = h.Secrets[tc.user]
			}
			r := h.PostForm("/par", tc.form, tc.user, pass)
			idptest.CheckJSONError(t, r, tc.status, tc.code)
			if tc.status == http.StatusUnauthorized && tc.user != "" && r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 after Basic without WWW-Authenticate")
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		r := h.Do(mustRequest(t, http.MethodGet, h.Issuer+"/par?"+idptest.AuthQuery("web").Encode()))
		if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "POST" {
			t.Errorf("status %d Allow %q", r.Status, r.Header.Get("Allow"))
		}
	})
	t.Run("query parameters", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, h.Issuer+"/par?scope=openid", strings.NewReader(good.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("web", h.Secrets["web"])
		idptest.CheckJSONError(t, h.Do(req), http.StatusBadRequest, "invalid_request")
	})
}

// TestPARSameValidation: a bad request fails at /par with the error /authorize gives it
// (a page there, where the redirect URI is not trusted, is invalid_request here).
func TestPARSameValidation(t *testing.T) {
	h, _ := parHarness(t)
	_, challenge := idptest.PKCE()
	tests := []struct {
		name      string
		extra     []string
		authorize string // /authorize's outcome
	}{
		{"response_type token", []string{"response_type", "token"}, "unsupported_response_type"},
		{"no response_type", []string{"response_type", "\x00delete"}, "invalid_request"},
		{"response_mode fragment", []string{"response_mode", "fragment"}, "invalid_request"},
		{"no openid", []string{"scope", "profile"}, "invalid_scope"},
		{"scope not allowed", []string{"scope", "openid signing"}, "invalid_scope"},
		{"plain PKCE", []string{"code_challenge", challenge, "code_challenge_method", "plain"}, "invalid_request"},
		{"short challenge", []string{"code_challenge", "abc", "code_challenge_method", "S256"}, "invalid_request"},
		{"unknown prompt", []string{"prompt", "bogus"}, "invalid_request"},
		{"prompt none with login", []string{"prompt", "none login"}, "invalid_request"},
		{"negative max_age", []string{"max_age", "-1"}, "invalid_request"},
		{"bad claims", []string{"claims", "{"}, "invalid_request"},
		{"request object", []string{"request", "e30.e30."}, "request_not_supported"},
		{"unregistered redirect_uri", []string{"redirect_uri", "https://evil.example/cb"}, "page"},
		{"no redirect_uri", []string{"redirect_uri", "\x00delete"}, "page"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := idptest.AuthQuery("web", tc.extra...)
			got, _ := h.AuthorizeOutcome(t, q)
			if got != tc.authorize {
				t.Fatalf("/authorize: %s, want %s", got, tc.authorize)
			}
			want := tc.authorize
			if want == "page" {
				want = "invalid_request"
			}
			idptest.CheckJSONError(t, push(h, "web", q), http.StatusBadRequest, want)
		})
	}
	t.Run("request_uri pushed", func(t *testing.T) {
		q := idptest.AuthQuery("web", "request_uri", "urn:ietf:params:oauth:request_uri:abc")
		idptest.CheckJSONError(t, push(h, "web", q), http.StatusBadRequest, "invalid_request")
		q = idptest.AuthQuery("web", "request_uri", "https://rp.example/req")
		idptest.CheckJSONError(t, push(h, "web", q), http.StatusBadRequest, "invalid_request")
	})
	t.Run("repeated parameter", func(t *testing.T) {
		body := idptest.AuthQuery("web").Encode() + "&scope=openid"
		req, _ := http.NewRequest(http.MethodPost, h.Issuer+"/par", strings.NewReader(strings.Replace(body, "client_id=web&", "", 1)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("web", h.Secrets["web"])
		idptest.CheckJSONError(t, h.Do(req), http.StatusBadRequest, "invalid_request")
	})
}

// TestPARRedeem covers request_uri values /authorize must refuse.
func TestPARRedeem(t *testing.T) {
	h, skew := parHarness(t)
	push := func(t *testing.T) string {
		t.Helper()
		r := push(h, "web", idptest.AuthQuery("web"))
		if r.Status != http.StatusCreated {
			t.Fatalf("push: %d %s", r.Status, r.Raw)
		}
		return r.Str("request_uri")
	}
	t.Run("reuse", func(t *testing.T) {
		uri := push(t)
		if got, _ := h.AuthorizeOutcome(t, idptest.RedeemQuery("web", uri)); got != "eid" {
			t.Fatalf("first use: %s", got)
		}
		if got, _ := h.AuthorizeOutcome(t, idptest.RedeemQuery("web", uri)); got != "page" {
			t.Fatalf("reuse: %s, want an error page", got)
		}
	})
	t.Run("expired", func(t *testing.T) {
		skew.Store(int64(-61 * time.Second))
		uri := push(t)
		skew.Store(0)
		if got, _ := h.AuthorizeOutcome(t, idptest.RedeemQuery("web", uri)); got != "page" {
			t.Fatalf("expired: %s, want an error page", got)
		}
	})
	t.Run("another client", func(t *testing.T) {
		uri := push(t)
		if got, _ := h.AuthorizeOutcome(t, idptest.RedeemQuery("other", uri)); got != "page" {
			t.Fatalf("other client: %s, want an error page", got)
		}
		// The mismatch does not spend the pushing client's request.
		if got, _ := h.AuthorizeOutcome(t, idptest.RedeemQuery("web", uri)); got != "eid" {
			t.Fatalf("pushing client after a mismatch: %s", got)
		}
	})
	t.Run("without client_id", func(t *testing.T) {
		uri := push(t)
		if got, _ := h.AuthorizeOutcome(t, url.Values{"request_uri": {uri}}); got != "page" {
			t.Fatalf("no client_id: %s, want an error page", got)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if got, _ := h.AuthorizeOutcome(t, idptest.RedeemQuery("web", "urn:ietf:params:oauth:request_uri:nothing")); got != "page" {
			t.Fatalf("unknown: %s, want an error page", got)
		}
	})
	t.Run("foreign request_uri", func(t *testing.T) {
		got, loc := h.AuthorizeOutcome(t, idptest.AuthQuery("web", "request_uri", "https://rp.example/req"))
		if got != "request_uri_not_supported" || loc.Query().Get("iss") != h.Issuer {
			t.Fatalf("foreign: %s at %v", got, loc)
		}
	})
}

// TestRequirePAR: a client that requires PAR cannot send a plain authorization request.
func TestRequirePAR(t *testing.T) {
	h, _ := parHarness(t)
	q := idptest.AuthQuery("paronly", "redirect_uri", parOnlyRedirect)
	got, loc := h.AuthorizeOutcome(t, q)
	if got != "invalid_request" || !strings.HasPrefix(loc.String(), parOnlyRedirect+"?") ||
		loc.Query().Get("state") != q.Get("state") || loc.Query().Get("iss") != h.Issuer {
		t.Fatalf("plain request: %s at %v, want invalid_request with state and iss", got, loc)
	}
	// Before the redirect URI is validated it is still a page.
	if got, _ := h.AuthorizeOutcome(t, idptest.AuthQuery("paronly", "redirect_uri", parOnlyRedirect, "redirect_uri", "https://evil.example/cb")); got != "page" {
		t.Fatalf("bad redirect_uri: %s", got)
	}
	r := push(h, "paronly", q)
	if r.Status != http.StatusCreated {
		t.Fatalf("push: %d %s", r.Status, r.Raw)
	}
	if got, _ := h.AuthorizeOutcome(t, idptest.RedeemQuery("paronly", r.Str("request_uri"))); got != "eid" {
		t.Fatalf("pushed: %s", got)
	}
	// Other clients are unaffected.
	if got, _ := h.AuthorizeOutcome(t, idptest.AuthQuery("web")); got != "eid" {
		t.Fatalf("web without PAR: %s", got)
	}
}
