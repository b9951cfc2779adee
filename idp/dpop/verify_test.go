package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// proofKey is a key that signs hand-made proofs, so tests can get every byte wrong.
type proofKey struct {
	alg  string
	priv crypto.Signer
}

var (
	testKeysOnce = map[string]proofKey{}
)

func newProofKey(t testing.TB, alg string) proofKey {
	t.Helper()
	if k, ok := testKeysOnce[alg]; ok {
		return k
	}
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "RS256", "PS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "RS256-1024":
		priv, err = rsa.GenerateKey(rand.Reader, 1024)
		alg = "RS256"
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	k := proofKey{alg: alg, priv: priv}
	testKeysOnce[alg] = k
	return k
}

// jwk is the public key as a JSON object.
func (k proofKey) jwk(t testing.TB) map[string]any {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: k.priv.Public()})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (k proofKey) thumbprint(t testing.TB) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: k.priv.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

var b64 = base64.RawURLEncoding.EncodeToString

// sign signs input with alg (which may differ from the key's, to test mismatches).
func (k proofKey) sign(t testing.TB, alg, input string) []byte {
	t.Helper()
	h256 := sha256.Sum256([]byte(input))
	switch key := k.priv.(type) {
	case *ecdsa.PrivateKey:
		digest := h256[:]
		size := 32
		if key.Curve == elliptic.P384() {
			h := sha512.Sum384([]byte(input))
			digest, size = h[:], 48
		}
		r, s, err := ecdsa.Sign(rand.Reader, key, digest)
		if err != nil {
			t.Fatal(err)
		}
		return append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...)
	case *rsa.PrivateKey:
		var sig []byte
		var err error
		if alg == "PS256" {
			sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, h256[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h256[:])
		}
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case ed25519.PrivateKey:
		return ed25519.Sign(key, []byte(input))
	}
	t.Fatal("unknown key type")
	return nil
}

// craft serialises and signs a proof from header and claims as given.
func (k proofKey) craft(t testing.TB, hdr, claims map[string]any) string {
	t.Helper()
	hb, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64(hb) + "." + b64(cb)
	alg, _ := hdr["alg"].(string)
	switch alg {
	case "none":
		return input + "."
	case "HS256":
		m := hmac.New(sha256.New, []byte("a shared secret a shared secret!"))
		m.Write([]byte(input))
		return input + "." + b64(m.Sum(nil))
	}
	return input + "." + b64(k.sign(t, alg, input))
}

const testTokenURL = "https://id.example.vn/token"

var testNow = time.Unix(1_790_000_000, 0)

// goodProof is a valid proof's header and claims for POST testTokenURL at testNow.
func (k proofKey) goodProof(t testing.TB) (map[string]any, map[string]any) {
	return map[string]any{"typ": "dpop+jwt", "alg": k.alg, "jwk": k.jwk(t)},
		map[string]any{"jti": rand.Text(), "htm": "POST", "htu": testTokenURL, "iat": testNow.Unix()}
}

