package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/text/unicode/norm"

	"github.com/motlan/motlan/adapters/vneid/sim"
)

// minimalEID is the upstream eID of -eid minimal: an OpenID provider doing only what a
// federated login needs, as cheaply as it can, so that the driver's CPU goes to driving the
// broker under test (Motlan or Dex) rather than to the upstream. Its authorization endpoint
// redirects back at once with a code (no pages, no session); its token endpoint returns an
// ES256 ID token (one key made at start) for a citizen it mints for the login: a new
// citizen unless the run asks for a share of returning ones. It has no userinfo endpoint,
// so every claim rides in the ID token. Refresh grants (Dex refreshes upstream on every
// refresh) return a new ID token for the same citizen.
type minimalEID struct {
	issuer    string
	clients   map[string]string // client ID → secret
	newShare  float64           // share of logins by a new citizen (1: all)
	signer    jose.Signer
	discovery []byte
	jwks      []byte

	logins  atomic.Int64 // authorization requests answered
	minted  atomic.Int64 // citizens made so far
	grants  sync.Map     // code → *eidGrant
	refresh sync.Map     // refresh token → citizen number
}

// eidGrant is what the authorization request left for the token request.
type eidGrant struct {
	client, redirect, nonce, challenge string
	citizen                            int64
	authTime                           time.Time
}

// newMinimalEID makes the provider for issuer; clients maps client IDs to secrets.
func newMinimalEID(issuer string, clients map[string]string, newShare float64) (*minimalEID, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	kid := "load-" + strings.ToLower(rand.Text()[:8])
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		return nil, err
	}
	m := &minimalEID{issuer: issuer, clients: clients, newShare: newShare, signer: signer}
	if m.newShare <= 0 || m.newShare > 1 {
		m.newShare = 1
	}
	jwk := jose.JSONWebKey{Key: &key.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}
	if m.jwks, err = json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}}); err != nil {
		return nil, err
	}
	m.discovery, err = json.Marshal(map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                issuer + "/authorize",
		"token_endpoint":                        issuer + "/token",
		"jwks_uri":                              issuer + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"scopes_supported":                      []string{"openid", "profile", "address", "phone"},
	})
	return m, err
}

func (m *minimalEID) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		writeJSON(w, m.discovery)
	case "/jwks":
		writeJSON(w, m.jwks)
	case "/authorize":
		m.authorize(w, r)
	case "/token":
		m.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// authorize answers at once with a code for the login's citizen.
