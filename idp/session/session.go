package session

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/motlan/motlan/idp/eid"
	"github.com/motlan/motlan/idp/internal/seal"
	"github.com/motlan/motlan/idp/internal/web"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/idp/tokens"
	"github.com/motlan/motlan/internal/audit"
)

// Cookie names the browser's session cookie.
const Cookie = "motlan_session"

// Store is what sessions need of the store.
type Store interface {
	store.Sessions
	store.Logins
	SessionClients(ctx context.Context, sessionID string) ([]string, error)
}

// Config configures a Manager.
type Config struct {
	Issuer  string
	Base    string // issuer path prefix, "" for a root issuer
	Store   Store
	Clients Clients
	Tokens  *tokens.Tokens
	Keys    tokens.Keys // verifies id_token_hint, signs logout tokens
	EID     eid.Connector
	Pages   *web.Pages
	Cookies web.Cookies
	Seal    *seal.Box
	SidKey  []byte // keys the logout confirmation's CSRF token

	SessionTTL         time.Duration
	BackchannelClient  *http.Client
	BackchannelBackoff time.Duration
	Now                func() time.Time
	Logger             *slog.Logger
	Audit              *audit.Logger
}

// Clients finds registered clients.
type Clients interface {
	Get(ctx context.Context, id string) (store.Client, bool)
}

// Manager owns the browser's sessions.
type Manager struct {
	cfg  Config
	bcWG sync.WaitGroup // back-channel logouts under way
}

// New builds a Manager.
func New(cfg Config) *Manager { return &Manager{cfg: cfg} }

// Current returns the browser's live session, if any.
func (m *Manager) Current(r *http.Request) (store.Session, bool) {
	c, err := r.Cookie(Cookie)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return store.Session{}, false
	}
	s, err := m.cfg.Store.GetSession(r.Context(), web.HashID(c.Value))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			m.cfg.Logger.WarnContext(r.Context(), "read session", "err", err)
		}
		return store.Session{}, false
	}
	return s, true
}

// Open records what the eID verified and starts a fresh session, storing code (if
// not nil) with it. A new session ID on every login prevents session fixation.
//
// once, when not nil, makes the login single-use (the sealed login transaction's). why goes
// into the login's audit record (the client it is for, or the step-up's purpose), which is
// written with the login, so no login reaches a client unrecorded; Open kicks the sealer.
func (m *Manager) Open(w http.ResponseWriter, r *http.Request, why map[string]any, id eid.Identity, code *store.AuthCode, once *store.Once) (store.Session, error) {
	ctx := r.Context()
	now := m.cfg.Now()
	level := 1
	if id.ACR == "2" {
		level = 2
	}
	attrs := make(map[string]store.Attribute, len(id.Attributes))
	for k, v := range id.Attributes {
		// Kept as the eID stated it: whether it vouched for the value, its own acr and
		// amr, its updated_at; the time of this login is the verification time.
		attrs[k] = store.Attribute{Value: v, Source: id.Issuer, Level: level, VerifiedAt: now,
			Verified: id.Verified[k], ACR: id.UpstreamACR, AMR: id.AMR, EIDUpdatedAt: id.UpdatedAt}
	}
	var cccd string
	if raw, ok := id.Attributes["cccd"]; ok {
		_ = json.Unmarshal(raw, &cccd)
	}
	authTime := id.AuthTime
	if authTime.IsZero() || authTime.After(now) {
		authTime = now
	}
	secret := web.NewSecret(now)
	s := store.Session{
		ID: web.HashID(secret), AuthTime: authTime, ACR: id.ACR, AMR: id.AMR,
		UpstreamIDToken: m.logoutHint(id.RawIDToken), CreatedAt: now, ExpiresAt: now.Add(m.cfg.SessionTTL),
	}
	if code != nil {
		code.SessionID, code.AuthTime, code.ACR, code.AMR = s.ID, s.AuthTime, s.ACR, s.AMR
	}
	old, hadSession := m.Current(r)
	details := map[string]any{"acr": s.ACR, "amr": s.AMR}
	maps.Copy(details, why)
	cit, err := m.cfg.Store.RecordLogin(ctx, store.Login{
		// A returning citizen keeps the stored ID; a new one gets this time-sorted one.
		Citizen: store.Citizen{ID: web.NewCitizenID(now), Issuer: id.Issuer, Subject: id.Subject, CCCD: cccd, Attributes: attrs},
		Session: s, Code: code, Once: once,
		Audit: func(c store.Citizen) ([]store.AuditRecord, error) {
			return m.cfg.Audit.Records(audit.Event{Kind: audit.KindLogin, Actor: audit.Citizen(c.ID), Details: details})
		},
	})
	if err != nil {
		return store.Session{}, err
	}
	m.cfg.Audit.Kick()
	s.CitizenID = cit.ID
	// Another person logging in on this browser ends the previous person's session. The same
	// citizen logging in again keeps the old one alive (unreachable from the browser, whose
	// cookie changes) so refresh tokens other clients hold for it keep working.
	if hadSession && old.CitizenID != cit.ID {
		if err := m.cfg.Store.DeleteSession(ctx, old.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Session{}, err
		}
	}
	http.SetCookie(w, m.cfg.Cookies.Cookie(Cookie, secret, int(m.cfg.SessionTTL.Seconds()), web.CookiePath(m.cfg.Base)))
	return s, nil
}

// Same reports whether the browser's session is the one a transaction belongs to.
func Same(r *http.Request, sessionID string) bool {
	c, err := r.Cookie(Cookie)
	if err != nil || sessionID == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(web.HashID(c.Value)), []byte(sessionID)) == 1
}

// BrowserCitizen is the citizen logged in on this browser, with the level and time of
// their last eID login.
func (m *Manager) BrowserCitizen(r *http.Request) (citizenID, acr string, authTime time.Time, ok bool) {
	s, ok := m.Current(r)
	if !ok {
		return "", "", time.Time{}, false
	}
	return s.CitizenID, s.ACR, s.AuthTime, true
}
