package vneid_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/text/unicode/norm"

	"github.com/motlan/motlan/adapters/vneid"
	"github.com/motlan/motlan/idp/eid"
)

// fakeOP is a tiny OpenID Connect provider that misbehaves on demand: it answers every
// token request with an ID token built from claims() and signed by signKey.
type fakeOP struct {
	srv      *httptest.Server
	issuer   string
	key      *ecdsa.PrivateKey // published in the JWKS
	signKey  *ecdsa.PrivateKey // signs the ID token
	claims   map[string]any
	userinfo map[string]any
	// Overrides.
	tokenStatus    int
	tokenBody      string
	jwksStatus     int
	userinfoStatus int
	tamper         bool   // change the payload after signing
	payload        string // signed instead of claims, when set
	signAlg        jose.SignatureAlgorithm
	userinfoKey    *ecdsa.PrivateKey // when set, userinfo is a JWT signed with it (application/jwt)
	idToken        string            // sent as is instead of a signed one, when set
	accessToken    string
	authMethods    []string // token_endpoint_auth_methods_supported, when set
	// What the last token request carried: its form and its Authorization header (the
	// handler writes them, the test reads them: mu orders the two for the race detector).
	mu        sync.Mutex
	tokenForm url.Values
	tokenAuth string
}

// lastToken is what the last token request carried.
func (f *fakeOP) lastToken() (url.Values, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenForm, f.tokenAuth
}

const fakeNonce = "nonce-0123456789"

func newFakeOP(t *testing.T) *fakeOP {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f := &fakeOP{key: key, signKey: key, accessToken: "at-0123456789"}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.issuer = f.srv.URL
	now := time.Now()
	f.claims = map[string]any{
		"iss": f.issuer, "sub": "s-1", "aud": clientID, "exp": now.Add(5 * time.Minute).Unix(),
		"iat": now.Unix(), "nonce": fakeNonce, "acr": "2", "amr": []string{"pwd", "otp"},
		"auth_time": now.Unix(),
		// NFD input must come out NFC.
		"ho_va_ten": norm.NFD.String("Nguyễn Văn Lĩnh"),
		"gioi_tinh": "Nữ",
	}
	f.userinfo = map[string]any{
		"sub":            "s-1",
		"noi_thuong_tru": "Số 12 đường Lê Lợi, Phường Hạc Thành, Tỉnh Thanh Hóa",
		"ho_va_ten":      "ignored: the ID token wins",
		"que_quan":       "Xã Hoằng Hóa <&> \u0130",
	}
	return f
}

func (f *fakeOP) serve(w http.ResponseWriter, r *http.Request) {
	writeJSON := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		meta := map[string]any{
			"issuer": f.issuer, "authorization_endpoint": f.issuer + "/authorize",
			"token_endpoint": f.issuer + "/token", "userinfo_endpoint": f.issuer + "/userinfo",
			"jwks_uri": f.issuer + "/jwks", "id_token_signing_alg_values_supported": []string{"ES256"},
		}
		if f.authMethods != nil {
			meta["token_endpoint_auth_methods_supported"] = f.authMethods
		}
		writeJSON(200, meta)
	case "/jwks":
		if f.jwksStatus != 0 {
			http.Error(w, "down", f.jwksStatus)
			return
		}
		writeJSON(200, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	case "/token":
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
			writeJSON(400, map[string]string{"error": "invalid_request"})
			return
		}
		f.mu.Lock()
		f.tokenForm, f.tokenAuth = r.PostForm, r.Header.Get("Authorization")
		f.mu.Unlock()
		if f.tokenStatus != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.tokenStatus)
			_, _ = w.Write([]byte(f.tokenBody))
			return
		}
		body := map[string]any{"access_token": f.accessToken, "token_type": "Bearer", "expires_in": 600}
		switch {
		case f.idToken != "":
			body["id_token"] = f.idToken
		case f.claims != nil:
			body["id_token"] = f.sign()
		}
		writeJSON(200, body)
	case "/userinfo":
		if f.userinfoStatus != 0 {
			http.Error(w, "nope", f.userinfoStatus)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+f.accessToken {
			http.Error(w, "bad token", 401)
			return
		}
		if f.userinfoKey != nil {
			p, _ := json.Marshal(f.userinfo)
			w.Header().Set("Content-Type", "application/jwt")
			_, _ = w.Write([]byte(signJWS(jose.ES256, f.userinfoKey, p)))
			return
		}
		writeJSON(200, f.userinfo)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeOP) sign() string {
	alg := f.signAlg
	if alg == "" {
		alg = jose.ES256
	}
	payload, _ := json.Marshal(f.claims)
	if f.payload != "" {
		payload = []byte(f.payload)
	}
	s := signJWS(alg, f.signKey, payload)
	if f.tamper {
		parts := strings.Split(s, ".")
		c := map[string]any{}
		for k, v := range f.claims {
			c[k] = v
		}
		c["sub"] = "someone-else"
		p, _ := json.Marshal(c)
		parts[1] = base64.RawURLEncoding.EncodeToString(p)
		s = strings.Join(parts, ".")
	}
	return s
}

