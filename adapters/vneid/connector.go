// Package vneid logs citizens in at the national eID (VNeID-style) for the broker: an
// OpenID Connect relying party with discovery by go-oidc, the code flow with PKCE S256, ID
// token verification (idtoken.go), userinfo, and configurable claim and level mapping: the
// level from acr, amr or a claim of the eID's own (Config.LevelClaim, values through ACRMap),
// each attribute's *_verified flag and the eID's updated_at (identity.go).
//
// Discovery that fails at start does not fail New: the connector retries discovery when
// it is next needed (at most once per retryInterval) and meanwhile Exchange and Ready
// return an error wrapping eid.ErrUnavailable, and AuthCodeURL returns "".
package vneid

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/motlan/motlan/idp/eid"
)

// retryInterval is the least time between two discovery attempts after a failure.
const retryInterval = 2 * time.Second

// Connector is an eid.Connector for a standards OpenID Connect eID. It is safe for
// concurrent use; create one per upstream and reuse it.
type Connector struct {
	cfg       Config
	acrValues map[string]string // Motlan level -> upstream acr value to request
	// metaSource maps verification metadata ("<attribute>_verified", "updated_at") to the
	// upstream claim ClaimMap names for it.
	metaSource map[string]string
	log        *slog.Logger

	up atomic.Pointer[upstream]

	mu      sync.Mutex // serialises discovery; guards lastTry and lastErr
	lastTry time.Time
	lastErr error
}

// upstream is what discovery yields; built once and shared by every login.
type upstream struct {
	oauth         oauth2.Config
	keys          *keySet
	userinfoURL   string
	endSessionURL string
}

// New validates cfg and discovers the eID. When discovery fails it logs the failure and
// returns a Connector that retries later (see the package comment); only an invalid cfg
// is an error. ctx bounds this first discovery only and is not kept.
func New(ctx context.Context, cfg Config) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Connector{cfg: cfg, log: cfg.Logger, acrValues: make(map[string]string, 2), metaSource: map[string]string{}}
	for up, attr := range cfg.ClaimMap {
		if isMeta(attr) {
			c.metaSource[attr] = up
		}
	}
	ups := make([]string, 0, len(cfg.ACRMap))
	for up := range cfg.ACRMap {
		ups = append(ups, up)
	}
	sort.Strings(ups)
	for _, up := range ups {
		level := cfg.ACRMap[up]
		if cur, ok := c.acrValues[level]; !ok || (cur != level && up == level) {
			c.acrValues[level] = up
		}
	}
	if _, err := c.ensure(ctx); err != nil {
		c.log.WarnContext(ctx, "vneid: discovery failed; will retry when needed", "issuer", cfg.Issuer, "err", err)
	}
	return c, nil
}

// Ready discovers the eID if that has not succeeded yet. It returns nil when the connector
// can build authorization URLs, or an error wrapping eid.ErrUnavailable.
func (c *Connector) Ready(ctx context.Context) error {
	_, err := c.ensure(ctx)
	return err
}

// EndSessionURL returns the eID's RP-initiated logout endpoint ("" when it has none or
// discovery has not succeeded yet).
func (c *Connector) EndSessionURL() string {
	if u := c.up.Load(); u != nil {
		return u.endSessionURL
	}
	return ""
}

