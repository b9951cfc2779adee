package account

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"time"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/signing"
)

// Store is what the page reads and changes, always keyed by the citizen
// (adapters/sqlstore implements it).
type Store interface {
	GetCitizen(ctx context.Context, id string) (store.Citizen, error)
	ListReleases(ctx context.Context, citizenID string) ([]store.Release, error)
	ListConsents(ctx context.Context, citizenID string) ([]store.Consent, error)
	// DeleteConsent and DeleteSession write audit as pending audit records in the same
	// transaction as the act (see store.Login.Audit).
	DeleteConsent(ctx context.Context, citizenID, clientID string, audit ...store.AuditRecord) error
	ClientGrants(ctx context.Context, citizenID, clientID string) (families, sessions []string, err error)
	RevokeClientRefreshTokens(ctx context.Context, citizenID, clientID string) (int64, error)
	ListCitizenSessions(ctx context.Context, citizenID string) ([]store.Session, error)
	DeleteSession(ctx context.Context, id string, audit ...store.AuditRecord) error
	ListCitizenSigningRequests(ctx context.Context, citizenID string, limit int) ([]signing.Request, error)
	ListSigningRequests(ctx context.Context, clientID, subject string, limit int) ([]signing.Request, error)
	SignedPDF(ctx context.Context, id string, index int) ([]byte, error)
	CitizenCert(ctx context.Context, citizenID string) (signing.CitizenCert, error)
	ForgetCitizenKey(ctx context.Context, citizenID, serial string) error
	ListActorAudit(ctx context.Context, actor string, limit int) ([]store.AuditRecord, error)
	DeleteCitizen(ctx context.Context, citizenID string) error
}

// Provider is what the page uses of the OpenID Provider (idp.Provider).
type Provider interface {
	BrowserCitizen(r *http.Request) (citizenID, acr string, authTime time.Time, ok bool)
	BrowserSessionID(r *http.Request) string
	StepUpURL(returnPath, lang string) string
	SubjectFor(clientID, citizenID string) string
	ClientName(ctx context.Context, clientID string) string
	HasBackchannelLogout(ctx context.Context, clientID string) bool
	DenyAccessTokens(ctx context.Context, families []string) error
	NotifyLogout(ctx context.Context, citizenID, sessionID string, clientIDs ...string)
}

// Signing is what the page uses of the signing service (signing.Service).
type Signing interface {
	ForApproval(ctx context.Context, id, citizenID string, subjectForClient func(string) string) (signing.Request, error)
	Reject(ctx context.Context, id, citizenID string, subjectForClient func(string) string) (signing.Request, error)
}

// Revoker revokes a certificate at the CA that issued it (ca.DevCA): OCSP and the CRL
// answer revoked from then on.
type Revoker interface {
	RevokeCertificate(ctx context.Context, serial *big.Int, reason int, at time.Time) (*x509.Certificate, ca.Revocation, error)
	Revoked(ctx context.Context, serial *big.Int) (*ca.Revocation, error)
}

// Verifier verifies a signed PDF for the page's report (signing/verify with the
// deployment's trust roots).
type Verifier func(ctx context.Context, pdf []byte) (Verification, error)

// Verification is the part of a verification report the page shows.
type Verification struct {
	Indication    string    `json:"indication"`
	SubIndication string    `json:"sub_indication,omitempty"`
	Signer        string    `json:"signer,omitempty"`
	SigningTime   time.Time `json:"signing_time,omitzero"`
	Level         string    `json:"level,omitempty"`
	Report        any       `json:"report"` // the full report, for the JSON download
}

// Retention says until when Motlan keeps a request's documents: the signing service
// answers from the operator's retention configuration; DefaultRetention serves tests.
type Retention interface {
	KeptUntil(r signing.Request) time.Time
}

// DefaultRetention keeps signed documents for After (DefaultKeep when zero) after the
// request ended (its last update: signed, rejected, expired...).
type DefaultRetention struct{ After time.Duration }

// DefaultKeep is how long signed documents are kept without a retention configuration.
const DefaultKeep = 30 * 24 * time.Hour

func (d DefaultRetention) KeptUntil(r signing.Request) time.Time {
	after := d.After
	if after <= 0 {
		after = DefaultKeep
	}
	return r.UpdatedAt.Add(after)
}

