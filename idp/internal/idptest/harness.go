package idptest

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
	"github.com/motlan/motlan/internal/testpg"
	"github.com/motlan/motlan/keys"
)

// The fake eID's authorization endpoint: /authorize sends browsers here with the broker's
// upstream state; tests come back to /eid/callback by hand.
const FakeEIDAuthURL = "https://eid.example.vn/authorize"

// FakeCitizen is what the fake eID verifies: Vietnamese attributes with diacritics, which
// must come out of userinfo and the ID token byte for byte.
var FakeCitizen = map[string]string{
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

const FakeAddress = `{"formatted":"Số 12 Phố Tràng Tiền, Phường Hoàn Kiếm, Hà Nội","country":"VN"}`

// FakeEID is a Connector that accepts the upstream code "x" and returns one fixed citizen.
type FakeEID struct {
	Mu   sync.Mutex
	Opts []eid.AuthOptions
	ACR  string // the level the eID reaches; "": "2"
}

func (f *FakeEID) AuthCodeURL(_ context.Context, state, _, _ string, opts eid.AuthOptions) (string, error) {
	f.Mu.Lock()
	f.Opts = append(f.Opts, opts)
	if len(f.Opts) > 64 {
		f.Opts = f.Opts[1:]
	}
	f.Mu.Unlock()
	return FakeEIDAuthURL + "?" + url.Values{"state": {state}}.Encode(), nil
}

func (f *FakeEID) CheckCallback(q url.Values) error {
	switch q.Get("error") {
	case "":
		return nil
	case "access_denied":
		return fmt.Errorf("%w: %s", eid.ErrDenied, q.Get("error"))
	default:
		return fmt.Errorf("%w: %s", eid.ErrInvalidResponse, q.Get("error"))
	}
}

func (f *FakeEID) Exchange(_ context.Context, code, _, _ string) (eid.Identity, error) {
	if code != "x" {
		return eid.Identity{}, fmt.Errorf("%w: unknown code", eid.ErrInvalidResponse)
	}
	attrs := map[string]json.RawMessage{"address": json.RawMessage(FakeAddress)}
	for k, v := range FakeCitizen {
		b, _ := json.Marshal(v)
		attrs[k] = b
	}
	verified := make(map[string]bool, len(attrs))
	for k := range attrs {
		verified[k] = true // the fake eID vouches for everything it sends, the phone included
	}
	acr := f.ACR
	if acr == "" {
		acr = "2"
	}
	return eid.Identity{
		Issuer: "https://eid.example.vn", Subject: "vneid-sub-0001", ACR: acr, AMR: []string{"pwd", "otp"},
		UpstreamACR: acr, Verified: verified, UpdatedAt: FakeUpdatedAt,
		AuthTime: time.Now().Add(-time.Second), Attributes: attrs, RawIDToken: "upstream.id.token",
	}, nil
}

var _ eid.Connector = (*FakeEID)(nil)

// FakeUpdatedAt is the fake eID's updated_at: when its record of the citizen last changed.
var FakeUpdatedAt = time.Unix(1751328000, 0).UTC()

// Registered clients. Every confidential client has its own secret.
const (
	WebRedirect    = "https://web.example.vn/cb"
	PostRedirect   = "https://post.example.vn/cb"
	SPARedirect    = "https://spa.example.vn/cb"
	PortalRedirect = "https://portal.example.vn/cb"
	PKRedirect     = "https://pk.example.vn/cb"
	OtherRedirect  = "https://other.example.vn/cb"
	QueryRedirect  = "https://web.example.vn/cb2?tenant=hn"
)

var AllScopes = []string{"profile", "address", "phone", "cccd", "offline_access"}

// Harness is one real Provider on SQLite with real keys and the fake eID.
type Harness struct {
	TB      testing.TB
	P       *idp.Provider
	Store   *sqlstore.Store
	Keys    *keys.Manager
	Issuer  string
	Srv     *httptest.Server // nil for recorder-only harnesses (fuzzing)
	Secrets map[string]string
	PKKey   *ecdsa.PrivateKey // registered for client "pkjwt" as kid "k1"
}

// RedirectsOf maps each client to its registered redirect URIs.
var RedirectsOf = map[string][]string{
	"web":    {WebRedirect, QueryRedirect, "http://127.0.0.1:8765/cb"},
	"post":   {PostRedirect},
	"spa":    {SPARedirect},
	"portal": {PortalRedirect},
	"pkjwt":  {PKRedirect},
	"other":  {OtherRedirect},
}

// New builds the provider. With serve it listens on loopback (issuer http://127.0.0.1:port);
// without, the issuer is https://id.example.vn and tests call ServeHTTP directly.
// opts adjust the provider's config before it is built.
func New(tb testing.TB, serve bool, opts ...func(*idp.Config)) *Harness {
	tb.Helper()
	return NewOn(tb, "sqlite", serve, opts...)
}

// NewOn is New on the given store driver: "sqlite", or "postgres" (a schema of its own in
// MOTLAN_TEST_POSTGRES_DSN's database; see internal/testpg).
func NewOn(tb testing.TB, driver string, serve bool, opts ...func(*idp.Config)) *Harness {
	tb.Helper()
	ctx := context.Background()
	h := &Harness{TB: tb, Secrets: map[string]string{}}
	if serve {
		h.Srv = httptest.NewUnstartedServer(nil)
		h.Issuer = "http://" + h.Srv.Listener.Addr().String()
	} else {
		h.Issuer = "https://id.example.vn"
	}
	// The store reads the provider's clock (Config.Now, set by an opt) once it is built.
	clock := time.Now
	dsn := filepath.Join(tb.TempDir(), "motlan.db")
	if driver == "postgres" {
		dsn = testpg.DSN(tb)
	}
	st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: driver, DSN: dsn, Now: func() time.Time { return clock() }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	h.Store = st
	km, err := keys.NewManager(ctx, keys.Config{Store: st, MasterKey: RandBytes(32), RefreshInterval: -1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = km.Close() })
	h.Keys = km

	h.PKKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &h.PKKey.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		tb.Fatal(err)
	}
	clients := []store.Client{
		{ID: "web", Name: "Cổng dịch vụ công", AuthMethod: "client_secret_basic", AllowedScopes: AllScopes, FirstParty: true},
		{ID: "post", Name: "Bảo hiểm", AuthMethod: "client_secret_post", AllowedScopes: []string{"profile"}, FirstParty: true},
		{ID: "spa", Name: "SPA", AuthMethod: "none", AllowedScopes: []string{"profile"}, FirstParty: true},
		{ID: "portal", Name: "Cổng thông tin Tỉnh", AuthMethod: "client_secret_basic", AllowedScopes: []string{"profile", "address", "offline_access"}},
		{ID: "pkjwt", Name: "Ngân hàng", AuthMethod: "private_key_jwt", AllowedScopes: []string{"profile"}, FirstParty: true, JWKS: jwks},
		{ID: "other", Name: "Other", AuthMethod: "client_secret_basic", AllowedScopes: []string{"profile"}, FirstParty: true},
	}
	for _, c := range clients {
		c.RedirectURIs = RedirectsOf[c.ID]
		c.SubjectType, c.IDTokenAlg, c.UpdatedAt = "pairwise", "ES256", time.Now()
		if strings.HasPrefix(c.AuthMethod, "client_secret") {
			// Deterministic, so fuzz inputs that carry a secret work in every fuzz worker.
			sum := sha256.Sum256([]byte("motlan test client secret " + c.ID))
			secret := base64.RawURLEncoding.EncodeToString(sum[:])
			h.Secrets[c.ID] = secret
			c.SecretHash = idp.HashSecret(RandBytes(16), secret)
		}
		if err := st.UpsertClient(ctx, c); err != nil {
			tb.Fatal(err)
		}
	}
	cfg := idp.Config{
		Issuer: h.Issuer, Store: st, Keys: km, EID: &FakeEID{}, Secret: RandBytes(32),
		Logger: slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.Now != nil {
		clock = cfg.Now
	}
	h.P, err = idp.New(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if serve {
		h.Srv.Config.Handler = h.P
		h.Srv.Start()
		tb.Cleanup(h.Srv.Close)
	}
	return h
}

func RandBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Browser is a client with a cookie jar that does not follow redirects, so tests see each hop.
func (h *Harness) Browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// NoJar is a client without cookies that does not follow redirects.
func NoJar() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// AuthQuery is a valid authorization request for a client with extra/overriding parameters.
func AuthQuery(clientID string, extra ...string) url.Values {
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {clientID},
		"redirect_uri":  {WebRedirect},
		"scope":         {"openid profile"},
		"state":         {"st-ăâđ-123"},
		"nonce":         {"n-0S6_WzA2Mj"},
	}
	if r := RedirectsOf[clientID]; len(r) > 0 {
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

// PKCE returns a verifier and its S256 challenge.
func PKCE() (verifier, challenge string) {
	verifier = base64.RawURLEncoding.EncodeToString(RandBytes(32))
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func ReadBody(tb testing.TB, resp *http.Response) []byte {
	tb.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Login drives /authorize and the fake eID's callback in browser b, and returns the
// response to the callback (a redirect to the client, or to the consent page).
func (h *Harness) Login(b *http.Client, q url.Values) *http.Response {
	h.TB.Helper()
	resp, err := b.Get(h.Issuer + "/authorize?" + q.Encode())
	if err != nil {
		h.TB.Fatal(err)
	}
	ReadBody(h.TB, resp)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, FakeEIDAuthURL+"?") {
		h.TB.Fatalf("authorize: status %d, Location %q; want a redirect to the eID", resp.StatusCode, loc)
	}
	u, _ := url.Parse(loc)
	resp, err = b.Get(h.Issuer + "/eid/callback?" + url.Values{"state": {u.Query().Get("state")}, "code": {"x"}}.Encode())
	if err != nil {
		h.TB.Fatal(err)
	}
	return resp
}

// Code logs in for a first-party client and returns the authorization code.
func (h *Harness) Code(q url.Values) string {
	h.TB.Helper()
	resp := h.Login(h.Browser(), q)
	ReadBody(h.TB, resp)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
		h.TB.Fatalf("callback: status %d, Location %q; want a code", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

// Response is a decoded /token or /userinfo answer.
type Response struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

func (r Response) Str(k string) string { s, _ := r.Body[k].(string); return s }

// PostForm posts form to an endpoint; user/pass, if user is set, go in HTTP Basic with the
// RFC 6749 2.3.1 form encoding.
func (h *Harness) PostForm(path string, form url.Values, user, pass string) Response {
	h.TB.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.Issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return h.Do(req)
}

func (h *Harness) Do(req *http.Request) Response {
	h.TB.Helper()
	resp, err := NoJar().Do(req)
	if err != nil {
		h.TB.Fatal(err)
	}
	r := Response{Status: resp.StatusCode, Header: resp.Header, Raw: ReadBody(h.TB, resp)}
	_ = json.Unmarshal(r.Raw, &r.Body)
	return r
}

// Redeem exchanges a code for the "web" client with Basic authentication.
func (h *Harness) Redeem(clientID, code string, extra ...string) Response {
	h.TB.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {RedirectsOf[clientID][0]}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return h.PostForm("/token", form, clientID, h.Secrets[clientID])
}

// Assertion signs a private_key_jwt client assertion with key (the registered one if nil).
func (h *Harness) Assertion(key *ecdsa.PrivateKey, kid string, cl jwt.Claims) string {
	h.TB.Helper()
	if key == nil {
		key = h.PKKey
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		h.TB.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(cl).Serialize()
	if err != nil {
		h.TB.Fatal(err)
	}
	return s
}

// GoodAssertionClaims are valid claims for client pkjwt at this provider's token endpoint.
func (h *Harness) GoodAssertionClaims() jwt.Claims {
	now := time.Now()
	return jwt.Claims{
		Issuer: "pkjwt", Subject: "pkjwt", Audience: jwt.Audience{h.Issuer + "/token"},
		ID: base64.RawURLEncoding.EncodeToString(RandBytes(12)), IssuedAt: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(2 * time.Minute)),
	}
}

// OAuthErrorCodes are the error codes RFC 6749 5.2 allows at the token endpoint.
var OAuthErrorCodes = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true,
	"unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true,
}

// CheckJSONError checks the common shape of an RFC 6749 5.2 error response.
func CheckJSONError(t testing.TB, r Response, wantStatus int, wantCode string) {
	t.Helper()
	if r.Status != wantStatus {
		t.Errorf("status = %d, want %d (body %s)", r.Status, wantStatus, r.Raw)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if r.Body == nil {
		t.Fatalf("body is not a JSON object: %s", r.Raw)
	}
	if got := r.Str("error"); got != wantCode {
		t.Errorf("error = %q, want %q (%s)", got, wantCode, r.Str("error_description"))
	}
	if r.Str("error_description") == "" {
		t.Errorf("error_description is empty")
	}
}