// exchangeAgainst runs one Exchange against a fake eID that change has made misbehave.
func exchangeAgainst(t *testing.T, change func(*fakeOP)) (*fakeOP, eid.Identity, error) {
	t.Helper()
	f := newFakeOP(t)
	change(f)
	c := newConnector(t, f.issuer, nil)
	id, err := c.Exchange(context.Background(), "the-code-123", "v", fakeNonce)
	return f, id, err
}

// signJWS signs payload as a compact JWS with key "k1"'s kid.
func signJWS(alg jose.SignatureAlgorithm, key *ecdsa.PrivateKey, payload []byte) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		panic(err)
	}
	jws, _ := signer.Sign(payload)
	s, _ := jws.CompactSerialize()
	return s
}

func TestExchangeAgainstMisbehavingOP(t *testing.T) {
	foreign, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ok := func(t *testing.T, id eid.Identity) {
		if id.Subject != "s-1" {
			t.Errorf("subject %q", id.Subject)
		}
	}
	atHash := func(at string) string {
		sum := sha256.Sum256([]byte(at))
		return base64.RawURLEncoding.EncodeToString(sum[:16])
	}
	tests := []struct {
		name   string
		change func(f *fakeOP)
		want   error
		check  func(t *testing.T, id eid.Identity)
	}{
		{"valid", func(*fakeOP) {}, nil, func(t *testing.T, id eid.Identity) {
			want := map[string]string{
				"name":            `"Nguyễn Văn Lĩnh"`, // NFC
				"gender":          `"female"`,
				"address":         `{"formatted":"Số 12 đường Lê Lợi, Phường Hạc Thành, Tỉnh Thanh Hóa"}`,
				"place_of_origin": `"Xã Hoằng Hóa <&> İ"`,
			}
			for k, v := range want {
				if got := string(id.Attributes[k]); got != v {
					t.Errorf("%s = %s, want %s", k, got, v)
				}
			}
			if id.ACR != "2" || id.Subject != "s-1" {
				t.Errorf("identity %+v", id)
			}
		}},
		{"missing acr is level 1", func(f *fakeOP) { delete(f.claims, "acr") }, nil, func(t *testing.T, id eid.Identity) {
			if id.ACR != "1" {
				t.Errorf("acr %q", id.ACR)
			}
		}},
		{"unknown acr", func(f *fakeOP) { f.claims["acr"] = "3" }, eid.ErrInvalidResponse, nil},
		{"foreign-signed", func(f *fakeOP) { f.signKey = foreign }, eid.ErrInvalidResponse, nil},
		{"tampered payload", func(f *fakeOP) { f.tamper = true }, eid.ErrInvalidResponse, nil},
		{"expired", func(f *fakeOP) { f.claims["exp"] = time.Now().Add(-time.Minute).Unix() }, eid.ErrInvalidResponse, nil},
		{"wrong audience", func(f *fakeOP) { f.claims["aud"] = "someone-else" }, eid.ErrInvalidResponse, nil},
		{"several audiences without azp", func(f *fakeOP) { f.claims["aud"] = []string{clientID, "other"} }, eid.ErrInvalidResponse, nil},
		{"wrong issuer", func(f *fakeOP) { f.claims["iss"] = "https://evil.example" }, eid.ErrInvalidResponse, nil},
		{"nonce mismatch", func(f *fakeOP) { f.claims["nonce"] = "other" }, eid.ErrInvalidResponse, nil},
		{"bad at_hash", func(f *fakeOP) {
			sum := sha256.Sum256([]byte("other"))
			f.claims["at_hash"] = base64.RawURLEncoding.EncodeToString(sum[:16])
		}, eid.ErrInvalidResponse, nil},
		{"good at_hash", func(f *fakeOP) { f.claims["at_hash"] = atHash(f.accessToken) }, nil, ok},
		{"exp with a fraction", func(f *fakeOP) { f.claims["exp"] = float64(time.Now().Add(time.Hour).Unix()) + 0.5 }, nil, ok},
		{"nbf within the leeway", func(f *fakeOP) { f.claims["nbf"] = time.Now().Add(time.Minute).Unix() }, nil, ok},
		{"audience list holding the client", func(f *fakeOP) { f.claims["aud"] = []string{clientID} }, nil, ok},
		{"several audiences, azp the client", func(f *fakeOP) {
			f.claims["aud"], f.claims["azp"] = []string{"other", clientID}, clientID
		}, nil, ok},
		{"no id_token", func(f *fakeOP) { f.claims = nil }, eid.ErrInvalidResponse, nil},
		{"userinfo sub differs", func(f *fakeOP) { f.userinfo["sub"] = "s-2" }, eid.ErrInvalidResponse, nil},
		{"signed userinfo", func(f *fakeOP) { f.userinfoKey = f.key }, nil, func(t *testing.T, id eid.Identity) {
			if got := string(id.Attributes["place_of_origin"]); got != `"Xã Hoằng Hóa <&> İ"` {
				t.Errorf("place_of_origin from signed userinfo = %s", got)
			}
		}},
		{"signed userinfo, foreign key", func(f *fakeOP) { f.userinfoKey = foreign }, eid.ErrInvalidResponse, nil},
		{"userinfo 503", func(f *fakeOP) { f.userinfoStatus = 503 }, eid.ErrUnavailable, nil},
		{"jwks 500", func(f *fakeOP) { f.jwksStatus = 500 }, eid.ErrUnavailable, nil},
		{"token 503", func(f *fakeOP) { f.tokenStatus, f.tokenBody = 503, "" }, eid.ErrUnavailable, nil},
		{"invalid_grant", func(f *fakeOP) { f.tokenStatus, f.tokenBody = 400, `{"error":"invalid_grant"}` }, eid.ErrInvalidResponse, nil},
		{"access_denied", func(f *fakeOP) { f.tokenStatus, f.tokenBody = 400, `{"error":"access_denied"}` }, eid.ErrDenied, nil},
		{"token 200 garbage", func(f *fakeOP) { f.tokenStatus, f.tokenBody = 200, `{"token_type":"Bearer"}` }, eid.ErrInvalidResponse, nil},
		{"token 200 not JSON", func(f *fakeOP) { f.tokenStatus, f.tokenBody = 200, `access_token=x&id_token=y` }, eid.ErrInvalidResponse, nil},
		{"token 200 with an error", func(f *fakeOP) {
			f.tokenStatus, f.tokenBody = 200, `{"access_token":"at","id_token":"x.y.z","error":"invalid_grant"}`
		}, eid.ErrInvalidResponse, nil},
		{"token 400 not JSON", func(f *fakeOP) { f.tokenStatus, f.tokenBody = 400, `<html>bad</html>` }, eid.ErrInvalidResponse, nil},
		{"token 429", func(f *fakeOP) { f.tokenStatus, f.tokenBody = 429, `` }, eid.ErrUnavailable, nil},
		{"token server_error", func(f *fakeOP) { f.tokenStatus, f.tokenBody = 400, `{"error":"server_error"}` }, eid.ErrUnavailable, nil},
		{"token response too large", func(f *fakeOP) {
			f.tokenStatus, f.tokenBody = 200, `{"access_token":"`+strings.Repeat("a", 1<<20)+`"}`
		}, eid.ErrInvalidResponse, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, id, err := exchangeAgainst(t, tt.change)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Exchange: %v", err)
				}
				tt.check(t, id)
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var ve *vneid.Error
			if !errors.As(err, &ve) {
				t.Fatalf("not a *vneid.Error: %T", err)
			}
			msg := err.Error()
			for _, secret := range []string{"the-code-123", f.accessToken, "Nguy", "s-1", clientSecret} {
				if strings.Contains(msg, secret) {
					t.Fatalf("error %q carries %q", msg, secret)
				}
			}
		})
	}
}

