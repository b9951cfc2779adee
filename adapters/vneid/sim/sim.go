// Package sim is a development national eID: a real OpenID Connect provider with test
// citizens, built to behave like the VNeID login the broker federates to.
//
// It serves discovery, JWKS (an ES256 key generated in memory at start), the authorization
// code flow with mandatory PKCE S256, a two-step login (12-digit ID number and password,
// then a one-time code that the page itself shows, because this is a development tool),
// account levels as "acr" ("1" or "2"; or, per Config, in a claim of its own, as URIs, or
// not at all), its own SSO session cookie (prompt=login,
// prompt=none and max_age honoured), userinfo and RP-initiated logout.
//
// State (pending logins, codes, sessions) is in memory, guarded by a mutex, expired on a
// schedule and capped in size. Access tokens are signed JWTs and need no state.
//
// Claims (names modelled on the eID's vocabulary; constants Claim*): so_dinh_danh,
// ho_va_ten, ho, chu_dem, ten, ngay_sinh (YYYY-MM-DD), gioi_tinh ("Nam"/"Nữ"), quoc_tich,
// que_quan, noi_thuong_tru (an Address object: formatted, street_address, locality,
// region, country), so_dien_thoai (E.164) with so_dien_thoai_verified (per citizen; left
// out with Config.OmitVerified), updated_at. Scope "profile" releases all of them (the
// whole e-ID card), "address" and "phone" release noi_thuong_tru and so_dien_thoai alone.
// The ID token carries the same identity claims as userinfo, plus acr ("1" or "2": the
// account's level), amr (["pwd","otp"]), auth_time, sid, at_hash and nonce. "sub" is a
// stable opaque id per citizen, never the ID number.
//
// Every default citizen's password is DevPassword; the login page lists them.
//
// Never run it where real citizens can reach it: anyone can log in as any test citizen.
package sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/text/unicode/norm"

	"github.com/motlan/motlan/adapters/vneid/cccd"
)

// Lifetimes.
const (
	codeTTL        = 60 * time.Second
	pendingTTL     = 15 * time.Minute
	sessionTTL     = 8 * time.Hour
	tokenTTL       = 10 * time.Minute
	maxFailures    = 5
	maxPending     = 20000
	maxCodes       = 20000
	maxSessions    = 100000
	sweepInterval  = 30 * time.Second
	maxFormBytes   = 16 << 10
	sessionCookie  = "sim_session"
	browserCookie  = "sim_csrf"
	accessTokenTyp = "at+jwt"
)

// Client is a relying party registered at the sim (in Motlan's case, the broker).
type Client struct {
	ID, Secret string
	// Name is what the login page shows as the service asking the citizen to log in;
	// empty: ID.
	Name         string
	RedirectURIs []string // exact match
	// PostLogoutRedirectURIs are the allowed post_logout_redirect_uri values (exact match).
	PostLogoutRedirectURIs []string
}

// Config configures a Provider.
type Config struct {
	// Issuer is the sim's absolute URL (http allowed: dev tool). Its path, if any, prefixes
	// every endpoint: the handler expects requests at that path.
	Issuer   string
	Clients  []Client
	Citizens []Citizen // nil: DefaultCitizens()
	Now      func() time.Time
	Logger   *slog.Logger
	// LevelIn is where the sim states a citizen's account level, so that the broker can be
	// tried against eIDs that differ: LevelInACR (default: the ID token's acr),
	// LevelInClaim (the claim LevelClaim in the ID token and userinfo, and no acr) or
	// LevelInNone (nowhere).
	LevelIn string
	// LevelClaim names the level claim for LevelInClaim; default "eid_level".
	LevelClaim string
	// ACRValues are how levels 1 and 2 are written (in acr or the level claim) and
	// recognised in acr_values; default "1" and "2". URIs are fine.
	ACRValues [2]string
	// OmitVerified leaves out so_dien_thoai_verified, as an eID without *_verified claims.
	OmitVerified bool
	// AskConsent adds a last step where the citizen agrees (or refuses) to share their
	// data with the service, as the eID app does; refusing ends in access_denied.
	AskConsent bool
}

