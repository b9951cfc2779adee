package server

import (
	"context"
	"crypto"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/motlan/motlan/adapters/pkcs11"
	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/idp"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/metrics"
	"github.com/motlan/motlan/internal/ratelimit"
	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/keys/tsa"
	"github.com/motlan/motlan/keys/vault"
	"github.com/motlan/motlan/signing"
	"github.com/motlan/motlan/signing/httpapi"
	"github.com/motlan/motlan/signing/ltv"
)

// signingParts is the remote-signing side of a running Motlan.
type signingParts struct {
	api     http.Handler
	ca      http.Handler
	tsa     http.Handler // nil with an external TSA
	csc     http.Handler // the CSC API v2 server over the vault
	account http.Handler // the citizen's own page, /me
	service *signing.Service
	// closeVault releases the vault (an HSM session pool); a no-op for the software vault.
	closeVault func() error
	vault      vault.Vault // for readiness
}

// openVault opens the citizen key vault the config names: keys sealed in the store
// (software, the default) or generated inside a PKCS#11 token.
func openVault(c config.Vault, st *sqlstore.Store, sealer *keys.Sealer, log *slog.Logger) (vault.Vault, func() error, error) {
	if c.Type != "pkcs11" {
		v, err := vault.NewSoftware(vault.SoftwareConfig{Store: st, Sealer: sealer, Logger: log})
		return v, func() error { return nil }, err
	}
	pin, err := c.PIN.Resolve()
	if err != nil {
		return nil, nil, fmt.Errorf("pin: %w", err)
	}
	v, err := pkcs11.New(pkcs11.Config{ModulePath: c.Module, TokenLabel: c.TokenLabel, SlotNumber: c.Slot, PIN: pin, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return v, v.Close, nil
}

// startSigning wires the citizen key vault, the dev CA, the TSA and the signing service.
// The provider's rate limiter and audit log are shared: one group commit for the audit
// chain, one set of counters.
func startSigning(ctx context.Context, cfg config.Config, st *sqlstore.Store, p *idp.Provider, masterKey []byte,
	limits *ratelimit.Limiter, auditLog *audit.Logger, obs observer, log *slog.Logger) (*signingParts, error) {
	sealer, err := keys.NewSealer(masterKey)
	if err != nil {
		return nil, err
	}
	v, closeVault, err := openVault(cfg.Signing.Vault, st, sealer, log)
	if err != nil {
		return nil, fmt.Errorf("signing.vault: %w", err)
	}
	v = obs.vault(v, cfg.Signing.Vault.Type)
	devCA, err := openCA(ctx, cfg, st, sealer, log)
	if err != nil {
		_ = closeVault()
		return nil, err
	}
	parts := &signingParts{ca: devCA.Handler(), closeVault: closeVault, vault: v}
	stamp, err := timestamper(ctx, cfg, devCA, parts, obs)
	if err != nil {
		return nil, err
	}
	var font []byte
	if f := cfg.Signing.FontFile; f != "" {
		if font, err = os.ReadFile(f); err != nil {
			return nil, fmt.Errorf("signing.font_file: %w", err)
		}
	} else if font, err = os.ReadFile(DefaultFont); err != nil {
		font = nil
		log.Warn("no font with Vietnamese glyphs found: signatures will be invisible", "tried", DefaultFont)
	}
	callbackKey, err := hkdf.Key(sha256.New, masterKey, nil, "motlan signing callbacks", 32)
	if err != nil {
		return nil, err
	}
	backend, trust, err := signingBackend(cfg.Signing, obs, log)
	if err != nil {
		return nil, err
	}
	ext, err := longTerm(cfg, devCA, trust, stamp, obs, log)
	if err != nil {
		return nil, err
	}
	notifier, err := changeNotifier(cfg, st, log)
	if err != nil {
		return nil, err
	}
	svc, err := signing.NewService(signing.ServiceConfig{
		Store: st, Vault: v, CA: devCA, Backend: backend, Sealer: sealer, Citizens: citizens{st}, Timestamp: stamp, LTV: ext, Font: font,
		DefaultTTL: time.Duration(cfg.Signing.RequestTTL), Logger: log, KeyAlg: vault.Alg(cfg.Signing.KeyAlg),
		MaxDocumentSize: int64(cfg.Signing.MaxDocumentMB) << 20, MaxDocuments: cfg.Signing.MaxDocuments,
		ReplicaID: cfg.Replica(), SignParallel: cfg.Signing.Parallel,
		CallbackSecret: func(clientID string) []byte { return CallbackSecret(callbackKey, clientID) },
		Audit:          auditLog, Notifier: notifier,
		Retention: retentionPolicy(cfg.Retention),
	})
	if err != nil {
		return nil, err
	}
	parts.service = svc
	if parts.csc, err = cscServer(cfg.Issuer, p, st, svc, masterKey, stamp, auditLog, log); err != nil {
		return nil, err
	}
	csrfKey, err := hkdf.Key(sha256.New, masterKey, nil, "motlan signing csrf", 32)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, c := range cfg.Clients {
		names[c.ID] = c.Name
	}
	roots := x509.NewCertPool()
	roots.AddCert(devCA.Root())
	for _, c := range trust {
		roots.AddCert(c)
	}
	brand, err := branding(cfg.Branding)
	if err != nil {
		return nil, err
	}
	api, err := httpapi.New(httpapi.Config{
		Service: svc, Auth: auth{p}, BaseURL: cfg.Issuer, CSRFKey: csrfKey, ClientNames: names,
		TrustRoots: roots, Logger: log, Extender: svc, Revoker: devCA,
		MaxUploadBytes: int64(cfg.Signing.MaxDocumentMB) << 20, MaxDocuments: cfg.Signing.MaxDocuments,
		RateLimits: limits, Audit: auditLog, KeptUntil: svc.KeptUntil,
		ReturnOrigins: returnOrigins(cfg.Clients), DevReturn: cfg.DevEID != nil,
		Branding: brand, Render: pageRenderer(cfg.Render, log),
	})
	if err != nil {
		return nil, err
	}
	p.SetStepUpPurpose(api.StepUpPurpose) // the eID login says which portal asks to sign what
	parts.api = dpopChallenges(p, api.Handler())
	if parts.account, err = accountPage(p, st, svc, devCA, roots, masterKey, auditLog, log); err != nil {
		return nil, err
	}
	return parts, nil
}

// changeNotifier wakes long-polls across replicas: PostgreSQL LISTEN/NOTIFY; nil on
// SQLite, which serves one process.
func changeNotifier(cfg config.Config, st *sqlstore.Store, log *slog.Logger) (signing.Notifier, error) {
	if cfg.Storage.Driver != sqlstore.DriverPostgres {
		return nil, nil
	}
	dsn, err := cfg.Storage.DSN.Resolve()
	if err != nil {
		return nil, fmt.Errorf("storage.dsn: %w", err)
	}
	return sqlstore.NewNotifier(sqlstore.NotifierConfig{Store: st, DSN: dsn, Logger: log})
}

// DefaultFont is Debian's DejaVu Sans (package fonts-dejavu-core), which has every
// Vietnamese glyph; signing.font_file overrides it.
const DefaultFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

// CallbackSecret is the HMAC key of a client's signing callbacks. Operators hand it to
// the client team (motlan callback-secret CLIENT prints it).
func CallbackSecret(key []byte, clientID string) []byte {
	k, _ := hkdf.Key(sha256.New, key, nil, "client "+clientID, 32)
	return k
}

// timestamper returns the RFC 3161 client: the configured TSA, or the built-in dev TSA
// (served at /tsa, and called in process).
func timestamper(ctx context.Context, cfg config.Config, devCA *ca.DevCA, parts *signingParts, obs observer) (func(context.Context, []byte, crypto.Hash) ([]byte, error), error) {
	timeout := time.Duration(cfg.Signing.TSATimeout)
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	if u := cfg.Signing.TSAURL; u != "" {
		client := &http.Client{Timeout: timeout, Transport: obs.transport(metrics.UpstreamTSA, nil)}
		return func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
			return tsa.Request(ctx, client, u, digest, h)
		}, nil
	}
	id, err := devCA.TimestampingIdentity(ctx)
	if err != nil {
		return nil, fmt.Errorf("dev TSA: %w", err)
	}
	srv, err := tsa.New(tsa.Config{Signer: id.Signer, Certificate: id.Certificate, Chain: id.Chain, IncludeChain: true})
	if err != nil {
		return nil, fmt.Errorf("dev TSA: %w", err)
	}
	parts.tsa = srv
	local := &http.Client{Transport: obs.transport(metrics.UpstreamTSA, handlerTransport{srv}), Timeout: timeout}
	return func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
		return tsa.Request(ctx, local, cfg.Issuer+"/tsa", digest, h)
	}, nil
}