// Config configures the page.
type Config struct {
	Store    Store
	Provider Provider
	Signing  Signing
	Revoker  Revoker // nil: the certificate section shows details only
	Verify   Verifier
	// Retention: nil means DefaultRetention{}.
	Retention Retention
	// Key (32 bytes or more) keys the CSRF tokens and the session handles.
	Key []byte
	// FreshLogin is how recent a level-2 login must be to revoke the certificate or
	// delete the data (default 5 minutes); FormTTL how long a form stays valid (30 min).
	FreshLogin, FormTTL time.Duration
	Audit               *audit.Logger
	Logger              *slog.Logger
	Now                 func() time.Time
}

// Page serves /me.
type Page struct {
	cfg Config
}

// Audit kinds of the citizen's own acts here (actor: the citizen).
const (
	KindConsentWithdraw = "consent.withdraw"
	KindSessionEnd      = "session.end"
	KindExport          = "account.export"
	KindDelete          = "account.delete"
)

// New builds the page.
func New(cfg Config) (*Page, error) {
	if cfg.Store == nil || cfg.Provider == nil || cfg.Signing == nil {
		return nil, errors.New("account: Store, Provider and Signing are required")
	}
	if len(cfg.Key) < 32 {
		return nil, errors.New("account: Key must be at least 32 bytes")
	}
	if cfg.Retention == nil {
		cfg.Retention = DefaultRetention{}
	}
	if cfg.FreshLogin <= 0 {
		cfg.FreshLogin = 5 * time.Minute
	}
	if cfg.FormTTL <= 0 {
		cfg.FormTTL = 30 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Page{cfg: cfg}, nil
}

// Paths under which the page is served.
const (
	PathPage = "/me"
)

// Handler routes /me and its actions.
func (p *Page) Handler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /me", p.handlePage)
	m.HandleFunc("GET /me/data.json", p.handleExport)
	m.HandleFunc("GET /me/documents/{id}/{index}", p.handleDocument)
	m.HandleFunc("GET /me/documents/{id}/{index}/report", p.handleReport)
	m.HandleFunc("POST /me/consents/{client}/withdraw", p.handleWithdraw)
	m.HandleFunc("POST /me/sessions/{handle}/end", p.handleEndSession)
	m.HandleFunc("POST /me/signing/{id}/reject", p.handleReject)
	m.HandleFunc("POST /me/certificate/revoke", p.handleRevoke)
	m.HandleFunc("POST /me/delete", p.handleDelete)
	m.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		p.message(w, r, http.StatusMethodNotAllowed, pickLang(r), "bad_request", "")
	})
	m.HandleFunc("/me/", func(w http.ResponseWriter, r *http.Request) {
		p.message(w, r, http.StatusNotFound, pickLang(r), "not_found", "")
	})
	return m
}

// citizen is the browser's citizen: any live Motlan session for reading; fresh, at level
// 2 and within maxAge of the login, when fresh is asked.
func (p *Page) citizen(r *http.Request, fresh bool) (string, bool) {
	id, acr, at, ok := p.cfg.Provider.BrowserCitizen(r)
	if !ok || id == "" {
		return "", false
	}
	if !fresh {
		return id, true
	}
	age := p.cfg.Now().Sub(at)
	return id, acr >= "2" && !at.IsZero() && age <= p.cfg.FreshLogin && age > -time.Minute
}

// sessionHandle names a session in the page without showing its id (the hash of the
// cookie), and differs per deployment.
func (p *Page) sessionHandle(sessionID string) string {
	m := hmac.New(sha256.New, p.cfg.Key)
	m.Write([]byte("motlan/me-session/v1\x00" + sessionID))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func (p *Page) subjectFor(citizenID string) func(string) string {
	return func(clientID string) string { return p.cfg.Provider.SubjectFor(clientID, citizenID) }
}

// records are the audit records of an act the store writes with the act itself (pending,
// sealed into the chain later: see kick). None without an audit log.
func (p *Page) records(kind, citizenID string, details map[string]any) ([]store.AuditRecord, error) {
	if p.cfg.Audit == nil {
		return nil, nil
	}
	rec, err := p.cfg.Audit.Records(audit.Event{Kind: kind, Actor: audit.Citizen(citizenID), Details: details})
	if err != nil {
		return nil, fmt.Errorf("account: audit record: %w", err)
	}
	return rec, nil
}

// kick asks the sealer to chain the pending records an act just wrote.
func (p *Page) kick() {
	if p.cfg.Audit != nil {
		p.cfg.Audit.Kick()
	}
}

func (p *Page) audit(ctx context.Context, kind, citizenID string, details map[string]any) {
	if p.cfg.Audit != nil {
		p.cfg.Audit.Log(ctx, audit.Event{Kind: kind, Actor: audit.Citizen(citizenID), Details: details})
	}
}