// Where the sim states the account level (Config.LevelIn).
const (
	LevelInACR   = "acr"
	LevelInClaim = "claim"
	LevelInNone  = "none"
)

// Provider is the dev eID. It is an http.Handler, safe for concurrent use.
type Provider struct {
	issuer   string
	base     string // issuer path without trailing slash
	secure   bool   // Secure cookies (https issuer)
	clients  map[string]*Client
	citizens []Citizen
	byCCCD   map[string]int
	bySub    map[string]int

	levelIn    string
	levelClaim string
	acrValues  [2]string
	noVerified bool
	consent    bool

	key       *ecdsa.PrivateKey
	idSigner  jose.Signer
	atSigner  jose.Signer
	jwks      []byte
	discovery []byte

	now  func() time.Time
	log  *slog.Logger
	tmpl *template.Template
	mux  *http.ServeMux
	st   store
}

// New validates cfg, generates the signing key and returns the provider.
func New(cfg Config) (*Provider, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("sim: Issuer must be an absolute http(s) URL without query or fragment")
	}
	if len(cfg.Clients) == 0 {
		return nil, errors.New("sim: at least one client is required")
	}
	p := &Provider{
		issuer:  strings.TrimSuffix(cfg.Issuer, "/"),
		base:    strings.TrimSuffix(u.Path, "/"),
		secure:  u.Scheme == "https",
		clients: make(map[string]*Client, len(cfg.Clients)),
		now:     cfg.Now,
		log:     cfg.Logger,
	}
	if p.now == nil {
		p.now = time.Now
	}
	if err := p.levelConfig(cfg); err != nil {
		return nil, err
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	for i := range cfg.Clients {
		c := cfg.Clients[i]
		if c.ID == "" || c.Secret == "" || len(c.RedirectURIs) == 0 {
			return nil, fmt.Errorf("sim: client %d needs ID, Secret and RedirectURIs", i)
		}
		for _, ru := range append(append([]string(nil), c.RedirectURIs...), c.PostLogoutRedirectURIs...) {
			if v, err := url.Parse(ru); err != nil || !v.IsAbs() || v.Fragment != "" {
				return nil, fmt.Errorf("sim: client %q: redirect URI must be absolute without fragment", c.ID)
			}
		}
		if c.Name == "" {
			c.Name = c.ID
		}
		if _, dup := p.clients[c.ID]; dup {
			return nil, fmt.Errorf("sim: duplicate client %q", c.ID)
		}
		p.clients[c.ID] = &c
	}
	if cfg.Citizens == nil {
		cfg.Citizens = DefaultCitizens()
	}
	p.citizens = append([]Citizen(nil), cfg.Citizens...)
	p.byCCCD = make(map[string]int, len(p.citizens))
	p.bySub = make(map[string]int, len(p.citizens))
	for i := range p.citizens {
		c := &p.citizens[i]
		if err := validateCitizen(c); err != nil {
			return nil, fmt.Errorf("sim: citizen %d: %w", i, err)
		}
		if _, dup := p.byCCCD[c.CCCD]; dup {
			return nil, fmt.Errorf("sim: citizen %d: duplicate ID number", i)
		}
		p.byCCCD[c.CCCD] = i
		if _, dup := p.bySub[c.subject()]; dup {
			return nil, fmt.Errorf("sim: citizen %d: duplicate subject", i)
		}
		p.bySub[c.subject()] = i
	}

	p.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sim: generate key: %w", err)
	}
	kid := randomToken(12)
	sk := jose.SigningKey{Algorithm: jose.ES256, Key: p.key}
	if p.idSigner, err = jose.NewSigner(sk, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid)); err != nil {
		return nil, err
	}
	if p.atSigner, err = jose.NewSigner(sk, (&jose.SignerOptions{}).WithType(accessTokenTyp).WithHeader("kid", kid)); err != nil {
		return nil, err
	}
	p.jwks, err = json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &p.key.PublicKey, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig",
	}}})
	if err != nil {
		return nil, err
	}
	p.discovery, err = json.Marshal(p.discoveryDoc())
	if err != nil {
		return nil, err
	}
	p.tmpl = template.Must(template.New("").Parse(pageTemplates))
	p.st.init()
	p.routes()
	return p, nil
}