func (c *Connector) ensure(ctx context.Context) (*upstream, error) {
	if u := c.up.Load(); u != nil {
		return u, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if u := c.up.Load(); u != nil {
		return u, nil
	}
	now := c.cfg.Now()
	if d := now.Sub(c.lastTry); !c.lastTry.IsZero() && d >= 0 && d < retryInterval {
		return nil, c.lastErr
	}
	c.lastTry = now
	u, err := c.discover(ctx)
	if err != nil {
		c.lastErr = err
		return nil, err
	}
	c.up.Store(u)
	c.log.InfoContext(ctx, "vneid: discovered the eID", "issuer", c.cfg.Issuer)
	return u, nil
}

// supportedAlgs are the ID token algorithms accepted, in go-oidc's names.
var supportedAlgs = map[string]bool{
	oidc.RS256: true, oidc.RS384: true, oidc.RS512: true,
	oidc.ES256: true, oidc.ES384: true, oidc.ES512: true,
	oidc.PS256: true, oidc.PS384: true, oidc.PS512: true, oidc.EdDSA: true,
}

func (c *Connector) discover(ctx context.Context) (*upstream, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, c.cfg.HTTPClient), c.cfg.Issuer)
	if err != nil {
		var mismatch *oidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return nil, &Error{Kind: eid.ErrUnavailable, Op: "discovery", Reason: "issuer in the discovery document differs from the configured Issuer", cause: err}
		}
		return nil, &Error{Kind: eid.ErrUnavailable, Op: "discovery", Reason: "discovery failed", cause: err}
	}
	var meta struct {
		JWKSURL     string   `json:"jwks_uri"`
		Algs        []string `json:"id_token_signing_alg_values_supported"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		EndSession  string   `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURL == "" || p.Endpoint().AuthURL == "" || p.Endpoint().TokenURL == "" {
		return nil, &Error{Kind: eid.ErrUnavailable, Op: "discovery", Reason: "discovery document incomplete"}
	}
	var algs []string
	for _, a := range meta.Algs {
		if supportedAlgs[a] {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{oidc.RS256} // OpenID Connect Discovery's mandatory default
	}
	ep := p.Endpoint()
	switch {
	case len(meta.AuthMethods) == 0 || contains(meta.AuthMethods, "client_secret_basic"):
		ep.AuthStyle = oauth2.AuthStyleInHeader
	case contains(meta.AuthMethods, "client_secret_post"):
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	ks := newKeySet(meta.JWKSURL, c.cfg.HTTPClient, c.cfg.Now, algs)
	return &upstream{
		oauth: oauth2.Config{
			ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret,
			Endpoint: ep, RedirectURL: c.cfg.RedirectURL, Scopes: c.cfg.Scopes,
		},
		keys:          ks,
		userinfoURL:   p.UserInfoEndpoint(),
		endSessionURL: meta.EndSession,
	}, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// AuthCodeURL returns the eID authorization URL: code flow, PKCE S256 from verifier,
// state, nonce, acr_values, prompt=login, max_age (when opts.MaxAge >= 0), login_hint and
// ui_locales. When the eID has not been discovered yet it tries once, bounded by Timeout,
// and returns "" if that fails: callers must treat "" as eid.ErrUnavailable (or call
// Ready first).
func (c *Connector) AuthCodeURL(ctx context.Context, state, nonce, verifier string, opts eid.AuthOptions) (string, error) {
	u := c.up.Load()
	if u == nil {
		var err error
		if u, err = c.ensure(ctx); err != nil {
			return "", err
		}
	}
	params := make([]oauth2.AuthCodeOption, 0, 7)
	params = append(params, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	if opts.ACR != "" {
		acr, ok := c.acrValues[opts.ACR]
		if !ok {
			acr = opts.ACR
		}
		params = append(params, oauth2.SetAuthURLParam("acr_values", acr))
	}
	if opts.ForceLogin {
		params = append(params, oauth2.SetAuthURLParam("prompt", "login"))
	}
	if opts.MaxAge >= 0 {
		params = append(params, oauth2.SetAuthURLParam("max_age", strconv.Itoa(opts.MaxAge)))
	}
	if opts.BindingMessage != "" {
		// An eID that does not know it ignores it (RFC 6749 3.1).
		params = append(params, oauth2.SetAuthURLParam("binding_message", opts.BindingMessage))
	}
	if opts.LoginHint != "" {
		params = append(params, oauth2.SetAuthURLParam("login_hint", opts.LoginHint))
	}
	if len(opts.UILocales) > 0 {
		params = append(params, oauth2.SetAuthURLParam("ui_locales", strings.Join(opts.UILocales, " ")))
	}
	return u.oauth.AuthCodeURL(state, params...), nil
}

// CheckCallback checks the query of the eID's redirect to the broker before Exchange: an
// "iss" parameter (RFC 9207) must equal the Issuer, and an "error" parameter becomes an
// error wrapping eid.ErrDenied (access_denied, login_required, interaction_required,
// consent_required, account_selection_required), eid.ErrUnavailable
// (temporarily_unavailable, server_error) or eid.ErrInvalidResponse (anything else). It
// does not check state: that is the broker's.
func (c *Connector) CheckCallback(q url.Values) error {
	if q.Has("iss") && q.Get("iss") != c.cfg.Issuer {
		return &Error{Kind: eid.ErrInvalidResponse, Op: "callback", Reason: "iss differs from the Issuer (mix-up?)"}
	}
	code := q.Get("error")
	if code == "" {
		if q.Get("code") == "" {
			return &Error{Kind: eid.ErrInvalidResponse, Op: "callback", Reason: "neither code nor error"}
		}
		return nil
	}
	kind := eid.ErrInvalidResponse
	switch code {
	case "access_denied", "login_required", "interaction_required", "consent_required", "account_selection_required":
		kind = eid.ErrDenied
	case "temporarily_unavailable", "server_error":
		kind = eid.ErrUnavailable
	}
	return &Error{Kind: kind, Op: "callback", Reason: "the eID returned an error", Code: safeCode(code),
		Why: eid.ClassifyDenial(code, q.Get("error_description"))}
}

// Exchange redeems code with the PKCE verifier, verifies the ID token (signature, issuer,
// audience, expiry, azp, at_hash, then nonce), reads userinfo (its sub must equal the ID
// token's) and maps the claims. Claims present in both keep the signed ID token's value.
// The whole round is bounded by Timeout and by ctx.
func (c *Connector) Exchange(ctx context.Context, code, verifier, nonce string) (eid.Identity, error) {
	start := time.Now()
	id, err := c.exchange(ctx, code, verifier, nonce)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			c.log.WarnContext(ctx, "vneid: login failed", "kind", e.Kind.Error(), "reason", e.Reason, "code", e.Code, "elapsed", time.Since(start))
		}
		return eid.Identity{}, err
	}
	c.log.DebugContext(ctx, "vneid: login verified", "acr", id.ACR, "elapsed", time.Since(start))
	return id, nil
}

func (c *Connector) exchange(ctx context.Context, code, verifier, nonce string) (eid.Identity, error) {
	if nonce == "" {
		return eid.Identity{}, &Error{Kind: eid.ErrInvalidResponse, Op: "exchange", Reason: "empty nonce"}
	}
	u, err := c.ensure(ctx)
	if err != nil {
		return eid.Identity{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	tok, err := c.redeem(ctx, u, code, verifier)
	if err != nil {
		return eid.Identity{}, err
	}
	rawID := tok.IDToken
	if rawID == "" {
		return eid.Identity{}, &Error{Kind: eid.ErrInvalidResponse, Op: "token", Reason: "no id_token in the token response"}
	}

	idClaims, sub, err := c.verifyIDToken(ctx, u, rawID, nonce, tok.AccessToken)
	if err != nil {
		return eid.Identity{}, err
	}

	var uiClaims map[string]json.RawMessage
	if u.userinfoURL != "" && tok.AccessToken != "" {
		if uiClaims, err = c.userinfo(ctx, u, tok.AccessToken); err != nil {
			return eid.Identity{}, err
		}
		if uiSub, ok := jsonString(uiClaims["sub"]); !ok || uiSub != sub {
			return eid.Identity{}, &Error{Kind: eid.ErrInvalidResponse, Op: "userinfo", Reason: "userinfo sub differs from the ID token's"}
		}
	}

	id, err := c.identity(idClaims, uiClaims)
	if err != nil {
		return eid.Identity{}, err
	}
	id.Issuer, id.Subject, id.RawIDToken = c.cfg.Issuer, sub, rawID
	return id, nil
}

const maxUserinfoBytes = 1 << 20

func (c *Connector) userinfo(ctx context.Context, u *upstream, accessToken string) (map[string]json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.userinfoURL, nil)
	if err != nil {
		return nil, &Error{Kind: eid.ErrUnavailable, Op: "userinfo", Reason: "bad userinfo endpoint"}
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json, application/jwt")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, &Error{Kind: eid.ErrUnavailable, Op: "userinfo", Reason: "request failed", cause: err}
	}
	defer resp.Body.Close()
	body, err := readAll(resp.Body, maxUserinfoBytes)
	if err != nil {
		return nil, &Error{Kind: eid.ErrUnavailable, Op: "userinfo", Reason: "reading the response failed", cause: err}
	}
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, &Error{Kind: eid.ErrUnavailable, Op: "userinfo", Reason: "HTTP " + strconv.Itoa(resp.StatusCode)}
	case resp.StatusCode != http.StatusOK:
		return nil, &Error{Kind: eid.ErrInvalidResponse, Op: "userinfo", Reason: "HTTP " + strconv.Itoa(resp.StatusCode)}
	}
	if mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";"); strings.TrimSpace(mt) == "application/jwt" {
		rec := new(fetchRecord)
		body, _, err = u.keys.verify(context.WithValue(ctx, fetchRecordKey{}, rec), string(body))
		if err != nil {
			if rec.err != nil {
				return nil, &Error{Kind: eid.ErrUnavailable, Op: "userinfo", Reason: "fetching the eID's keys failed", cause: rec.err}
			}
			return nil, &Error{Kind: eid.ErrInvalidResponse, Op: "userinfo", Reason: "signed userinfo failed verification"}
		}
	}
	var claims members
	if err := json.Unmarshal(body, &claims); err != nil || claims == nil {
		return nil, &Error{Kind: eid.ErrInvalidResponse, Op: "userinfo", Reason: "not a JSON object"}
	}
	return claims, nil
}

// safeCode keeps an upstream error code only when it has RFC 6749's shape, so that
// nothing an upstream chose to echo ends up in logs.
func safeCode(code string) string {
	if len(code) > 64 {
		return "invalid"
	}
	for i := 0; i < len(code); i++ {
		if ch := code[i]; !(ch >= 'a' && ch <= 'z' || ch == '_') {
			return "invalid"
		}
	}
	return code
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// Error is what the connector returns. Kind is eid.ErrDenied, eid.ErrUnavailable or
// eid.ErrInvalidResponse (test with errors.Is). Its message holds only fixed text and an
// RFC 6749 error code: never tokens, codes or claim values.
type Error struct {
	Kind   error
	Op     string // discovery, callback, token, id_token, userinfo, claims
	Reason string
	Code   string     // upstream RFC 6749 error code, if any
	Why    eid.Denial // from the code and description, when the eID refused the login
	cause  error      // transport or verification error, reachable by errors.Is/As
}

// Denial is why the eID refused the login, as far as its answer says (eid.Denied).
func (e *Error) Denial() eid.Denial { return e.Why }

func (e *Error) Error() string {
	s := "vneid: " + e.Op + ": " + e.Reason
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	return s + ": " + e.Kind.Error()
}

// Unwrap exposes Kind and the underlying cause.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Kind, e.cause}
	}
	return []error{e.Kind}
}

// Interface guard.
var _ eid.Connector = (*Connector)(nil)
