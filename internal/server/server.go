// Package server wires configuration to constructors and serves Motlan: the one place
// where adapters meet the core, shared by cmd/motlan, the integration tests and the load
// driver.
package server

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/adapters/vneid"
	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/logredact"
	"github.com/motlan/motlan/internal/metrics"
	"github.com/motlan/motlan/internal/tracing"
	"github.com/motlan/motlan/keys"
)

func NewLogger(c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

func OpenStore(ctx context.Context, c config.Config, log *slog.Logger) (*sqlstore.Store, error) {
	dsn, err := c.Storage.DSN.Resolve()
	if err != nil {
		return nil, fmt.Errorf("storage.dsn: %w", err)
	}
	return sqlstore.Open(ctx, sqlstore.Config{Driver: c.Storage.Driver, DSN: dsn, Logger: log})
}

// Running is a started Motlan: its servers and what must be closed.
type Running struct {
	log     *slog.Logger
	servers []*http.Server
	closers []func() error
	Addr    string // Motlan's listening address
	// AdminAddr is the admin listener's address (see admin.go); "" without one.
	AdminAddr    string
	clientsStore store.Clients   // for ReloadClients (clients.go)
	provider     clientsReloader // for ReloadClients
	// Draining on Shutdown (drain.go): the admin listener, stopped last so that /readyz
	// answers "draining" meanwhile; readiness; the signing service; the time allowed.
	admin           *http.Server
	ready           *readiness
	drainer         drainer
	shutdownTimeout time.Duration
	tracer          *tracing.Tracer // nil when tracing is off (observe.go)
}

// NewRunning returns an empty Running to add servers to.
func NewRunning(log *slog.Logger) *Running { return &Running{log: log} }

// ServeOn starts an HTTP server on addr in the background.
func (r *Running) ServeOn(addr string, h http.Handler, name string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s: listen %s: %w", name, addr, err)
	}
	s := &http.Server{
		Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
	}
	r.servers = append(r.servers, s)
	go func() {
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("server stopped", "server", name, "err", err)
		}
	}()
	return ln.Addr().String(), nil
}

