package idp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/eid"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/keys"
)

// The fake eID's authorization endpoint: /authorize sends browsers here with the broker's
// upstream state; tests come back to /eid/callback by hand.
const fakeEIDAuthURL = "https://eid.example.vn/authorize"

// fakeCitizen is what the fake eID verifies: Vietnamese attributes with diacritics, which
// must come out of userinfo and the ID token byte for byte.
var fakeCitizen = map[string]string{
	"name":            "Lê Công Hảo",
	"family_name":     "Lê",
	"middle_name":     "Công",
	"given_name":      "Hảo",
	"birthdate":       "1990-01-02",
	"gender":          "male",
	"nationality":     "Việt Nam",
	"place_of_origin": "Xã Đông Hưng, Huyện Đông Hưng, Tỉnh Thái Bình",
	"phone_number":    "+84912345678",
	"cccd":            "034090001234",
}

const fakeAddress = `{"formatted":"Số 12 Phố Tràng Tiền, Phường Hoàn Kiếm, Hà Nội","country":"VN"}`

// fakeEID is a Connector that accepts the upstream code "x" and returns one fixed citizen.
type fakeEID struct {
	mu   sync.Mutex
	opts []eid.AuthOptions
}

func (f *fakeEID) AuthCodeURL(_ context.Context, state, _, _ string, opts eid.AuthOptions) (string, error) {
	f.mu.Lock()
	f.opts = append(f.opts, opts)
	if len(f.opts) > 64 {
		f.opts = f.opts[1:]
	}
	f.mu.Unlock()
	return fakeEIDAuthURL + "?" + url.Values{"state": {state}}.Encode(), nil
}

func (f *fakeEID) CheckCallback(q url.Values) error {
	switch q.Get("error") {
	case "":
		return nil
	case "access_denied":
		return fmt.Errorf("%w: %s", eid.ErrDenied, q.Get("error"))
	default:
		return fmt.Errorf("%w: %s", eid.ErrInvalidResponse, q.Get("error"))
	}
}

func (f *fakeEID) Exchange(_ context.Context, code, _, _ string) (eid.Identity, error) {
	if code != "x" {
		return eid.Identity{}, fmt.Errorf("%w: unknown code", eid.ErrInvalidResponse)
	}
	attrs := map[string]json.RawMessage{"address": json.RawMessage(fakeAddress)}
	for k, v := range fakeCitizen {
		b, _ := json.Marshal(v)
		attrs[k] = b
	}
	return eid.Identity{
		Issuer: "https://eid.example.vn", Subject: "vneid-sub-0001", ACR: "2", AMR: []string{"pwd", "otp"},
		AuthTime: time.Now().Add(-time.Second), Attributes: attrs, RawIDToken: "upstream.id.token",
	}, nil
}

var _ eid.Connector = (*fakeEID)(nil)

// Registered clients. Every confidential client has its own secret.
const (
	webRedirect    = "https://web.example.vn/cb"
	postRedirect   = "https://post.example.vn/cb"
	spaRedirect    = "https://spa.example.vn/cb"
	portalRedirect = "https://portal.example.vn/cb"
	pkRedirect     = "https://pk.example.vn/cb"
	otherRedirect  = "https://other.example.vn/cb"
	queryRedirect  = "https://web.example.vn/cb2?tenant=hn"
)

var allScopes = []string{"profile", "address", "phone", "cccd", "offline_access"}

// harness is one real Provider on SQLite with real keys and the fake eID.
type harness struct {
	tb      testing.TB
	p       *idp.Provider
	st      *sqlstore.Store
	keys    *keys.Manager
	issuer  string
	srv     *httptest.Server // nil for recorder-only harnesses (fuzzing)
	secrets map[string]string
	pkKey   *ecdsa.PrivateKey // registered for client "pkjwt" as kid "k1"
}

// redirectsOf maps each client to its registered redirect URIs.
var redirectsOf = map[string][]string{
	"web":    {webRedirect, queryRedirect, "http://127.0.0.1:8765/cb"},
	"post":   {postRedirect},
	"spa":    {spaRedirect},
	"portal": {portalRedirect},
	"pkjwt":  {pkRedirect},
	"other":  {otherRedirect},
}

