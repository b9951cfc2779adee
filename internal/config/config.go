// Package config reads Motlan's YAML configuration into typed structs. Unknown keys are an
// error, Validate names every problem at once, and secrets come from named environment
// variables or files, never from the YAML itself.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole file. README.md documents every key.
type Config struct {
	Issuer  string   `yaml:"issuer"`
	Listen  string   `yaml:"listen"`
	Log     Log      `yaml:"log"`
	Storage Storage  `yaml:"storage"`
	Secrets Secrets  `yaml:"secrets"`
	EID     EID      `yaml:"eid"`
	DevEID  *DevEID  `yaml:"dev_eid"`
	Clients []Client `yaml:"clients"`
	Tokens  Tokens   `yaml:"tokens"`
	Debug   Debug    `yaml:"debug"`
	Signing Signing  `yaml:"signing"`
	// RateLimits: see ratelimits.go.
	RateLimits RateLimits `yaml:"rate_limits"`
	Admin      Admin      `yaml:"admin"` // see admin.go
	// Retention: see retention.go.
	Retention Retention `yaml:"retention"`
	// ReplicaID names this replica among those sharing the store: see replica.go.
	ReplicaID string `yaml:"replica_id"`
	// ShutdownTimeout bounds the drain on SIGTERM (open requests answered, signing runs
	// finished or handed back); 0: DefaultShutdownTimeout.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// Tracing and TrustedProxies: see observe.go.
	Tracing Tracing `yaml:"tracing"`
	// TrustedProxies are the reverse proxies (addresses or CIDR prefixes) whose
	// X-Request-Id, traceparent and X-Forwarded-For are believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Branding and Render: see branding.go.
	Branding Branding `yaml:"branding"`
	Render   Render   `yaml:"render"`
}

// DefaultShutdownTimeout is shutdown_timeout's default: within Kubernetes' default
// 30 s grace period, with time left to close the store.
const DefaultShutdownTimeout = 25 * time.Second

// Signing configures remote signing. The dev CA issues citizens' certificates.
type Signing struct {
	// TSAURL is an external RFC 3161 time-stamp authority; empty: the built-in dev TSA.
	TSAURL     string   `yaml:"tsa_url"`
	TSATimeout Duration `yaml:"tsa_timeout"` // default 10s
	// FontFile is a TrueType font with Vietnamese glyphs for visible signatures; default
	// Debian's DejaVu Sans, else signatures are invisible.
	FontFile   string   `yaml:"font_file"`
	RequestTTL Duration `yaml:"request_ttl"` // how long a request waits for approval; default 15m
	// KeyAlg is the algorithm of citizens' new keys: ECDSA-P256 (default), RSA-2048, RSA-3072.
	KeyAlg string `yaml:"key_alg"`
	// MaxDocumentMB bounds each uploaded PDF (default 50); MaxDocuments bounds a request
	// (default 10).
	MaxDocumentMB int `yaml:"max_document_mb"`
	MaxDocuments  int `yaml:"max_documents"`
	// Vault is where citizens' signing keys live.
	Vault Vault `yaml:"vault"`
	// LTVFetchTimeout bounds each OCSP, CRL or CA certificate download for B-LT and B-LTA
	// (default 10s).
	LTVFetchTimeout Duration `yaml:"ltv_fetch_timeout"`
	// LTVAllowPrivateNetworks lets B-LT and B-LTA fetch OCSP responses and CRLs from
	// loopback and private addresses (a CA whose responder is internal). Off: the URLs come
	// from certificates in uploaded PDFs, and must not reach into Motlan's network.
	LTVAllowPrivateNetworks bool `yaml:"ltv_allow_private_networks"`
	// Provider makes citizens' signatures: "local" (default: the vault and the dev CA) or
	// "csc" (a licensed CA's remote signing service, configured in CSC).
	Provider string `yaml:"provider"`
	CSC      *CSC   `yaml:"csc"`
	// Parallel bounds the documents a replica signs at once (default 4).
	Parallel int `yaml:"parallel"`
	// CertificateAddress puts the citizen's province (ST) and locality (L) into the
	// certificates the dev CA issues; off: name and CCCD only.
	CertificateAddress bool `yaml:"certificate_address"`
}

