package idp

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/authflow"
	"github.com/motlan/motlan/idp/dpop"
	"github.com/motlan/motlan/idp/eid"
	"github.com/motlan/motlan/idp/internal/clients"
	"github.com/motlan/motlan/idp/internal/seal"
	"github.com/motlan/motlan/idp/resource"
	"github.com/motlan/motlan/idp/session"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/idp/tokens"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/ratelimit"
)

// TokenKeys signs the provider's tokens and verifies its own access tokens. keys.Manager
// implements it.
type TokenKeys interface {
	tokens.Keys
	JWKS() []byte
}

// Config configures a Provider. Zero durations take the documented defaults.
type Config struct {
	Issuer string // e.g. https://id.tinh.gov.vn; no trailing slash, no query
	Store  store.Store
	Keys   TokenKeys
	EID    eid.Connector
	// Secret (at least 32 bytes) derives the pairwise-subject salt, the key that seals the
	// citizen reference inside access tokens, and the sid key. Keep it stable across replicas.
	Secret []byte
	Now    func() time.Time
	Logger *slog.Logger
	// Brand is the deployment's name on the login, consent and error pages (branding.name);
	// "": Motlan. Motlan then stays in the small print.
	Brand string

	SessionTTL        time.Duration // SSO session; default 8h
	AuthRequestTTL    time.Duration // login transaction; default 10m
	CodeTTL           time.Duration // authorization code; default 60s
	AccessTokenTTL    time.Duration // default 10m
	IDTokenTTL        time.Duration // default 10m
	RefreshTTL        time.Duration // refresh token without offline_access, capped by the session; default 8h
	OfflineRefreshTTL time.Duration // with offline_access; default 720h
	// RefreshReuseGrace is how long after a refresh token's rotation the same client may
	// present it again, as a retry after a lost response, without the family being revoked
	// (RFC 9700 4.14.2), for clients without their own RefreshReuseGraceClients entry;
	// default 0 (none), as Hydra and Keycloak. It applies only to confidential clients and
	// to DPoP-bound refresh tokens: a public client's bearer token never gets it, since a
	// thief holding it could use the window. Such a retry gets a fresh token
	// set and a new refresh token that replaces the one the lost response carried: that one
	// is revoked, so the family keeps a single live token, and presenting it later revokes
	// the family. The window runs from the first rotation; retries do not extend it. After
	// the window, or once the successor has itself been used, reuse revokes the family.
	RefreshReuseGrace time.Duration
	// RefreshReuseGraceClients is each client's own reuse grace, by client ID.
	RefreshReuseGraceClients map[string]time.Duration
	// LoopbackRedirectClients may use any loopback http redirect URI (any port, any
	// path) besides their registered ones; by client ID. Only `motlan dev` fills it.
	LoopbackRedirectClients map[string]bool

	// BackchannelClient posts back-channel logout tokens; default: a 5 s timeout and no
	// redirects followed.
	BackchannelClient *http.Client
	// BackchannelBackoff is the wait before the first retry of a failed back-channel
	// logout post, doubling for the next; default 1s. Three attempts at most.
	BackchannelBackoff time.Duration

	// RateLimits limits logins (per IP, client and citizen) and token requests (per IP
	// and client); nil: no limits.
	RateLimits *ratelimit.Limiter
	// Audit records logins, consents and claim releases; nil: none.
	Audit *audit.Logger
	// OnLogin is told each eID login's outcome (authflow.Login*) and level; nil: nobody.
	OnLogin func(outcome, level string)
	// DPoPBoundDefault makes DPoP proofs (RFC 9449) mandatory at the token endpoint for
	// every client without its own setting in DPoPBoundClients; default false.
	DPoPBoundDefault bool
	// DPoPBoundClients is each client's own dpop_bound_access_tokens setting, by client ID.
	DPoPBoundClients map[string]bool
	// DPoPNonce requires DPoP proofs to carry a nonce the provider handed out in a
	// DPoP-Nonce header (RFC 9449 8, 9); default false.
	DPoPNonce bool
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.SessionTTL, 8*time.Hour)
	def(&c.AuthRequestTTL, 10*time.Minute)
	def(&c.CodeTTL, 60*time.Second)
	def(&c.AccessTokenTTL, 10*time.Minute)
	def(&c.IDTokenTTL, 10*time.Minute)
	def(&c.RefreshTTL, 8*time.Hour)
	def(&c.OfflineRefreshTTL, 720*time.Hour)
	def(&c.BackchannelBackoff, time.Second)
	if c.BackchannelClient == nil {
		c.BackchannelClient = session.DefaultBackchannelClient()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports what is missing or wrong.
func (c *Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.Issuer)
	switch {
	case c.Issuer == "" || err != nil:
		errs = append(errs, errors.New("issuer: must be an absolute URL"))
	case u.Scheme != "https" && !isLoopback(u.Hostname()):
		errs = append(errs, errors.New("issuer: must use https (http only for localhost)"))
	case strings.ContainsAny(c.Issuer, "?#") || strings.HasSuffix(c.Issuer, "/"):
		errs = append(errs, errors.New("issuer: no query, fragment or trailing slash"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("store: required"))
	}
	if c.Keys == nil {
		errs = append(errs, errors.New("keys: required"))
	}
	if c.EID == nil {
		errs = append(errs, errors.New("eid: required"))
	}
	if len(c.Secret) < 32 {
		errs = append(errs, errors.New("secret: at least 32 bytes"))
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// Paths of the provider's endpoints, relative to the issuer.
const (
	PathDiscovery  = "/.well-known/openid-configuration"
	PathJWKS       = "/jwks"
	PathAuthorize  = authflow.PathAuthorize
	PathToken      = "/token"
	PathUserInfo   = resource.PathUserInfo
	PathCallback   = authflow.PathCallback
	PathConsent    = authflow.PathConsent
	PathRevoke     = "/revoke"
	PathIntrospect = "/introspect"
	PathPAR        = authflow.PathPAR
	PathStepUp     = authflow.PathStepUp
	PathLogout     = session.PathLogout
	PathLogoutDone = session.PathLogoutDone
)

// Provider serves the OpenID Connect endpoints. It wires the per-concern packages and
// mounts their routes; it decides nothing itself.
type Provider struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	clients  *clients.Registry
	tokens   *tokens.Tokens
	dpop     *dpop.Checker
	sessions *session.Manager
	flow     *authflow.Flow
	resource *resource.Server
}

// New builds a Provider.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("idp config: %w", err)
	}
	k, err := deriveKeys(cfg.Secret)
	if err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, log: cfg.Logger}
	if p.clients, err = clients.New(ctx, clients.Config{Store: cfg.Store, Now: cfg.Now, Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	box, err := seal.New(k.seal, cfg.Now)
	if err != nil {
		return nil, err
	}
	p.tokens = tokens.New(tokens.Config{
		Issuer: cfg.Issuer, Keys: cfg.Keys, Store: cfg.Store, Seal: box, Pairwise: k.pairwise, SidKey: k.sid,
		AccessTokenTTL: cfg.AccessTokenTTL, IDTokenTTL: cfg.IDTokenTTL, Now: cfg.Now, Audit: cfg.Audit, Logger: cfg.Logger,
	})
	p.dpop, err = dpop.NewChecker(dpop.CheckerConfig{
		Secret: cfg.Secret, Nonce: cfg.DPoPNonce, BoundDefault: cfg.DPoPBoundDefault, BoundClients: cfg.DPoPBoundClients,
		Replay: cfg.Store, Now: cfg.Now, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	if err := p.mount(box, k.sid); err != nil {
		return nil, err
	}
	return p, nil
}

// secrets are the keys derived from Config.Secret, one per use.
type secrets struct{ pairwise, seal, sid []byte }

func deriveKeys(secret []byte) (secrets, error) {
	var k secrets
	var err error
	if k.pairwise, err = derive(secret, "motlan pairwise subject"); err != nil {
		return k, err
	}
	if k.seal, err = derive(secret, "motlan access token citizen seal"); err != nil {
		return k, err
	}
	k.sid, err = derive(secret, "motlan sid")
	return k, err
}

func derive(secret []byte, info string) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, info, 32)
}

// ServeHTTP serves every endpoint with the security headers all responses carry.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			p.log.ErrorContext(r.Context(), "panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(v))
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	p.mux.ServeHTTP(w, r)
}

// URL returns the absolute URL of an endpoint path.
func (p *Provider) URL(path string) string { return p.cfg.Issuer + path }

// CallbackURL is the redirect URI to register at the eID.
func CallbackURL(issuer string) string { return strings.TrimSuffix(issuer, "/") + PathCallback }

// LogoutDoneURL is the post-logout redirect URI to register at the eID.
func LogoutDoneURL(issuer string) string { return session.LogoutDoneURL(issuer) }