// Start wires config to constructors and serves Motlan; the dev eID too when configured.
func Start(ctx context.Context, cfg config.Config, masterKey []byte, log *slog.Logger) (*Running, error) {
	log = logredact.Logger(requestLogger(log)) // no personal data or secret in application logs
	r := &Running{log: log}
	fail := func(err error) (*Running, error) {
		_ = r.Shutdown()
		return nil, err
	}
	tr, err := r.newTracer(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	if cfg.DevEID != nil {
		h, err := NewDevEID(cfg, log)
		if err != nil {
			return fail(err)
		}
		if _, err := r.ServeOn(cfg.DevEID.Listen, h, "dev eID"); err != nil {
			return fail(err)
		}
		log.Warn("the dev eID is running: anyone can log in as a test citizen", "issuer", cfg.DevEID.Issuer)
	}
	st, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return fail(err)
	}
	r.closers = append(r.closers, st.Close)
	m := newMetrics(st, r)
	obs := observer{m: m, tr: tr}
	if err := applyClients(ctx, st, cfg.Clients, log); err != nil {
		return fail(err)
	}
	every, publishAhead := cfg.Tokens.KeyRotation.Values()
	km, err := keys.NewManager(ctx, keys.Config{Store: st, MasterKey: masterKey, Logger: log,
		MaxTokenLifetime: maxTokenLifetime(cfg.Tokens), Rotation: keys.Rotation{Every: every, PublishAhead: publishAhead}})
	if err != nil {
		return fail(fmt.Errorf("token keys: %w", err))
	}
	r.closers = append(r.closers, km.Close)
	conn, err := newConnector(ctx, cfg, obs, log)
	if err != nil {
		return fail(err)
	}
	secret, err := hkdf.Key(sha256.New, masterKey, nil, "motlan idp secret", 32)
	if err != nil {
		return fail(err)
	}
	rl := cfg.RateLimits
	rl.TrustedProxies = append(slices.Clone(rl.TrustedProxies), cfg.TrustedProxies...)
	limits, err := newLimiter(rl, st, masterKey, log, rateLimited(m))
	if err != nil {
		return fail(fmt.Errorf("rate_limits: %w", err))
	}
	auditLog, err := newAudit(st, log)
	if err != nil {
		return fail(err)
	}
	p, err := idp.New(ctx, idp.Config{
		Issuer: cfg.Issuer, Store: st, Keys: km, EID: conn, Secret: secret, Logger: log, Brand: cfg.Branding.Name,
		SessionTTL: time.Duration(cfg.Tokens.Session), AccessTokenTTL: time.Duration(cfg.Tokens.AccessToken),
		IDTokenTTL: time.Duration(cfg.Tokens.IDToken), RefreshTTL: time.Duration(cfg.Tokens.Refresh),
		OfflineRefreshTTL: time.Duration(cfg.Tokens.OfflineRefresh), CodeTTL: time.Duration(cfg.Tokens.Code),
		RefreshReuseGrace: refreshReuseGrace(cfg.Tokens.RefreshReuseGrace), RefreshReuseGraceClients: refreshGraceClients(cfg.Clients),
		LoopbackRedirectClients: loopbackClients(cfg.Clients),
		RateLimits:              limits, Audit: auditLog,
		DPoPBoundDefault: cfg.Tokens.DPoPBoundAccessTokens, DPoPBoundClients: dpopBoundClients(cfg.Clients),
		DPoPNonce: cfg.Tokens.DPoPNonce, OnLogin: m.Login,
	})
	if err != nil {
		return fail(err)
	}
	r.clientsStore, r.provider = st, p
	sp, err := startSigning(ctx, cfg, st, p, masterKey, limits, auditLog, obs, log)
	if err != nil {
		return fail(fmt.Errorf("signing: %w", err))
	}
	r.closers = append(r.closers, sp.closeVault, sp.service.Close)
	if r.Addr, err = r.ServeOn(cfg.Listen, publicHandler(publicMux(p, sp), cfg, m, tr, log), "motlan"); err != nil {
		return fail(err)
	}
	r.drainer, r.shutdownTimeout = sp.service, time.Duration(cfg.ShutdownTimeout)
	r.ready = newReadiness(st, km, sp.vault)
	if err := r.serveAdmin(cfg.Admin.Listen, cfg.Debug.PprofListen, m, r.ready); err != nil {
		return fail(err)
	}
	r.startBackground(st, sp, auditLog, log)
	if err := r.startRetention(cfg.Retention, st, auditLog, m, log); err != nil {
		return fail(err)
	}
	log.Info("motlan is serving", "issuer", cfg.Issuer, "addr", r.Addr, "storage", cfg.Storage.Driver)
	return r, nil
}

// newConnector connects to the upstream eID by discovery.
func newConnector(ctx context.Context, cfg config.Config, obs observer, log *slog.Logger) (*vneid.Connector, error) {
	eidSecret, err := cfg.EID.ClientSecret.Resolve()
	if err != nil {
		return nil, fmt.Errorf("eid.client_secret: %w", err)
	}
	timeout := time.Duration(cfg.EID.Timeout)
	if timeout == 0 {
		timeout = vneid.DefaultTimeout
	}
	client := vneid.NewHTTPClient(timeout)
	client.Transport = obs.transport(metrics.UpstreamEID, client.Transport)
	conn, err := vneid.New(ctx, vneid.Config{
		Issuer: cfg.EID.Issuer, ClientID: cfg.EID.ClientID, ClientSecret: eidSecret,
		RedirectURL: idp.CallbackURL(cfg.Issuer), Scopes: cfg.EID.Scopes, ClaimMap: cfg.EID.ClaimMap,
		ACRMap: cfg.EID.ACRMap, LevelClaim: cfg.EID.LevelClaim, Timeout: time.Duration(cfg.EID.Timeout), Logger: log,
		InsecureAllowHTTP: cfg.EID.InsecureAllowHTTP, HTTPClient: client,
	})
	if err != nil {
		return nil, fmt.Errorf("eid: %w", err)
	}
	return conn, nil
}