// Vault selects the citizen key vault: "software" (default: keys sealed with the master
// key in the store) or "pkcs11" (keys generated inside an HSM token, never extractable).
type Vault struct {
	Type       string `yaml:"type"`
	Module     string `yaml:"module"`      // pkcs11: the PKCS#11 library path
	TokenLabel string `yaml:"token_label"` // pkcs11: the token, by label ...
	Slot       *int   `yaml:"slot"`        // ... or by slot number
	PIN        Secret `yaml:"pin"`         // pkcs11: the user PIN (env or file)
}

// Debug holds diagnostics that are off by default.
type Debug struct {
	// PprofListen serves net/http/pprof on this loopback address, for profiling.
	PprofListen string `yaml:"pprof_listen"`
}

// Log configures application logs.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error; default info
	Format string `yaml:"format"` // text | json; default json
}

// Storage picks the store.
type Storage struct {
	Driver string `yaml:"driver"` // sqlite | postgres
	DSN    Secret `yaml:"dsn"`    // a file path for sqlite; a URL for postgres
}

// Secrets holds the master key that seals keys at rest and derives the provider's secrets.
type Secrets struct {
	MasterKey Secret `yaml:"master_key"` // 32 bytes, base64
}

// EID is the upstream national eID.
type EID struct {
	Issuer       string            `yaml:"issuer"`
	ClientID     string            `yaml:"client_id"`
	ClientSecret Secret            `yaml:"client_secret"`
	Scopes       []string          `yaml:"scopes"`
	ClaimMap     map[string]string `yaml:"claim_map"`
	// LevelClaim names the claim that states the eID level: acr (default), amr, or a claim
	// of the eID's own such as eid_level; its values go through ACRMap.
	LevelClaim string            `yaml:"level_claim"`
	ACRMap     map[string]string `yaml:"acr_map"`
	Timeout    Duration          `yaml:"timeout"`
	// InsecureAllowHTTP permits an http issuer off loopback (containers in development).
	InsecureAllowHTTP bool `yaml:"insecure_allow_http"`
}

// DevEID runs the development eID in the same process. Never set it in production.
type DevEID struct {
	Listen string `yaml:"listen"`
	Issuer string `yaml:"issuer"`
}

// Client is a relying party.
type Client struct {
	ID                     string   `yaml:"id"`
	Name                   string   `yaml:"name"`
	Secret                 Secret   `yaml:"secret"`
	RedirectURIs           []string `yaml:"redirect_uris"`
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	Scopes                 []string `yaml:"scopes"`
	AuthMethod             string   `yaml:"auth_method"`  // default client_secret_basic
	SubjectType            string   `yaml:"subject_type"` // default pairwise
	IDTokenAlg             string   `yaml:"id_token_alg"` // default ES256
	FirstParty             bool     `yaml:"first_party"`
	RequirePAR             bool     `yaml:"require_par"` // authorization requests only via PAR (RFC 9126)
	JWKS                   string   `yaml:"jwks"`        // JSON Web Key Set for private_key_jwt
	// BackchannelLogoutURI receives OpenID Connect Back-Channel Logout 1.0 logout tokens
	// when a session the client took part in ends; https, or http on localhost.
	BackchannelLogoutURI string `yaml:"backchannel_logout_uri"`
	// BackchannelLogoutSessionRequired: the client needs sid in logout tokens. Motlan
	// always sends it; the setting is recorded for the client's registration.
	BackchannelLogoutSessionRequired bool `yaml:"backchannel_logout_session_required"`
	// DPoPBoundAccessTokens makes DPoP proofs (RFC 9449) mandatory at the token endpoint
	// for this client; absent takes tokens.dpop_bound_access_tokens.
	DPoPBoundAccessTokens *bool `yaml:"dpop_bound_access_tokens"`
	// RefreshReuseGrace overrides tokens.refresh_reuse_grace for this client. It applies
	// only to confidential clients and to DPoP-bound refresh tokens (RFC 9700 4.14.2): a
	// public client may set it only with DPoP-bound tokens.
	RefreshReuseGrace *Duration `yaml:"refresh_reuse_grace"`
	// DevLoopbackRedirects lets the client use any http://localhost, 127.0.0.1 or [::1]
	// redirect URI, on any port and path (RFC 8252 7.3 for a developer's machine). No
	// YAML key sets it: only `motlan dev` does, for its developer client; everywhere else
	// redirect URIs match exactly.
	DevLoopbackRedirects bool `yaml:"-"`
}

