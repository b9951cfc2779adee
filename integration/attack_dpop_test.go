package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/motlan/motlan/idp/dpop"
	"github.com/motlan/motlan/internal/config"
)

// TestAttack_DPoPProofReplay (RFC 9700 4.10.1, RFC 9449 11.1): an attacker who captures
// DPoP proofs and a DPoP-bound access token on the way gets nothing from them: a replayed
// proof fails at the token endpoint, userinfo and the signing API; the stolen token fails
// as Bearer and with the thief's own key. The honest client, with fresh proofs, goes on.
func TestAttack_DPoPProofReplay(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			yes := true
			s := newStackWith(t, driver, false, func(c *config.Config) {
				for i := range c.Clients {
					if c.Clients[i].ID == "app" {
						c.Clients[i].DPoPBoundAccessTokens = &yes // the public app must use DPoP
					}
				}
			})
			testAttackDPoPProofReplay(t, s)
		})
	}
}

func newKey(t *testing.T) *dpop.Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := dpop.New(priv, jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// dpopCall is one HTTP exchange, with what the assertions need.
type dpopCall struct {
	status    int
	challenge string
	out       map[string]any
}

func (c dpopCall) str(k string) string { s, _ := c.out[k].(string); return s }

// send makes a request with an optional form body, Authorization and DPoP header.
func send(t *testing.T, method, u string, form url.Values, authz, proof string) dpopCall {
	t.Helper()
	var req *http.Request
	if form != nil {
		req, _ = http.NewRequest(method, u, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest(method, u, nil)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	c := dpopCall{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate")}
	if raw := body(t, resp); strings.HasPrefix(strings.TrimSpace(raw), "{") {
		_ = json.Unmarshal([]byte(raw), &c.out)
	}
	return c
}

func mustProof(t *testing.T, k *dpop.Key, method, u, at string) string {
	t.Helper()
	p, err := k.Proof(method, u, at)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testAttackDPoPProofReplay(t *testing.T, s *stack) {
	key, thief := newKey(t), newKey(t)
	tokenURL, userinfoURL := s.issuer+"/token", s.issuer+"/userinfo"

	// code logs a citizen in for the public app, its code bound to key by dpop_jkt.
	code := func() (string, authRequest) {
		a := s.public.authorize([]string{"openid", "profile"}, oauth2.SetAuthURLParam("dpop_jkt", key.Thumbprint()))
		cb, _, _ := s.login(t, newBrowser(t), a, linhCCCD, "")
		if cb.Query().Get("code") == "" {
			t.Fatalf("no code: %s", cb)
		}
		return cb.Query().Get("code"), a
	}
	codeForm := func(c string, a authRequest) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {s.public.redirect},
			"client_id": {s.public.id}, "code_verifier": {a.verifier}}
	}

	// The honest client redeems its first code with a fresh proof; the attacker sees it all.
	c1, a1 := code()
	capturedTokenProof := mustProof(t, key, "POST", tokenURL, "")
	tok := send(t, "POST", tokenURL, codeForm(c1, a1), "", capturedTokenProof)
	if tok.status != http.StatusOK || tok.str("token_type") != "DPoP" {
		t.Fatalf("honest redeem: %d %v", tok.status, tok.out)
	}
	at, rt := tok.str("access_token"), tok.str("refresh_token")

	// The client must use DPoP (dpop_bound_access_tokens): without a proof, nothing.
	c2, a2 := code()
	if r := send(t, "POST", tokenURL, codeForm(c2, a2), "", ""); r.status != http.StatusBadRequest || r.str("error") != "invalid_dpop_proof" {
		t.Errorf("redeem without proof by a DPoP-bound client: %d %v", r.status, r.out)
	}
	// Replay of the captured proof at the token endpoint, with a code stolen from the next
	// login: refused before the code is spent, ...
	if r := send(t, "POST", tokenURL, codeForm(c2, a2), "", capturedTokenProof); r.status != http.StatusBadRequest || r.str("error") != "invalid_dpop_proof" {
		t.Errorf("replayed token proof: %d %v", r.status, r.out)
	}
	// ... and the thief's own key does not match the code's dpop_jkt.
	if r := send(t, "POST", tokenURL, codeForm(c2, a2), "", mustProof(t, thief, "POST", tokenURL, "")); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Errorf("stolen dpop_jkt-bound code with the thief's key: %d %v", r.status, r.out)
	}

	// Userinfo: the honest call works; its captured proof replayed does not.
	capturedUserinfoProof := mustProof(t, key, "GET", userinfoURL, at)
	if r := send(t, "GET", userinfoURL, nil, "DPoP "+at, capturedUserinfoProof); r.status != http.StatusOK || r.str("sub") == "" {
		t.Fatalf("honest userinfo: %d %v", r.status, r.out)
	}
	attacks := []struct {
		name, authz, proof, wantError, wantScheme string
	}{
		{"replayed userinfo proof", "DPoP " + at, capturedUserinfoProof, "invalid_dpop_proof", "DPoP"},
		{"replayed token-endpoint proof", "DPoP " + at, capturedTokenProof, "invalid_dpop_proof", "DPoP"},
		{"stolen token as Bearer", "Bearer " + at, "", "invalid_token", "Bearer"},
		{"stolen token with the thief's key", "DPoP " + at, mustProof(t, thief, "GET", userinfoURL, at), "invalid_dpop_proof", "DPoP"},
		{"stolen token without a proof", "DPoP " + at, "", "invalid_dpop_proof", "DPoP"},
	}
	for _, a := range attacks {
		r := send(t, "GET", userinfoURL, nil, a.authz, a.proof)
		if r.status != http.StatusUnauthorized || r.str("error") != a.wantError ||
			!strings.HasPrefix(r.challenge, a.wantScheme+" ") || !strings.Contains(r.challenge, `error="`+a.wantError+`"`) {
			t.Errorf("%s at userinfo: %d %v, WWW-Authenticate %q; want 401 %s", a.name, r.status, r.out, r.challenge, a.wantError)
		}
	}

	// Refresh: the refresh token is bound to the key too; a captured refresh proof replayed
	// with the rotated token fails, and so does the thief's key.
	refreshForm := func(rt string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {s.public.id}}
	}
	capturedRefreshProof := mustProof(t, key, "POST", tokenURL, "")
	r := send(t, "POST", tokenURL, refreshForm(rt), "", capturedRefreshProof)
	if r.status != http.StatusOK || r.str("token_type") != "DPoP" {
		t.Fatalf("honest refresh: %d %v", r.status, r.out)
	}
	rt = r.str("refresh_token")
	if r := send(t, "POST", tokenURL, refreshForm(rt), "", capturedRefreshProof); r.status != http.StatusBadRequest || r.str("error") != "invalid_dpop_proof" {
		t.Errorf("replayed refresh proof: %d %v", r.status, r.out)
	}
	if r := send(t, "POST", tokenURL, refreshForm(rt), "", mustProof(t, thief, "POST", tokenURL, "")); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Errorf("stolen refresh token with the thief's key: %d %v", r.status, r.out)
	}

	// The honest client still works with fresh proofs: its refresh token and access token
	// survived every attack.
	r = send(t, "POST", tokenURL, refreshForm(rt), "", mustProof(t, key, "POST", tokenURL, ""))
	if r.status != http.StatusOK {
		t.Fatalf("honest refresh after the attacks: %d %v", r.status, r.out)
	}
	at = r.str("access_token")
	for range 2 {
		if r := send(t, "GET", userinfoURL, nil, "DPoP "+at, mustProof(t, key, "GET", userinfoURL, at)); r.status != http.StatusOK {
			t.Errorf("honest userinfo after the attacks: %d %v", r.status, r.out)
		}
	}
	c3, a3 := code()
	if r := send(t, "POST", tokenURL, codeForm(c3, a3), "", mustProof(t, key, "POST", tokenURL, "")); r.status != http.StatusOK {
		t.Errorf("honest login after the attacks: %d %v", r.status, r.out)
	}

	// The signing API, through the server's auth adapter: a portal's DPoP-bound service
	// token works with a fresh proof; a replayed proof, the thief's key or Bearer do not.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(s.portal.id)+":"+url.QueryEscape(s.portal.secret)))
	svc := send(t, "POST", tokenURL, url.Values{"grant_type": {"client_credentials"}, "scope": {"signing"}}, basic,
		mustProof(t, key, "POST", tokenURL, ""))
	if svc.status != http.StatusOK || svc.str("token_type") != "DPoP" {
		t.Fatalf("client_credentials with DPoP: %d %v", svc.status, svc.out)
	}
	st := svc.str("access_token")
	apiURL := s.issuer + "/signing/v1/requests/nope"
	captured := mustProof(t, key, "GET", apiURL, st)
	if r := send(t, "GET", apiURL, nil, "DPoP "+st, captured); r.status != http.StatusNotFound {
		t.Errorf("honest signing API call: %d %v, want 404 for an unknown request", r.status, r.out)
	}
	for _, a := range []struct {
		name, authz, proof, wantError, wantScheme string
	}{
		{"replayed proof", "DPoP " + st, captured, "invalid_dpop_proof", "DPoP"},
		{"thief's key", "DPoP " + st, mustProof(t, thief, "GET", apiURL, st), "invalid_dpop_proof", "DPoP"},
		{"proof for another URL", "DPoP " + st, mustProof(t, key, "GET", s.issuer+"/signing/v1/requests", st), "invalid_dpop_proof", "DPoP"},
		{"as Bearer", "Bearer " + st, "", "invalid_token", "Bearer"},
	} {
		r := send(t, "GET", apiURL, nil, a.authz, a.proof)
		if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.challenge, a.wantScheme+" ") || !strings.Contains(r.challenge, `error="`+a.wantError+`"`) {
			t.Errorf("%s at the signing API: %d, WWW-Authenticate %q; want 401 %s %s", a.name, r.status, r.challenge, a.wantScheme, a.wantError)
		}
	}
	if r := send(t, "GET", apiURL, nil, "DPoP "+st, mustProof(t, key, "GET", apiURL, st)); r.status != http.StatusNotFound {
		t.Errorf("honest signing API call after the attacks: %d", r.status)
	}
	// A valid DPoP token without the API's scope: 403 with the scope, under the DPoP scheme.
	if r := send(t, "GET", apiURL, nil, "DPoP "+at, mustProof(t, key, "GET", apiURL, at)); r.status != http.StatusForbidden ||
		!strings.HasPrefix(r.challenge, "DPoP ") || !strings.Contains(r.challenge, `error="insufficient_scope"`) || !strings.Contains(r.challenge, `scope="`) {
		t.Errorf("citizen token at the signing API: %d, WWW-Authenticate %q", r.status, r.challenge)
	}
}