// publicMux routes the public port: the provider, the signing API and pages, the CA, the
// CSC server and the TSA.
func publicMux(p *idp.Provider, sp *signingParts) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/", p)
	mux.Handle("/signing/v1/", sp.api)
	mux.Handle("/sign/", sp.api)
	mux.Handle("/me", sp.account)
	mux.Handle("/me/", sp.account)
	mux.Handle("/admin/v1/", sp.api)
	mux.Handle("/ca/", sp.ca)
	mux.Handle("/csc/", sp.csc)
	if sp.tsa != nil {
		mux.Handle("POST /tsa", sp.tsa)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return mux
}

// startBackground starts the loops every replica runs: the collection of expired records,
// the signing service's expiry and resume, and the audit sealer (stopped, after a last
// seal, before the store closes).
func (r *Running) startBackground(st *sqlstore.Store, sp *signingParts, auditLog *audit.Logger, log *slog.Logger) {
	gcCtx, stopGC := context.WithCancel(context.Background())
	var loops sync.WaitGroup
	r.closers = append(r.closers, func() error { stopGC(); loops.Wait(); return nil }) // before the store closes
	loops.Go(func() { collectExpired(gcCtx, st, log) })
	loops.Go(func() { sp.service.Run(gcCtx, 15*time.Second) }) // expires requests, resumes interrupted signings
	auditCtx, stopAudit := context.WithCancel(context.Background())
	auditDone := make(chan struct{})
	go func() { auditLog.Run(auditCtx, 0); close(auditDone) }()
	r.closers = append(r.closers, func() error { stopAudit(); <-auditDone; return nil })
}

// collectExpired deletes expired transactions, codes, sessions and tokens every few minutes.
func collectExpired(ctx context.Context, st *sqlstore.Store, log *slog.Logger) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := st.DeleteExpired(ctx); err != nil {
				log.Warn("delete expired records", "err", err)
			} else if n > 0 {
				log.Debug("deleted expired records", "count", n)
			}
			if _, err := st.DeleteExpiredRateLimits(ctx, time.Now()); err != nil {
				log.Warn("delete expired rate limits", "err", err)
			}
		}
	}
}

// upsertClients writes the configured relying parties; secrets are stored hashed.
func upsertClients(ctx context.Context, st store.Clients, clients []config.Client) error {
	for _, c := range clients {
		var hash string
		if c.AuthMethod == "client_secret_basic" || c.AuthMethod == "client_secret_post" {
			secret, err := c.Secret.Resolve()
			if err != nil {
				return fmt.Errorf("client %s secret: %w", c.ID, err)
			}
			salt := make([]byte, 16)
			_, _ = rand.Read(salt)
			hash = idp.HashSecret(salt, secret)
		}
		scopes := c.Scopes
		if len(scopes) == 0 {
			scopes = []string{"openid", "profile"}
		}
		err := st.UpsertClient(ctx, store.Client{
			ID: c.ID, Name: c.Name, SecretHash: hash, RedirectURIs: c.RedirectURIs,
			PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, AllowedScopes: scopes,
			AuthMethod: c.AuthMethod, JWKS: []byte(c.JWKS), SubjectType: c.SubjectType,
			IDTokenAlg: c.IDTokenAlg, FirstParty: c.FirstParty, RequirePAR: c.RequirePAR,
			BackchannelLogoutURI: c.BackchannelLogoutURI, BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
		})
		if err != nil {
			return fmt.Errorf("store client %s: %w", c.ID, err)
		}
	}
	return nil
}

// devSecret derives a development secret from the master key, so that nothing secret is
// committed and the same data directory keeps the same secrets across restarts.
func DevSecret(masterKey []byte, name string) string {
	k, err := hkdf.Key(sha256.New, masterKey, nil, "motlan dev secret "+name, 24)
	if err != nil {
		panic(err) // only on a length hkdf cannot produce
	}
	return hex.EncodeToString(k)
}

// DevPorts are the addresses motlan dev serves.
type DevPorts struct {
	Motlan, EID, Portal string
}

func HostURL(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	return "http://localhost:" + port
}