// Tokens sets lifetimes; zero keeps the provider's defaults.
type Tokens struct {
	Session        Duration `yaml:"session"`
	AccessToken    Duration `yaml:"access_token"`
	IDToken        Duration `yaml:"id_token"`
	Refresh        Duration `yaml:"refresh"`
	OfflineRefresh Duration `yaml:"offline_refresh"`
	Code           Duration `yaml:"code"`
	// RefreshReuseGrace is how long a rotated refresh token may be retried after a lost
	// response, for clients without their own setting; absent or "0s": no window. It
	// never applies to a public client's bearer refresh token.
	RefreshReuseGrace *Duration `yaml:"refresh_reuse_grace"`
	// KeyRotation schedules the rotation of token-signing keys.
	KeyRotation KeyRotation `yaml:"key_rotation"`
	// DPoPBoundAccessTokens is the default of clients[].dpop_bound_access_tokens.
	DPoPBoundAccessTokens bool `yaml:"dpop_bound_access_tokens"`
	// DPoPNonce requires server-provided nonces in DPoP proofs (RFC 9449 8, 9).
	DPoPNonce bool `yaml:"dpop_nonce"`
}

// Token-key rotation defaults: a new key every 30 days, published a day before it signs.
const (
	DefaultKeyRotationEvery = 720 * time.Hour
	DefaultKeyPublishAhead  = 24 * time.Hour
)

// KeyRotation is tokens.key_rotation. Absent fields take the defaults; every: 0s disables
// scheduled rotation.
type KeyRotation struct {
	Every        *Duration `yaml:"every"`         // default 720h
	PublishAhead *Duration `yaml:"publish_ahead"` // default 24h, at most half of every
}

// Values returns the effective period and publication lead; every is zero when rotation
// is disabled.
func (k KeyRotation) Values() (every, publishAhead time.Duration) {
	every = DefaultKeyRotationEvery
	if k.Every != nil {
		every = time.Duration(*k.Every)
	}
	if every == 0 {
		return 0, 0
	}
	publishAhead = min(DefaultKeyPublishAhead, every/2)
	if k.PublishAhead != nil {
		publishAhead = time.Duration(*k.PublishAhead)
	}
	return every, publishAhead
}

func (k KeyRotation) validate() []error {
	every, ahead := k.Values()
	var errs []error
	if every == 0 {
		return nil
	}
	if every < time.Hour || every%time.Second != 0 {
		errs = append(errs, fmt.Errorf("tokens.key_rotation.every: %v is below 1h or not whole seconds (0s disables rotation)", every))
	}
	// Replicas re-read keys every minute: a key published less than 5 minutes ahead might
	// sign on one replica before another has loaded it.
	if ahead < 5*time.Minute || ahead >= every {
		errs = append(errs, fmt.Errorf("tokens.key_rotation.publish_ahead: %v must be at least 5m and below every (%v)", ahead, every))
	}
	return errs
}

