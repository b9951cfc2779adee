package server

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"log/slog"
	"net/http"
	"time"

	"github.com/motlan/motlan/account"
	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/signing"
	"github.com/motlan/motlan/signing/verify"
)

// accountPage builds the citizen's own page, /me, on the provider's sessions, the store,
// the signing service and the dev CA. The signing service says until when documents are
// kept (the operator's retention.* configuration).
func accountPage(p *idp.Provider, st *sqlstore.Store, svc *signing.Service, devCA *ca.DevCA, roots *x509.CertPool,
	masterKey []byte, auditLog *audit.Logger, log *slog.Logger) (http.Handler, error) {
	key, err := hkdf.Key(sha256.New, masterKey, nil, "motlan account page", 32)
	if err != nil {
		return nil, err
	}
	page, err := account.New(account.Config{
		Store: st, Provider: p, Signing: svc, Retention: svc, Revoker: devCA, Key: key, Audit: auditLog, Logger: log,
		Verify: func(ctx context.Context, pdf []byte) (account.Verification, error) {
			return verifyForPage(ctx, pdf, roots)
		},
	})
	if err != nil {
		return nil, err
	}
	return page.Handler(), nil
}

// verifyForPage is Motlan's verification of a signed PDF, summarised for the page: the
// first signature's indication, signer, time and level, with the full report.
func verifyForPage(ctx context.Context, pdf []byte, roots *x509.CertPool) (account.Verification, error) {
	rep, err := verify.Verify(ctx, bytes.NewReader(pdf), int64(len(pdf)), verify.Options{Roots: roots, At: time.Now()})
	if err != nil {
		return account.Verification{}, err
	}
	v := account.Verification{Indication: "NO_SIGNATURE", Report: rep}
	if len(rep.Signatures) > 0 {
		s := rep.Signatures[0]
		v.Indication, v.SubIndication, v.Level = string(s.Indication), string(s.SubIndication), s.Level
		if s.Signer != nil {
			v.Signer = s.Signer.Name
		}
		if s.Timestamp != nil && s.Timestamp.Valid {
			v.SigningTime = s.Timestamp.Time
		} else if s.ClaimedTime != nil {
			v.SigningTime = *s.ClaimedTime
		}
	}
	return v, nil
}

var (
	_ account.Provider  = (*idp.Provider)(nil)
	_ account.Store     = (*sqlstore.Store)(nil)
	_ account.Signing   = (*signing.Service)(nil)
	_ account.Retention = (*signing.Service)(nil)
	_ account.Revoker   = (*ca.DevCA)(nil)
)
