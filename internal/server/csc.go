package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/motlan/motlan/adapters/csc"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/signing"
	"github.com/motlan/motlan/signing/httpapi"
)

// signingBackend opens the signing provider the config names: nil for local (the signing
// service then uses the vault and the dev CA), the CSC client for csc. trust holds the
// licensed CA's certificates from trust_roots_file, for B-LT/B-LTA and verification.
func signingBackend(cfg config.Signing, log *slog.Logger) (backend signing.Backend, trust []*x509.Certificate, err error) {
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
		HTTPClient: &http.Client{Transport: tr}, Logger: log,
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

var _ httpapi.Activator = (*signing.Service)(nil)