// Secret is a value taken from exactly one of an environment variable, a file, or (for
// development only) the YAML itself.
type Secret struct {
	Env   string `yaml:"env"`
	File  string `yaml:"file"`
	Value string `yaml:"value"`
}

// Resolve returns the secret's value; a missing env var or file is an error.
func (s Secret) Resolve() (string, error) {
	switch {
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", s.Env)
		}
		return v, nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("read secret file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return s.Value, nil
}

func (s Secret) set() bool { return s.Env != "" || s.File != "" || s.Value != "" }

func (s Secret) validate(name string) error {
	n := 0
	for _, v := range []string{s.Env, s.File, s.Value} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("%s: set only one of env, file, value", name)
	}
	return nil
}

// Duration is a time.Duration written as "90s", "15m", "8h".
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration like 90s, 15m or 8h", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Load reads and validates a file.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(b)
}

// Parse decodes YAML, rejecting unknown keys, and validates.
func Parse(b []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ApplyDefaults fills what the file may leave out; Parse calls it before Validate.
func (c *Config) ApplyDefaults() {
	if c.Listen == "" {
		c.Listen = ":8080"
	}
	if c.Storage.Driver == "" {
		c.Storage.Driver = "sqlite"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	c.RateLimits.applyDefaults()
	c.Retention.applyDefaults()
	for i := range c.Clients {
		cl := &c.Clients[i]
		if cl.AuthMethod == "" {
			cl.AuthMethod = "client_secret_basic"
		}
		if cl.SubjectType == "" {
			cl.SubjectType = "pairwise"
		}
		if cl.IDTokenAlg == "" {
			cl.IDTokenAlg = "ES256"
		}
		if cl.Name == "" {
			cl.Name = cl.ID
		}
	}
}

// Validate reports every problem, one per line.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if u, err := url.Parse(c.Issuer); c.Issuer == "" || err != nil || u.Host == "" {
		add("issuer: required, an absolute URL such as https://id.tinh.gov.vn")
	} else if u.Scheme != "https" && !loopback(u.Hostname()) {
		add("issuer: must be https (http only on localhost)")
	} else if strings.HasSuffix(c.Issuer, "/") || strings.ContainsAny(c.Issuer, "?#") {
		add("issuer: no trailing slash, query or fragment")
	}
	switch c.Storage.Driver {
	case "sqlite", "postgres":
	default:
		add("storage.driver: %q is not sqlite or postgres", c.Storage.Driver)
	}
	if !c.Storage.DSN.set() {
		add("storage.dsn: required")
	}
	for name, s := range map[string]Secret{"storage.dsn": c.Storage.DSN, "secrets.master_key": c.Secrets.MasterKey, "eid.client_secret": c.EID.ClientSecret} {
		if err := s.validate(name); err != nil {
			errs = append(errs, err)
		}
	}
	if mk := c.Secrets.MasterKey; mk.Env == "" && mk.File == "" {
		add("secrets.master_key: env or file required (32 random bytes, base64); never inline")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format: %q is not text or json", c.Log.Format)
	}
	errs = append(errs, c.EID.validate()...)
	switch c.Signing.KeyAlg {
	case "", "ECDSA-P256", "RSA-2048", "RSA-3072":
	default:
		add("signing.key_alg: %q is not ECDSA-P256, RSA-2048 or RSA-3072", c.Signing.KeyAlg)
	}
	switch v := c.Signing.Vault; v.Type {
	case "", "software":
	case "pkcs11":
		if !strings.HasPrefix(v.Module, "/") {
			add("signing.vault.module: the absolute path of the PKCS#11 library is required")
		}
		if (v.TokenLabel == "") == (v.Slot == nil) {
			add("signing.vault: set exactly one of token_label and slot")
		}
		if !v.PIN.set() {
			add("signing.vault.pin: required (env or file)")
		}
		if err := v.PIN.validate("signing.vault.pin"); err != nil {
			errs = append(errs, err)
		}
	default:
		add("signing.vault.type: %q is not software or pkcs11", v.Type)
	}
	if c.Signing.MaxDocumentMB < 0 || c.Signing.MaxDocumentMB > 200 {
		add("signing.max_document_mb: %d is not between 1 and 200", c.Signing.MaxDocumentMB)
	}
	if c.Signing.MaxDocuments < 0 || c.Signing.MaxDocuments > 50 {
		add("signing.max_documents: %d is not between 1 and 50", c.Signing.MaxDocuments)
	}
	if d := time.Duration(c.Signing.LTVFetchTimeout); d < 0 || d > 5*time.Minute {
		add("signing.ltv_fetch_timeout: %v is not between 0 and 5m", d)
	}
	if d := time.Duration(c.ShutdownTimeout); d > 10*time.Minute {
		add("shutdown_timeout: %v is longer than 10m", d)
	}
	if a := c.Debug.PprofListen; a != "" {
		if host, _, err := net.SplitHostPort(a); err != nil || !loopback(host) {
			add("debug.pprof_listen: %q must be a loopback address such as 127.0.0.1:6060", a)
		}
	}
	if c.DevEID != nil && (c.DevEID.Listen == "" || c.DevEID.Issuer == "") {
		add("dev_eid: listen and issuer are both required when dev_eid is set")
	}
	errs = append(errs, c.RateLimits.validate()...)
	errs = append(errs, c.Signing.validateProvider()...)
	errs = append(errs, c.Admin.validate(c.Listen)...)
	errs = append(errs, c.Retention.validate()...)
	errs = append(errs, c.validateReplica()...)
	errs = append(errs, c.Tracing.validate()...)
	errs = append(errs, validateTrustedProxies(c.TrustedProxies)...)
	errs = append(errs, c.Branding.validate()...)
	errs = append(errs, c.Render.validate()...)
	if len(c.Clients) == 0 {
		add("clients: at least one relying party is required")
	}
	errs = append(errs, c.Tokens.KeyRotation.validate()...)
	seen := map[string]bool{}
	for i, cl := range c.Clients {
		errs = append(errs, cl.validate(fmt.Sprintf("clients[%d]", i))...)
		errs = append(errs, cl.validateGrace(fmt.Sprintf("clients[%d]", i), c.Tokens.DPoPBoundAccessTokens)...)
		if seen[cl.ID] {
			add("clients[%d].id: %q is listed twice", i, cl.ID)
		}
		seen[cl.ID] = true
	}
	return errors.Join(errs...)
}