// longTerm builds the B-LT/B-LTA extender. It trusts the dev CA's chain (and a licensed
// CA's certificates from signing.csc.trust_roots_file) and reaches the
// dev CA's OCSP responder and CRLs in process (they live at the issuer's /ca/), other
// sources over the network: public addresses only unless ltv_allow_private_networks.
func longTerm(cfg config.Config, devCA *ca.DevCA, trust []*x509.Certificate, stamp func(context.Context, []byte, crypto.Hash) ([]byte, error), obs observer, log *slog.Logger) (*ltv.Extender, error) {
	timeout := time.Duration(cfg.Signing.LTVFetchTimeout)
	if timeout == 0 {
		timeout = ltv.DefaultFetchTimeout
	}
	local := ""
	if u, err := url.Parse(cfg.Issuer); err == nil && (u.Path == "" || u.Path == "/") {
		local = strings.TrimRight(cfg.Issuer, "/") + "/ca/"
	}
	client := &http.Client{Timeout: timeout, Transport: obs.ltvTransport(localCA{prefix: local, ca: devCA.Handler(), next: ltv.NewTransport(cfg.Signing.LTVAllowPrivateNetworks)})}
	return ltv.New(ltv.Config{
		HTTPClient: client, Roots: append([]*x509.Certificate{devCA.Root()}, trust...), Intermediates: append([]*x509.Certificate{devCA.IssuingCA()}, trust...),
		Timestamp: stamp, FetchTimeout: timeout, MaxInputSize: max(int64(cfg.Signing.MaxDocumentMB)<<20, ltv.DefaultMaxInputSize),
		Logger: log,
	})
}