// DevConfig is the configuration motlan dev runs: everything embedded, everything on
// localhost, no secret in the repository.
func DevConfig(dataDir string, p DevPorts, masterKey []byte) config.Config {
	issuer := HostURL(p.Motlan)
	eidIssuer := HostURL(p.EID)
	cfg := config.Config{
		Issuer: issuer,
		Listen: p.Motlan,
		Log:    config.Log{Level: "info", Format: "text"},
		Storage: config.Storage{Driver: "sqlite", DSN: config.Secret{
			Value: filepath.Join(dataDir, "motlan.db"),
		}},
		Secrets: config.Secrets{MasterKey: config.Secret{File: filepath.Join(dataDir, "master.key")}},
		EID: config.EID{
			Issuer: eidIssuer, ClientID: "motlan",
			ClientSecret: config.Secret{Value: DevSecret(masterKey, "eid client")},
			Scopes:       []string{"openid", "profile", "address", "phone"},
		},
		DevEID: &config.DevEID{Listen: p.EID, Issuer: eidIssuer},
		Admin:  config.Admin{Listen: "127.0.0.1:0"}, // logged at start
		Clients: []config.Client{{
			ID: "portal", Name: "Cổng Dịch vụ công tỉnh Thanh Hóa (demo)",
			Secret:                 config.Secret{Value: DevSecret(masterKey, "portal client")},
			RedirectURIs:           []string{HostURL(p.Portal) + "/callback"},
			PostLogoutRedirectURIs: []string{HostURL(p.Portal) + "/"},
			Scopes:                 []string{"openid", "profile", "address", "phone", "cccd", "offline_access", "signing", "sign"},
		}},
	}
	cfg.ApplyDefaults()
	return cfg
}

// NewDevEID builds the dev eID with Motlan registered as its client.
func NewDevEID(cfg config.Config, log *slog.Logger) (http.Handler, error) {
	secret, err := cfg.EID.ClientSecret.Resolve()
	if err != nil {
		return nil, fmt.Errorf("eid.client_secret: %w", err)
	}
	return sim.New(sim.Config{
		Issuer: cfg.DevEID.Issuer,
		Clients: []sim.Client{{
			ID: cfg.EID.ClientID, Name: "Motlan – Cổng đăng nhập tỉnh Thanh Hóa", Secret: secret,
			RedirectURIs:           []string{idp.CallbackURL(cfg.Issuer)},
			PostLogoutRedirectURIs: []string{idp.LogoutDoneURL(cfg.Issuer)},
		}},
		Logger: log.With("component", "dev-eid"),
	})
}

// refreshReuseGrace maps the YAML value to idp.Config's: absent is the default (zero),
// an explicit 0s disables the window (negative).
func refreshReuseGrace(d *config.Duration) time.Duration {
	switch {
	case d == nil:
		return 0
	case *d == 0:
		return -1
	}
	return time.Duration(*d)
}

// maxTokenLifetime is the longest any token signed with the token keys stays valid: ID
// and access tokens (idp's default 10m when unset) and back-channel logout tokens (2m,
// fixed in idp). A superseded key stays published this long after its successor signs.
func maxTokenLifetime(t config.Tokens) time.Duration {
	orDefault := func(d config.Duration) time.Duration {
		if d == 0 {
			return 10 * time.Minute
		}
		return time.Duration(d)
	}
	return max(orDefault(t.IDToken), orDefault(t.AccessToken), 2*time.Minute)
}

// refreshGraceClients collects the clients' own refresh_reuse_grace settings.
func refreshGraceClients(clients []config.Client) map[string]time.Duration {
	m := map[string]time.Duration{}
	for _, c := range clients {
		if c.RefreshReuseGrace != nil {
			m[c.ID] = time.Duration(*c.RefreshReuseGrace)
		}
	}
	return m
}

// loopbackClients are the clients `motlan dev` lets use any loopback redirect URI.
func loopbackClients(clients []config.Client) map[string]bool {
	m := map[string]bool{}
	for _, c := range clients {
		if c.DevLoopbackRedirects {
			m[c.ID] = true
		}
	}
	return m
}

// dpopBoundClients collects the clients' own dpop_bound_access_tokens settings.
func dpopBoundClients(clients []config.Client) map[string]bool {
	m := map[string]bool{}
	for _, c := range clients {
		if c.DPoPBoundAccessTokens != nil {
			m[c.ID] = *c.DPoPBoundAccessTokens
		}
	}
	return m
}