// newHarness builds the provider. With serve it listens on loopback (issuer http://127.0.0.1:port);
// without, the issuer is https://id.example.vn and tests call ServeHTTP directly.
// opts adjust the provider's config before it is built.
func newHarness(tb testing.TB, serve bool, opts ...func(*idp.Config)) *harness {
	tb.Helper()
	ctx := context.Background()
	h := &harness{tb: tb, secrets: map[string]string{}}
	if serve {
		h.srv = httptest.NewUnstartedServer(nil)
		h.issuer = "http://" + h.srv.Listener.Addr().String()
	} else {
		h.issuer = "https://id.example.vn"
	}
	// The store reads the provider's clock (Config.Now, set by an opt) once it is built.
	clock := time.Now
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: "sqlite", DSN: filepath.Join(tb.TempDir(), "motlan.db"),
		Now: func() time.Time { return clock() }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	h.st = st
	km, err := keys.NewManager(ctx, keys.Config{Store: st, MasterKey: randBytes(32), RefreshInterval: -1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = km.Close() })
	h.keys = km

	h.pkKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &h.pkKey.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		tb.Fatal(err)
	}
	clients := []store.Client{
		{ID: "web", Name: "Cổng dịch vụ công", AuthMethod: "client_secret_basic", AllowedScopes: allScopes, FirstParty: true},
		{ID: "post", Name: "Bảo hiểm", AuthMethod: "client_secret_post", AllowedScopes: []string{"profile"}, FirstParty: true},
		{ID: "spa", Name: "SPA", AuthMethod: "none", AllowedScopes: []string{"profile"}, FirstParty: true},
		{ID: "portal", Name: "Cổng thông tin Tỉnh", AuthMethod: "client_secret_basic", AllowedScopes: []string{"profile", "address", "offline_access"}},
		{ID: "pkjwt", Name: "Ngân hàng", AuthMethod: "private_key_jwt", AllowedScopes: []string{"profile"}, FirstParty: true, JWKS: jwks},
		{ID: "other", Name: "Other", AuthMethod: "client_secret_basic", AllowedScopes: []string{"profile"}, FirstParty: true},
	}
	for _, c := range clients {
		c.RedirectURIs = redirectsOf[c.ID]
		c.SubjectType, c.IDTokenAlg, c.UpdatedAt = "pairwise", "ES256", time.Now()
		if strings.HasPrefix(c.AuthMethod, "client_secret") {
			// Deterministic, so fuzz inputs that carry a secret work in every fuzz worker.
			sum := sha256.Sum256([]byte("motlan test client secret " + c.ID))
			secret := base64.RawURLEncoding.EncodeToString(sum[:])
			h.secrets[c.ID] = secret
			c.SecretHash = idp.HashSecret(randBytes(16), secret)
		}
		if err := st.UpsertClient(ctx, c); err != nil {
			tb.Fatal(err)
		}
	}
	cfg := idp.Config{
		Issuer: h.issuer, Store: st, Keys: km, EID: &fakeEID{}, Secret: randBytes(32),
		Logger: slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.Now != nil {
		clock = cfg.Now
	}
	h.p, err = idp.New(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if serve {
		h.srv.Config.Handler = h.p
		h.srv.Start()
		tb.Cleanup(h.srv.Close)
	}
	return h
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// browser is a client with a cookie jar that does not follow redirects, so tests see each hop.
func (h *harness) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// noJar is a client without cookies that does not follow redirects.
func noJar() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// authQuery is a valid authorization request for a client with extra/overriding parameters.
func authQuery(clientID string, extra ...string) url.Values {
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {clientID},
		"redirect_uri":  {webRedirect},
		"scope":         {"openid profile"},
		"state":         {"st-ăâđ-123"},
		"nonce":         {"n-0S6_WzA2Mj"},
	}
	if r := redirectsOf[clientID]; len(r) > 0 {
		q.Set("redirect_uri", r[0])
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "\x00delete" {
			q.Del(extra[i])
			continue
		}
		q.Set(extra[i], extra[i+1])
	}
	return q
}

// pkce returns a verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = base64.RawURLEncoding.EncodeToString(randBytes(32))
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func readBody(tb testing.TB, resp *http.Response) []byte {
	tb.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// login drives /authorize and the fake eID's callback in browser b, and returns the
// response to the callback (a redirect to the client, or to the consent page).
func (h *harness) login(b *http.Client, q url.Values) *http.Response {
	h.tb.Helper()
	resp, err := b.Get(h.issuer + "/authorize?" + q.Encode())
	if err != nil {
		h.tb.Fatal(err)
	}
	readBody(h.tb, resp)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, fakeEIDAuthURL+"?") {
		h.tb.Fatalf("authorize: status %d, Location %q; want a redirect to the eID", resp.StatusCode, loc)
	}
	u, _ := url.Parse(loc)
	resp, err = b.Get(h.issuer + "/eid/callback?" + url.Values{"state": {u.Query().Get("state")}, "code": {"x"}}.Encode())
	if err != nil {
		h.tb.Fatal(err)
	}
	return resp
}

// code logs in for a first-party client and returns the authorization code.
func (h *harness) code(q url.Values) string {
	h.tb.Helper()
	resp := h.login(h.browser(), q)
	readBody(h.tb, resp)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
		h.tb.Fatalf("callback: status %d, Location %q; want a code", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

// tokenResponse is a decoded /token or /userinfo answer.
type tokenResponse struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r tokenResponse) str(k string) string { s, _ := r.body[k].(string); return s }

// postForm posts form to an endpoint; user/pass, if user is set, go in HTTP Basic with the
// RFC 6749 2.3.1 form encoding.
func (h *harness) postForm(path string, form url.Values, user, pass string) tokenResponse {
	h.tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return h.do(req)
}

func (h *harness) do(req *http.Request) tokenResponse {
	h.tb.Helper()
	resp, err := noJar().Do(req)
	if err != nil {
		h.tb.Fatal(err)
	}
	r := tokenResponse{status: resp.StatusCode, header: resp.Header, raw: readBody(h.tb, resp)}
	_ = json.Unmarshal(r.raw, &r.body)
	return r
}

// redeem exchanges a code for the "web" client with Basic authentication.
func (h *harness) redeem(clientID, code string, extra ...string) tokenResponse {
	h.tb.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectsOf[clientID][0]}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return h.postForm("/token", form, clientID, h.secrets[clientID])
}

// assertion signs a private_key_jwt client assertion with key (the registered one if nil).
func (h *harness) assertion(key *ecdsa.PrivateKey, kid string, cl jwt.Claims) string {
	h.tb.Helper()
	if key == nil {
		key = h.pkKey
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		h.tb.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(cl).Serialize()
	if err != nil {
		h.tb.Fatal(err)
	}
	return s
}

// goodAssertionClaims are valid claims for client pkjwt at this provider's token endpoint.
func (h *harness) goodAssertionClaims() jwt.Claims {
	now := time.Now()
	return jwt.Claims{
		Issuer: "pkjwt", Subject: "pkjwt", Audience: jwt.Audience{h.issuer + "/token"},
		ID: base64.RawURLEncoding.EncodeToString(randBytes(12)), IssuedAt: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(2 * time.Minute)),
	}
}

// oauthErrorCodes are the error codes RFC 6749 5.2 allows at the token endpoint.
var oauthErrorCodes = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true,
	"unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true,
}

// checkJSONError checks the common shape of an RFC 6749 5.2 error response.
func checkJSONError(t testing.TB, r tokenResponse, wantStatus int, wantCode string) {
	t.Helper()
	if r.status != wantStatus {
		t.Errorf("status = %d, want %d (body %s)", r.status, wantStatus, r.raw)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if r.body == nil {
		t.Fatalf("body is not a JSON object: %s", r.raw)
	}
	if got := r.str("error"); got != wantCode {
		t.Errorf("error = %q, want %q (%s)", got, wantCode, r.str("error_description"))
	}
	if r.str("error_description") == "" {
		t.Errorf("error_description is empty")
	}
}