// knownScopes: claim scopes, offline_access, "sign" (a citizen's token may create signing
// requests for that citizen), "signing" (client_credentials access to the signing API) and
// "admin" (client_credentials access to the admin API: certificate revocation), "service"
// (a citizen's token for Motlan's CSC API v2 server at /csc/v2/).
var knownScopes = map[string]bool{"profile": true, "address": true, "phone": true, "cccd": true, "offline_access": true, "sign": true, "signing": true, "admin": true, "service": true}

func (e EID) validate() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if e.Issuer == "" {
		add("eid.issuer: required, the national eID's issuer URL")
	}
	if e.ClientID == "" {
		add("eid.client_id: required")
	}
	for k, v := range e.ACRMap {
		if v != "1" && v != "2" {
			add("eid.acr_map[%s]: %q must be \"1\" or \"2\"", k, v)
		}
		if k == "" || strings.ContainsAny(k, " \t\r\n") {
			add("eid.acr_map: %q: an eID level value must be non-empty, without spaces", k)
		}
	}
	if strings.ContainsAny(e.LevelClaim, " \t\r\n") {
		add("eid.level_claim: %q must be one claim name", e.LevelClaim)
	}
	return errs
}

// validateGrace checks refresh_reuse_grace: at most a minute, and for a public client only
// with DPoP-bound tokens (its own setting, else dpopDefault), since a public client's
// bearer refresh token must get no reuse window (RFC 9700 4.14.2).
func (cl Client) validateGrace(at string, dpopDefault bool) []error {
	g := cl.RefreshReuseGrace
	if g == nil {
		return nil
	}
	var errs []error
	bound := dpopDefault
	if cl.DPoPBoundAccessTokens != nil {
		bound = *cl.DPoPBoundAccessTokens
	}
	if *g != 0 && cl.AuthMethod == "none" && !bound {
		errs = append(errs, fmt.Errorf("%s.refresh_reuse_grace: a public client's bearer refresh tokens get no reuse window (RFC 9700 4.14.2); make its tokens DPoP-bound", at))
	}
	if *g < 0 || time.Duration(*g) > time.Minute {
		errs = append(errs, fmt.Errorf("%s.refresh_reuse_grace: %v is not between 0s and 1m", at, time.Duration(*g)))
	}
	return errs
}

