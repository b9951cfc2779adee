package server

import (
	"context"
	"crypto"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/motlan/motlan/adapters/csc"
	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/metrics"
	"github.com/motlan/motlan/signing"
	"github.com/motlan/motlan/signing/csc/cscserver"
	"github.com/motlan/motlan/signing/httpapi"
)

// signingBackend opens the signing provider the config names: nil for local (the signing
// service then uses the vault and the dev CA), the CSC client for csc. trust holds the
// licensed CA's certificates from trust_roots_file, for B-LT/B-LTA and verification.
func signingBackend(cfg config.Signing, obs observer, log *slog.Logger) (backend signing.Backend, trust []*x509.Certificate, err error) {
	if cfg.Provider != "csc" || cfg.CSC == nil {
		return nil, nil, nil
	}
	c := cfg.CSC
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		roots, err := readPEMCerts(c.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("signing.csc.ca_file: %w", err)
		}
		tlsCfg.RootCAs = x509.NewCertPool()
		for _, r := range roots {
			tlsCfg.RootCAs.AddCert(r)
		}
	}
	if c.ClientCertFile != "" {
		pair, err := tls.LoadX509KeyPair(c.ClientCertFile, c.ClientKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("signing.csc.client_cert_file: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{pair}
	}
	secret := ""
	if c.ClientSecret.Env != "" || c.ClientSecret.File != "" || c.ClientSecret.Value != "" {
		if secret, err = c.ClientSecret.Resolve(); err != nil {
			return nil, nil, fmt.Errorf("signing.csc.client_secret: %w", err)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	backend, err = csc.New(csc.Config{
		BaseURL: c.BaseURL, TokenURL: c.TokenURL, ClientID: c.ClientID, ClientSecret: secret, Scopes: c.Scopes,
		UserID: c.UserID, Description: c.Description, Timeout: time.Duration(c.Timeout),
		HTTPClient: &http.Client{Transport: obs.transport(metrics.UpstreamCSC, tr)}, Logger: log,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("signing.csc: %w", err)
	}
	if c.TrustRootsFile != "" {
		if trust, err = readPEMCerts(c.TrustRootsFile); err != nil {
			return nil, nil, fmt.Errorf("signing.csc.trust_roots_file: %w", err)
		}
	}
	return backend, trust, nil
}

// readPEMCerts reads every CERTIFICATE block of a PEM file; none is an error.
func readPEMCerts(path string) ([]*x509.Certificate, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, raw = pem.Decode(raw)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no certificate in %s", path)
	}
	return out, nil
}

// cscServer serves the citizens' keys in Motlan's vault over CSC API v2 at /csc/v2/,
// to clients holding a citizen's token with the "service" scope.
func cscServer(issuer string, p *idp.Provider, st *sqlstore.Store, svc *signing.Service, masterKey []byte,
	stamp func(context.Context, []byte, crypto.Hash) ([]byte, error), auditLog *audit.Logger, log *slog.Logger) (http.Handler, error) {
	key, err := hkdf.Key(sha256.New, masterKey, nil, "motlan csc server", 32)
	if err != nil {
		return nil, err
	}
	srv, err := cscserver.New(cscserver.Config{
		Credentials: svc, Auth: cscAuth{p}, Citizens: st, Key: key, OAuth2: issuer, Timestamp: stamp, Logger: log,
		Once: cscserver.OnceFrom(st.UseAssertion, store.ErrAlreadyUsed),
		Audit: func(ctx context.Context, e cscserver.AuditEvent) {
			kind := audit.KindSigningApprove
			if e.Signed {
				kind = audit.KindSigningSigned
			}
			auditLog.Log(ctx, audit.Event{Kind: kind, Actor: audit.Citizen(e.CitizenID), Details: map[string]any{
				"csc": true, "client": e.ClientID, "credential": e.Credential, "hashes": e.Hashes,
			}})
		},
		Throttle: func(ctx context.Context, key string, limit int, window time.Duration) (bool, error) {
			ok, _, err := st.TakeRateLimit(ctx, key, limit, window, time.Now())
			return ok, err
		},
	})
	if err != nil {
		return nil, err
	}
	return srv.Handler(), nil
}

// cscAuth lets the CSC server use the OpenID Provider's tokens and sessions.
type cscAuth struct{ p *idp.Provider }

func (a cscAuth) Caller(r *http.Request) (cscserver.Caller, error) {
	info, err := a.p.VerifyAccessToken(r)
	if err != nil {
		return cscserver.Caller{}, err
	}
	return cscserver.Caller{ClientID: info.ClientID, CitizenID: info.CitizenID, Scopes: info.Scopes}, nil
}

func (a cscAuth) BrowserCitizen(r *http.Request) (string, string, time.Time, bool) {
	return a.p.BrowserCitizen(r)
}

func (a cscAuth) StepUpURL(returnPath, lang string) string { return a.p.StepUpURL(returnPath, lang) }

var (
	_ httpapi.Activator     = (*signing.Service)(nil)
	_ cscserver.Auth        = cscAuth{}
	_ cscserver.Credentials = (*signing.Service)(nil)
)