// The code exchange sends RFC 6749's form with the PKCE verifier, and authenticates the
// broker as discovery allows: HTTP Basic over form-encoded credentials by default, in the
// body where the eID takes only client_secret_post.
func TestTokenRequest(t *testing.T) {
	const secret = "s3cret:+/ ü%"
	for _, tt := range []struct {
		name    string
		methods []string
		inBody  bool
	}{
		{"nothing listed", nil, false},
		{"basic and post", []string{"client_secret_post", "client_secret_basic"}, false},
		{"post only", []string{"client_secret_post"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOP(t)
			f.authMethods = tt.methods
			c := newConnector(t, f.issuer, func(cfg *vneid.Config) { cfg.ClientSecret = secret })
			if _, err := c.Exchange(context.Background(), "the-code-123", "the-verifier", fakeNonce); err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			want := url.Values{"grant_type": {"authorization_code"}, "code": {"the-code-123"},
				"code_verifier": {"the-verifier"}, "redirect_uri": {redirectURL}}
			if tt.inBody {
				want["client_id"], want["client_secret"] = []string{clientID}, []string{secret}
			}
			form, auth := f.lastToken()
			if got := form.Encode(); got != want.Encode() {
				t.Errorf("form %s, want %s", got, want.Encode())
			}
			if tt.inBody {
				if auth != "" {
					t.Errorf("Authorization %q beside credentials in the body", auth)
				}
				return
			}
			r := http.Request{Header: http.Header{"Authorization": {auth}}}
			id, sec, ok := r.BasicAuth()
			if !ok {
				t.Fatalf("Authorization %q is not Basic", auth)
			}
			if id, _ = url.QueryUnescape(id); id != clientID {
				t.Errorf("client id %q", id)
			}
			if sec != url.QueryEscape(secret) {
				t.Errorf("secret sent as %q, want it form-encoded (RFC 6749 2.3.1)", sec)
			}
		})
	}
}