// localCA answers requests under prefix with the dev CA's handler, without a network
// round trip (a replica behind a load balancer may not reach the public URL itself).
type localCA struct {
	prefix string
	ca     http.Handler
	next   http.RoundTripper
}

func (t localCA) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.prefix != "" && strings.HasPrefix(r.URL.String(), t.prefix) {
		return handlerTransport{t.ca}.RoundTrip(r)
	}
	return t.next.RoundTrip(r)
}

// handlerTransport serves requests with an in-process handler: the built-in TSA answers
// without a network round trip.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// citizens reads what a certificate needs from the citizen record.
type citizens struct{ st store.Citizens }

func (c citizens) Citizen(ctx context.Context, id string) (signing.CitizenInfo, error) {
	cit, err := c.st.GetCitizen(ctx, id)
	if err != nil {
		return signing.CitizenInfo{}, err
	}
	str := func(name string) string {
		var s string
		_ = json.Unmarshal(cit.Attributes[name].Value, &s)
		return s
	}
	var addr struct {
		Locality string `json:"locality"`
		Region   string `json:"region"`
	}
	_ = json.Unmarshal(cit.Attributes["address"].Value, &addr)
	return signing.CitizenInfo{ID: cit.ID, Name: str("name"), CCCD: cit.CCCD, Province: addr.Region, Locality: addr.Locality}, nil
}

// auth lets the signing API use the OpenID Provider's tokens and sessions.
type auth struct{ p *idp.Provider }

func (a auth) APICaller(r *http.Request) (httpapi.Caller, error) {
	info, err := a.p.VerifyAccessToken(r)
	if err != nil {
		noteDPoPRefusal(r.Context(), err)
		var e *oe.Error
		if errors.As(err, &e) && e.Code == "" {
			return httpapi.Caller{}, fmt.Errorf("%w: %w", httpapi.ErrNoToken, err)
		}
		return httpapi.Caller{}, err
	}
	c := httpapi.Caller{ClientID: info.ClientID, CitizenID: info.CitizenID, Scopes: info.Scopes}
	if info.CitizenID != "" {
		c.Subject = info.Subject
	}
	return c, nil
}

func (a auth) BrowserCitizen(r *http.Request) (string, string, time.Time, bool) {
	return a.p.BrowserCitizen(r)
}

func (a auth) StepUpURL(returnPath, lang string) string { return a.p.StepUpURL(returnPath, lang) }

func (a auth) SubjectFor(clientID, citizenID string) string {
	return a.p.SubjectFor(clientID, citizenID)
}

func (a auth) CitizenFor(ctx context.Context, clientID, subject string) (string, bool, error) {
	return a.p.CitizenForSubject(ctx, clientID, subject)
}

var _ httpapi.Auth = auth{}
var _ httpapi.Service = (*signing.Service)(nil)