// TestVerifyDPoPProof checks every rule of RFC 9449 4.3 the validator enforces, each with
// the reason it must give.
func TestVerifyDPoPProof(t *testing.T) {
	es := newProofKey(t, "ES256")
	other := proofKey{alg: "ES256"}
	otherPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other.priv = otherPriv
	expect := expected{Method: "POST", URL: testTokenURL, Now: testNow}
	atExpect := expected{Method: "GET", URL: "https://id.example.vn/userinfo", AccessToken: "the.access.token", Now: testNow}

	type mut func(h, c map[string]any)
	tests := []struct {
		name   string
		key    proofKey
		mutate mut
		raw    func(good string) string // replaces the proof after signing
		want   expected
		err    error
	}{
		// Algorithms: every accepted one works.
		{name: "ES256", key: es},
		{name: "ES384", key: newProofKey(t, "ES384")},
		{name: "RS256", key: newProofKey(t, "RS256")},
		{name: "PS256", key: proofKey{alg: "PS256", priv: newProofKey(t, "RS256").priv}},
		{name: "EdDSA", key: newProofKey(t, "EdDSA")},

		// Shape.
		{name: "empty", key: es, raw: func(string) string { return "" }, err: ErrMalformed},
		{name: "two parts", key: es, raw: func(g string) string { return g[:strings.LastIndexByte(g, '.')] }, err: ErrMalformed},
		{name: "four parts", key: es, raw: func(g string) string { return g + ".x" }, err: ErrMalformed},
		{name: "header not base64url", key: es, raw: func(g string) string { return "*" + g }, err: ErrMalformed},
		{name: "header not JSON", key: es, raw: func(g string) string { return b64([]byte("[1]")) + g[strings.IndexByte(g, '.'):] }, err: ErrMalformed},
		{name: "too long", key: es, raw: func(g string) string { return g + strings.Repeat("A", maxProofLen) }, err: ErrMalformed},

		// typ.
		{name: "typ missing", key: es, mutate: func(h, _ map[string]any) { delete(h, "typ") }, err: ErrTyp},
		{name: "typ JWT", key: es, mutate: func(h, _ map[string]any) { h["typ"] = "JWT" }, err: ErrTyp},
		{name: "typ at+jwt", key: es, mutate: func(h, _ map[string]any) { h["typ"] = "at+jwt" }, err: ErrTyp},
		{name: "typ not a string", key: es, mutate: func(h, _ map[string]any) { h["typ"] = 1 }, err: ErrTyp},
		{name: "TYP is not typ", key: es, mutate: func(h, _ map[string]any) { delete(h, "typ"); h["TYP"] = "dpop+jwt" }, err: ErrTyp},
		{name: "JWK is not jwk", key: es, mutate: func(h, _ map[string]any) { h["JWK"] = h["jwk"]; delete(h, "jwk") }, err: ErrJWK},

		// alg: asymmetric only.
		{name: "alg none", key: es, mutate: func(h, _ map[string]any) { h["alg"] = "none" }, err: ErrAlg},
		{name: "alg HS256", key: es, mutate: func(h, _ map[string]any) { h["alg"] = "HS256" }, err: ErrAlg},
		{name: "alg RS512", key: es, mutate: func(h, _ map[string]any) { h["alg"] = "RS512" }, err: ErrAlg},
		{name: "alg missing", key: es, mutate: func(h, _ map[string]any) { delete(h, "alg") }, err: ErrAlg},

		// jwk: present, public, valid, strong, the signer's.
		{name: "jwk missing", key: es, mutate: func(h, _ map[string]any) { delete(h, "jwk") }, err: ErrJWK},
		{name: "jwk with private d", key: es, mutate: func(h, _ map[string]any) {
			h["jwk"].(map[string]any)["d"] = b64(es.priv.(*ecdsa.PrivateKey).D.Bytes())
		}, err: ErrPrivateKey},
		{name: "jwk symmetric", key: es, mutate: func(h, _ map[string]any) {
			h["jwk"] = map[string]any{"kty": "oct", "k": b64([]byte("a shared secret a shared secret!"))}
		}, err: ErrPrivateKey},
		{name: "jwk RSA private", key: newProofKey(t, "RS256"), mutate: func(h, _ map[string]any) {
			h["jwk"].(map[string]any)["p"] = "AQAB"
		}, err: ErrPrivateKey},
		{name: "jwk not a key", key: es, mutate: func(h, _ map[string]any) {
			h["jwk"] = map[string]any{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}
		}, err: ErrJWK},
		{name: "jwk unknown kty", key: es, mutate: func(h, _ map[string]any) { h["jwk"] = map[string]any{"kty": "XYZ"} }, err: ErrJWK},
		{name: "RSA 1024", key: newProofKey(t, "RS256-1024"), err: ErrJWK},
		{name: "jwk of another key", key: es, mutate: func(h, _ map[string]any) { h["jwk"] = other.jwk(t) }, err: ErrSignature},
		{name: "alg of another key type", key: newProofKey(t, "EdDSA"), mutate: func(h, _ map[string]any) { h["alg"] = "ES256" }, err: ErrSignature},
		{name: "payload changed after signing", key: es, raw: func(g string) string {
			parts := strings.Split(g, ".")
			parts[1] = b64([]byte(`{"jti":"x","htm":"POST","htu":"` + testTokenURL + `","iat":1790000000}`))
			return strings.Join(parts, ".")
		}, err: ErrSignature},
		{name: "signature cut", key: es, raw: func(g string) string { return g[:len(g)-4] }, err: ErrSignature},

		// Claims present and typed.
		{name: "jti missing", key: es, mutate: func(_, c map[string]any) { delete(c, "jti") }, err: ErrClaims},
		{name: "jti empty", key: es, mutate: func(_, c map[string]any) { c["jti"] = "" }, err: ErrClaims},
		{name: "jti too long", key: es, mutate: func(_, c map[string]any) { c["jti"] = strings.Repeat("j", maxJTILen+1) }, err: ErrClaims},
		{name: "htm missing", key: es, mutate: func(_, c map[string]any) { delete(c, "htm") }, err: ErrClaims},
		{name: "htu missing", key: es, mutate: func(_, c map[string]any) { delete(c, "htu") }, err: ErrClaims},
		{name: "iat missing", key: es, mutate: func(_, c map[string]any) { delete(c, "iat") }, err: ErrClaims},
		{name: "iat a string", key: es, mutate: func(_, c map[string]any) { c["iat"] = "1790000000" }, err: ErrClaims},
		{name: "HTU is not htu", key: es, mutate: func(_, c map[string]any) { c["HTU"] = c["htu"]; delete(c, "htu") }, err: ErrClaims},

		// htm.
		{name: "htm GET for POST", key: es, mutate: func(_, c map[string]any) { c["htm"] = "GET" }, err: ErrHTM},
		{name: "htm lower case", key: es, mutate: func(_, c map[string]any) { c["htm"] = "post" }, err: ErrHTM},

		// htu: compared after normalisation, without query and fragment.
		{name: "htu with query", key: es, mutate: func(_, c map[string]any) { c["htu"] = testTokenURL + "?a=b" }},
		{name: "htu with fragment", key: es, mutate: func(_, c map[string]any) { c["htu"] = testTokenURL + "#f" }},
		{name: "htu upper-case scheme and host, default port", key: es, mutate: func(_, c map[string]any) { c["htu"] = "HTTPS://ID.Example.VN:443/token" }},
		{name: "htu dot segments", key: es, mutate: func(_, c map[string]any) { c["htu"] = "https://id.example.vn/a/../token" }},
		{name: "htu percent-encoded unreserved", key: es, mutate: func(_, c map[string]any) { c["htu"] = "https://id.example.vn/%74oken" }},
		{name: "htu other path", key: es, mutate: func(_, c map[string]any) { c["htu"] = "https://id.example.vn/userinfo" }, err: ErrHTU},
		{name: "htu path case", key: es, mutate: func(_, c map[string]any) { c["htu"] = "https://id.example.vn/Token" }, err: ErrHTU},
		{name: "htu trailing slash", key: es, mutate: func(_, c map[string]any) { c["htu"] = testTokenURL + "/" }, err: ErrHTU},
		{name: "htu other host", key: es, mutate: func(_, c map[string]any) { c["htu"] = "https://evil.example.vn/token" }, err: ErrHTU},
		{name: "htu http", key: es, mutate: func(_, c map[string]any) { c["htu"] = "http://id.example.vn/token" }, err: ErrHTU},
		{name: "htu other port", key: es, mutate: func(_, c map[string]any) { c["htu"] = "https://id.example.vn:8443/token" }, err: ErrHTU},
		{name: "htu relative", key: es, mutate: func(_, c map[string]any) { c["htu"] = "/token" }, err: ErrHTU},
		{name: "htu with userinfo", key: es, mutate: func(_, c map[string]any) { c["htu"] = "https://u@id.example.vn/token" }, err: ErrHTU},
		{name: "htu other scheme", key: es, mutate: func(_, c map[string]any) { c["htu"] = "ftp://id.example.vn/token" }, err: ErrHTU},

		// iat within the window.
		{name: "iat 59s ago", key: es, mutate: func(_, c map[string]any) { c["iat"] = testNow.Unix() - 59 }},
		{name: "iat 59s ahead", key: es, mutate: func(_, c map[string]any) { c["iat"] = testNow.Unix() + 59 }},
		{name: "iat fractional", key: es, mutate: func(_, c map[string]any) { c["iat"] = float64(testNow.Unix()) + 0.5 }},
		{name: "iat 61s ago", key: es, mutate: func(_, c map[string]any) { c["iat"] = testNow.Unix() - 61 }, err: ErrIAT},
		{name: "iat 61s ahead", key: es, mutate: func(_, c map[string]any) { c["iat"] = testNow.Unix() + 61 }, err: ErrIAT},
		{name: "iat absurd", key: es, mutate: func(_, c map[string]any) { c["iat"] = 1e300 }, err: ErrIAT},
		{name: "iat negative", key: es, mutate: func(_, c map[string]any) { c["iat"] = -1 }, err: ErrIAT},

		// ath at resources.
		{name: "ath matches", key: es, want: atExpect, mutate: func(_, c map[string]any) {
			c["htm"], c["htu"], c["ath"] = "GET", atExpect.URL, TokenHash(atExpect.AccessToken)
		}},
		{name: "ath missing", key: es, want: atExpect, mutate: func(_, c map[string]any) { c["htm"], c["htu"] = "GET", atExpect.URL }, err: ErrATH},
		{name: "ath of another token", key: es, want: atExpect, mutate: func(_, c map[string]any) {
			c["htm"], c["htu"], c["ath"] = "GET", atExpect.URL, TokenHash("another.access.token")
		}, err: ErrATH},
		{name: "ath not base64url of the hash", key: es, want: atExpect, mutate: func(_, c map[string]any) {
			c["htm"], c["htu"], c["ath"] = "GET", atExpect.URL, atExpect.AccessToken
		}, err: ErrATH},
		{name: "ath ignored at the token endpoint", key: es, mutate: func(_, c map[string]any) { c["ath"] = "whatever" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, c := tt.key.goodProof(t)
			if tt.mutate != nil {
				tt.mutate(h, c)
			}
			proof := tt.key.craft(t, h, c)
			if tt.raw != nil {
				proof = tt.raw(proof)
			}
			want := tt.want
			if want.Method == "" {
				want = expect
			}
			got, err := verifyProof(proof, want)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if oe := OAuthError(err, 400); oe.Code != "invalid_dpop_proof" || oe.Description != tt.err.Error() {
					t.Errorf("OAuth error = %q %q, want invalid_dpop_proof %q", oe.Code, oe.Description, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want a valid proof", err)
			}
			if got.JKT != tt.key.thumbprint(t) {
				t.Errorf("JKT = %q, want the key's RFC 7638 thumbprint %q", got.JKT, tt.key.thumbprint(t))
			}
			if got.JTI != c["jti"] {
				t.Errorf("JTI = %q, want %q", got.JTI, c["jti"])
			}
			if d := got.IssuedAt.Sub(testNow); d < -time.Minute || d > time.Minute {
				t.Errorf("IssuedAt = %v, want near %v", got.IssuedAt, testNow)
			}
		})
	}
}

// TestThumbprintRFC7638 checks the thumbprint against RFC 7638 3.1's worked example.
func TestThumbprintRFC7638(t *testing.T) {
	const example = `{"kty":"RSA","e":"AQAB","alg":"RS256","kid":"2011-04-29",` +
		`"n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}`
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON([]byte(example)); err != nil {
		t.Fatal(err)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b64(tp), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("thumbprint = %s, want %s", got, want)
	}
	if !ValidJKT(b64(tp)) || ValidJKT("short") || ValidJKT(strings.Repeat("+", 43)) {
		t.Error("ValidJKT accepts or refuses the wrong thing")
	}
}

// TestNormalizeHTU checks RFC 9449 4.3's htu comparison form.
func TestNormalizeHTU(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://id.example.vn/token", "https://id.example.vn/token", true},
		{"HTTPS://ID.EXAMPLE.VN/token", "https://id.example.vn/token", true},
		{"https://id.example.vn:443/token", "https://id.example.vn/token", true},
		{"http://127.0.0.1:80/token", "http://127.0.0.1/token", true},
		{"http://127.0.0.1:8080/token", "http://127.0.0.1:8080/token", true},
		{"https://id.example.vn", "https://id.example.vn/", true},
		{"https://id.example.vn/a/./b/../c?x=1#y", "https://id.example.vn/a/c", true},
		{"https://id.example.vn/%7euser/%2fx", "https://id.example.vn/~user/%2Fx", true},
		{"https://[::1]:8443/token", "https://[::1]:8443/token", true},
		{"/token", "", false},
		{"mailto:a@b", "", false},
		{"https://u:p@id.example.vn/", "", false},
		{"https://id.example.vn/%zz", "", false},
	}
	for _, tt := range tests {
		got, ok := normalizeHTU(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("normalizeHTU(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestRemoveDotSegments runs RFC 3986 5.2.4's and 5.4's examples.
func TestRemoveDotSegments(t *testing.T) {
	for in, want := range map[string]string{
		"/a/b/c/./../../g":   "/a/g",
		"mid/content=5/../6": "mid/6",
		"/../a":              "/a",
		"/a/..":              "/",
		"/a/.":               "/a/",
		"/a//b":              "/a//b",
		"":                   "",
	} {
		if got := removeDotSegments(in); got != want {
			t.Errorf("removeDotSegments(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRefreshBinding checks the carrier of a public client's refresh-token binding: what
// is handed out cannot be split into anything but what was put in.
func TestRefreshBinding(t *testing.T) {
	jkt := newProofKey(t, "ES256").thumbprint(t)
	if v := BindRefresh("SECRET", jkt); RefreshJKT(v) != jkt || !strings.HasPrefix(v, "SECRET") {
		t.Errorf("BindRefresh/RefreshJKT round trip failed: %q", v)
	}
	if RefreshJKT(BindRefresh("SECRET", "")) != "" || BindRefresh("SECRET", "") != "SECRET" {
		t.Error("an unbound refresh token must stay as it was")
	}
}

// TestDPoPNonce checks the stateless server nonces: valid in their slot and the next, only
// from this provider's secret, only as made.
func TestDPoPNonce(t *testing.T) {
	p, err := NewChecker(CheckerConfig{Secret: []byte("0123456789abcdef0123456789abcdef"), Nonce: true})
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewChecker(CheckerConfig{Secret: []byte("fedcba9876543210fedcba9876543210"), Nonce: true})
	if err != nil {
		t.Fatal(err)
	}
	made := time.Unix(1_790_000_000, 0).Truncate(nonceSlot).Add(time.Minute)
	n := p.nonce(made)
	tests := []struct {
		name  string
		nonce string
		at    time.Time
		ok    bool
	}{
		{"same slot", n, made, true},
		{"next slot", n, made.Add(nonceSlot), true},
		{"two slots on", n, made.Add(2 * nonceSlot), false},
		{"from the future", n, made.Add(-nonceSlot), false},
		{"another provider's", other.nonce(made), made, false},
		{"altered", n[:len(n)-1] + map[bool]string{true: "B", false: "A"}[n[len(n)-1] == 'A'], made, false},
		{"empty", "", made, false},
		{"too long", n + "A", made, false},
	}
	for _, tt := range tests {
		if got := p.validNonce(tt.nonce, tt.at); got != tt.ok {
			t.Errorf("%s: valid = %v, want %v", tt.name, got, tt.ok)
		}
	}
	if e := OAuthError(ErrNonce, 401); e.Code != "use_dpop_nonce" || e.Status != 401 {
		t.Errorf("nonce error = %+v, want use_dpop_nonce", e)
	}
}

// BenchmarkVerifyDPoPProof measures the proof check every DPoP request pays (without the
// store's replay write).
func BenchmarkVerifyDPoPProof(b *testing.B) {
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			k := newProofKey(b, alg)
			h, c := k.goodProof(b)
			proof := k.craft(b, h, c)
			want := expected{Method: "POST", URL: testTokenURL, Now: testNow}
			for b.Loop() {
				if _, err := verifyProof(proof, want); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