func validateCitizen(c *Citizen) error {
	if err := cccd.Validate(c.CCCD, c.Birthdate, c.Sex); err != nil {
		return err
	}
	if c.Level != 1 && c.Level != 2 {
		return errors.New("Level must be 1 or 2")
	}
	for _, s := range []string{c.FamilyName, c.MiddleName, c.GivenName, c.Nationality,
		c.PlaceOfOrigin, c.Address.Formatted, c.Address.StreetAddress, c.Address.Locality,
		c.Address.Region, c.Phone, c.Subject} {
		if !utf8.ValidString(s) || !norm.NFC.IsNormalString(s) {
			return errors.New("strings must be valid UTF-8 in NFC")
		}
	}
	if c.FamilyName == "" || c.GivenName == "" {
		return errors.New("FamilyName and GivenName are required")
	}
	return nil
}

// Issuer returns the issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// Citizens returns a copy of the sim's citizens.
func (p *Provider) Citizens() []Citizen { return append([]Citizen(nil), p.citizens...) }

// Subject returns the "sub" the sim issues for the citizen with this ID number.
func (p *Provider) Subject(cccdNumber string) (string, bool) {
	i, ok := p.byCCCD[cccdNumber]
	if !ok {
		return "", false
	}
	return p.citizens[i].subject(), true
}

func (p *Provider) routes() {
	m := http.NewServeMux()
	b := p.base
	m.HandleFunc("GET "+b+"/.well-known/openid-configuration", p.handleDiscovery)
	m.HandleFunc("GET "+b+"/jwks", p.handleJWKS)
	m.HandleFunc("GET "+b+"/authorize", p.handleAuthorize)
	m.HandleFunc("GET "+b+"/login", p.handleLoginPage)
	m.HandleFunc("POST "+b+"/login", p.handleLoginPost)
	m.HandleFunc("POST "+b+"/token", p.handleToken)
	m.HandleFunc("GET "+b+"/userinfo", p.handleUserinfo)
	m.HandleFunc("POST "+b+"/userinfo", p.handleUserinfo)
	m.HandleFunc("GET "+b+"/end_session", p.handleEndSession)
	m.HandleFunc("POST "+b+"/end_session", p.handleEndSession)
	m.HandleFunc("GET "+b+"/static/sim.css", p.handleCSS)
	// Browsers ask for /favicon.ico on every page; answer "no icon" instead of a 404.
	m.HandleFunc("GET /favicon.ico", handleFavicon)
	if b != "" {
		m.HandleFunc("GET "+b+"/favicon.ico", handleFavicon)
	}
	p.mux = m
}

// ServeHTTP serves the sim's endpoints under the issuer's path.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	p.mux.ServeHTTP(w, r)
}

func (p *Provider) discoveryDoc() map[string]any {
	return map[string]any{
		"issuer":                                p.issuer,
		"authorization_endpoint":                p.issuer + "/authorize",
		"token_endpoint":                        p.issuer + "/token",
		"userinfo_endpoint":                     p.issuer + "/userinfo",
		"jwks_uri":                              p.issuer + "/jwks",
		"end_session_endpoint":                  p.issuer + "/end_session",
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"grant_types_supported":                 []string{"authorization_code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      []string{"openid", "profile", "address", "phone"},
		"acr_values_supported":                  p.acrValues[:],
		"prompt_values_supported":               []string{"none", "login"},
		"ui_locales_supported":                  []string{"vi", "en"},
		"claims_supported": []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce",
			"acr", "amr", "sid", ClaimCCCD, ClaimFullName, ClaimFamilyName, ClaimMiddleName,
			ClaimGivenName, ClaimBirthdate, ClaimSex, ClaimNationality, ClaimPlaceOfOrigin,
			ClaimAddress, ClaimPhone, ClaimPhoneVerified, "updated_at"},
		"authorization_response_iss_parameter_supported": true,
		"claims_parameter_supported":                     false,
		"request_parameter_supported":                    false,
	}
}

func (p *Provider) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(p.discovery)
}

func (p *Provider) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(p.jwks)
}

func (p *Provider) handleCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write([]byte(pageCSS))
}

func handleFavicon(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.WriteHeader(http.StatusNoContent)
}