func (cl Client) validate(at string) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(at+"."+format, a...)) }
	if cl.ID == "" {
		add("id: required")
	}
	if err := cl.Secret.validate(at + ".secret"); err != nil {
		errs = append(errs, err)
	}
	switch cl.AuthMethod {
	case "client_secret_basic", "client_secret_post":
		if !cl.Secret.set() {
			add("secret: required for %s", cl.AuthMethod)
		} else if v, err := cl.Secret.Resolve(); err != nil {
			add("secret: %v", err)
		} else if len(v) < 32 {
			add("secret: at least 32 characters (use a random string)")
		}
	case "private_key_jwt":
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if json.Unmarshal([]byte(cl.JWKS), &set) != nil || len(set.Keys) == 0 {
			add("jwks: a JSON Web Key Set with at least one key is required for private_key_jwt")
		}
	case "none":
		if cl.Secret.set() {
			add("secret: public clients (auth_method none) have no secret")
		}
	default:
		add("auth_method: %q is not client_secret_basic, client_secret_post, private_key_jwt or none", cl.AuthMethod)
	}
	if len(cl.RedirectURIs) == 0 {
		add("redirect_uris: at least one")
	}
	for _, list := range []struct {
		name string
		uris []string
	}{{"redirect_uris", cl.RedirectURIs}, {"post_logout_redirect_uris", cl.PostLogoutRedirectURIs}} {
		for j, r := range list.uris {
			u, err := url.Parse(r)
			switch {
			case err != nil || !u.IsAbs() || u.Host == "":
				add("%s[%d]: %q is not an absolute URL", list.name, j, r)
			case strings.Contains(r, "#"):
				add("%s[%d]: %q must not have a fragment", list.name, j, r)
			case u.Scheme != "https" && !loopback(u.Hostname()):
				add("%s[%d]: %q must be https (http only on localhost)", list.name, j, r)
			}
		}
	}
	if r := cl.BackchannelLogoutURI; r != "" {
		u, err := url.Parse(r)
		switch {
		case err != nil || !u.IsAbs() || u.Host == "":
			add("backchannel_logout_uri: %q is not an absolute URL", r)
		case strings.Contains(r, "#"):
			add("backchannel_logout_uri: %q must not have a fragment", r)
		case u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname())):
			add("backchannel_logout_uri: %q must be https (http only on localhost)", r)
		}
	} else if cl.BackchannelLogoutSessionRequired {
		add("backchannel_logout_session_required: needs backchannel_logout_uri")
	}
	for _, s := range cl.Scopes {
		if s != "openid" && !knownScopes[s] {
			add("scopes: %q is not one of profile, address, phone, cccd, offline_access, sign, signing, admin, service", s)
		}
	}
	switch cl.SubjectType {
	case "pairwise", "public":
	default:
		add("subject_type: %q is not pairwise or public", cl.SubjectType)
	}
	switch cl.IDTokenAlg {
	case "ES256", "RS256":
	default:
		add("id_token_alg: %q is not ES256 or RS256", cl.IDTokenAlg)
	}
	return errs
}

func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