func (m *minimalEID) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if _, known := m.clients[q.Get("client_id")]; !known || err != nil || q.Get("response_type") != "code" {
		http.Error(w, "unknown client, bad redirect_uri or response_type", http.StatusBadRequest)
		return
	}
	if cm := q.Get("code_challenge_method"); cm != "" && cm != "S256" {
		http.Error(w, "code_challenge_method must be S256", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	m.grants.Store(code, &eidGrant{client: q.Get("client_id"), redirect: q.Get("redirect_uri"),
		nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), citizen: m.pick(), authTime: time.Now()})
	back := redirect.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	back.Set("iss", m.issuer)
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// pick returns the number of the citizen who makes the next login: a new one, or with a
// share of returning ones, one made before (spread evenly, as Options.isNew does).
func (m *minimalEID) pick() int64 {
	i := float64(m.logins.Add(1) - 1)
	made := m.minted.Load()
	if made > 0 && math.Floor((i+1)*m.newShare) == math.Floor(i*m.newShare) {
		return int64(i) % made
	}
	return m.minted.Add(1) - 1
}

func (m *minimalEID) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthErr(w, http.StatusBadRequest, "invalid_request")
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	want, known := m.clients[id]
	if !known || subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1 {
		oauthErr(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	var g *eidGrant
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		v, ok := m.grants.LoadAndDelete(r.PostForm.Get("code"))
		if !ok {
			oauthErr(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		g = v.(*eidGrant)
		if g.client != id || g.redirect != r.PostForm.Get("redirect_uri") || !pkceMatches(r.PostForm.Get("code_verifier"), g.challenge) {
			oauthErr(w, http.StatusBadRequest, "invalid_grant")
			return
		}
	case "refresh_token":
		v, ok := m.refresh.LoadAndDelete(r.PostForm.Get("refresh_token"))
		if !ok {
			oauthErr(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		g = &eidGrant{client: id, citizen: v.(int64), authTime: time.Now()}
	default:
		oauthErr(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	m.issue(w, g)
}

// issue writes the token response: an opaque access token, a refresh token and the ID
// token carrying every claim.
func (m *minimalEID) issue(w http.ResponseWriter, g *eidGrant) {
	c := minimalCitizen(g.citizen)
	now := time.Now()
	claims := map[string]any{
		"iss": m.issuer, "sub": c.Subject, "aud": g.client, "azp": g.client,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "auth_time": g.authTime.Unix(),
		"acr": "2", "amr": []string{"pwd", "otp"},
		sim.ClaimCCCD: c.CCCD, sim.ClaimFullName: c.FullName(), sim.ClaimFamilyName: c.FamilyName,
		sim.ClaimMiddleName: c.MiddleName, sim.ClaimGivenName: c.GivenName, sim.ClaimBirthdate: c.Birthdate,
		sim.ClaimSex: c.Sex, sim.ClaimNationality: c.Nationality, sim.ClaimPlaceOfOrigin: c.PlaceOfOrigin,
		sim.ClaimAddress: c.Address, sim.ClaimPhone: c.Phone, sim.ClaimPhoneVerified: true,
	}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		oauthErr(w, http.StatusInternalServerError, "server_error")
		return
	}
	jws, err := m.signer.Sign(payload)
	if err != nil {
		oauthErr(w, http.StatusInternalServerError, "server_error")
		return
	}
	idToken, _ := jws.CompactSerialize()
	rt := rand.Text()
	m.refresh.Store(rt, g.citizen)
	b, _ := json.Marshal(map[string]any{
		"access_token": rand.Text(), "token_type": "Bearer", "expires_in": 300,
		"refresh_token": rt, "id_token": idToken,
	})
	writeJSON(w, b)
}

func oauthErr(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q}`, code)
}

// pkceMatches checks an S256 verifier; a request without a challenge needs no verifier.
func pkceMatches(verifier, challenge string) bool {
	if challenge == "" {
		return true
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// minimalCitizen is citizen number i of the minimal eID: a valid level-2 citizen born in
// Thanh Hóa (province 038) in 1960-1999, whose ID number's digits 4-6 agree with the sex
// and birth year and whose last six digits are i (unique up to a million logins).
func minimalCitizen(i int64) sim.Citizen {
	families := []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ"}
	givens := []string{"An", "Bình", "Cường", "Dũng", "Hà", "Hương", "Khánh", "Linh", "Minh", "Ngọc", "Phúc", "Quân", "Tâm", "Thảo", "Trung", "Yến"}
	year := 1960 + int(i%40)
	sex, d4, middle := sim.SexMale, 0, "Văn"
	if i%2 == 1 {
		sex, d4, middle = sim.SexFemale, 1, "Thị"
	}
	street := "Số " + strconv.FormatInt(1+i%300, 10) + " đường Lê Lợi"
	return sim.Citizen{
		Subject:       fmt.Sprintf("vn-min-%07d", i),
		CCCD:          fmt.Sprintf("038%d%02d%06d", d4, year%100, i%1_000_000),
		FamilyName:    norm.NFC.String(families[i%int64(len(families))]),
		MiddleName:    norm.NFC.String(middle),
		GivenName:     norm.NFC.String(givens[(i/int64(len(families)))%int64(len(givens))]),
		Birthdate:     fmt.Sprintf("%d-%02d-%02d", year, 1+i%12, 1+i%28),
		Sex:           sex,
		Nationality:   norm.NFC.String("Việt Nam"),
		PlaceOfOrigin: norm.NFC.String("Xã Hoằng Hóa, Tỉnh Thanh Hóa"),
		Address: sim.Address{
			Formatted:     norm.NFC.String(street + ", Phường Hạc Thành, Tỉnh Thanh Hóa"),
			StreetAddress: norm.NFC.String(street),
			Locality:      norm.NFC.String("Phường Hạc Thành"),
			Region:        norm.NFC.String("Tỉnh Thanh Hóa"),
			Country:       "VN",
		},
		Phone: fmt.Sprintf("+8491%07d", i%10_000_000),
		Level: 2,
	}
}
