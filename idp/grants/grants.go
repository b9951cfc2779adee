package grants

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/dpop"
	"github.com/motlan/motlan/idp/internal/web"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/idp/tokens"
	"github.com/motlan/motlan/internal/audit"
)

// Store is what the grants need of the store.
type Store interface {
	store.Logins
	store.RefreshTokens
	GetSession(ctx context.Context, id string) (store.Session, error)
	GetCitizen(ctx context.Context, id string) (store.Citizen, error)
}

// Config configures the grants that issue refresh tokens.
type Config struct {
	Store  Store
	Tokens *tokens.Tokens
	// RefreshTTL is a refresh token's lifetime without offline_access (capped by the
	// session), OfflineRefreshTTL with it; RefreshReuseGrace and
	// RefreshReuseGraceClients are idp.Config's.
	RefreshTTL               time.Duration
	OfflineRefreshTTL        time.Duration
	RefreshReuseGrace        time.Duration
	RefreshReuseGraceClients map[string]time.Duration
	Now                      func() time.Time
	Logger                   *slog.Logger
	// Audit makes the records of a revocation on replay (nil: none).
	Audit *audit.Logger
}

// All returns the three grants, in the order discovery lists them.
func All(cfg Config) []Grant {
	r := redeemer{&families{cfg: cfg}}
	return []Grant{&AuthorizationCode{r}, &RefreshToken{r}, &ClientCredentials{Tokens: cfg.Tokens}}
}

// redeemer is what the grants that redeem something (a code, a refresh token) share: the
// refresh token families, and a client and scope policy that lives in what is redeemed.
type redeemer struct {
	*families
}

// RequiresClientAuth is false: a public client redeems a code with PKCE, and its refresh
// token is bound to its DPoP key.
func (redeemer) RequiresClientAuth() bool { return false }

// CheckScope allows anything here: a code carries its scopes, and a narrower scope at
// refresh is checked against the original grant in Handle, once the token is known.
func (redeemer) CheckScope(store.Client, string) *oe.Error { return nil }

// families is what the code and refresh grants share: refresh token records and their
// families.
type families struct {
	cfg Config
}

// value makes a new refresh token value: bound to the DPoP key for a public client,
// whose refresh token is otherwise a bearer credential (RFC 9449 5); a confidential
// client's is already bound to its client authentication.
func (f *families) value(client store.Client, jkt string) string {
	secret := web.NewSecret(f.cfg.Now())
	if client.AuthMethod != "none" {
		return secret
	}
	return dpop.BindRefresh(secret, jkt)
}

// record builds a refresh token. Without offline_access it lives no longer than
// the session it came from.
func (f *families) record(g tokens.Source, family, id string) store.RefreshToken {
	now := f.cfg.Now()
	ttl := f.cfg.RefreshTTL
	if slices.Contains(g.Scopes, "offline_access") {
		ttl = f.cfg.OfflineRefreshTTL
	}
	return store.RefreshToken{
		ID: id, FamilyID: family, ClientID: g.ClientID, CitizenID: g.CitizenID, SessionID: g.SessionID,
		Scopes: g.Scopes, Claims: g.Claims, AuthTime: g.AuthTime, ACR: g.ACR, AMR: g.AMR,
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
}

// revoke ends a refresh token family and the access tokens minted from it, because what
// clientID presented (a code, a refresh token) was presented before: the family's refresh
// tokens revoked, its access tokens denylisted and the audit record, all in one
// transaction; a family revoked already changes nothing and writes no record.
func (f *families) revoke(ctx context.Context, clientID, family, why string) {
	rec, err := f.cfg.Audit.Records(audit.Event{Kind: audit.KindTokenRevoke, Actor: audit.Client(clientID),
		Details: map[string]any{"token_type": "refresh_token", "reason": why}})
	if err == nil {
		_, err = f.cfg.Store.RevokeFamily(ctx, family, f.cfg.Tokens.FamilyDeny(family), rec...)
	}
	if err != nil {
		f.cfg.Logger.ErrorContext(ctx, "revoke a refresh token family", "reason", why, "err", err)
	}
}

// ServiceScopes are the scopes a client may ask for with client_credentials: they name
// Motlan's own APIs, never citizen data ("service": the CSC API v2 server).
var ServiceScopes = []string{"signing", "admin", "service"}

// ClientCredentials gives a confidential client an access token for Motlan's own APIs
// (RFC 6749 4.4); sub is the client itself (RFC 9068 2.2).
type ClientCredentials struct {
	Tokens *tokens.Tokens
}

// Type is client_credentials.
func (*ClientCredentials) Type() string { return "client_credentials" }

// RequiresClientAuth is true: a public client has no credentials of its own.
func (*ClientCredentials) RequiresClientAuth() bool { return true }

// CheckScope requires scopes, each a service scope the client is allowed.
func (*ClientCredentials) CheckScope(client store.Client, scope string) *oe.Error {
	scopes := strings.Fields(scope)
	if len(scopes) == 0 {
		return oe.New(oe.InvalidScope, "scope is required (for example: signing)")
	}
	for _, s := range scopes {
		if !slices.Contains(ServiceScopes, s) || !slices.Contains(client.AllowedScopes, s) {
			return oe.New(oe.InvalidScope, "a requested scope is not allowed for client_credentials%s", web.Named(s))
		}
	}
	return nil
}

// Handle signs the access token.
func (g *ClientCredentials) Handle(ctx context.Context, req Request) (tokens.Set, error) {
	scope := strings.Join(web.Dedupe(strings.Fields(req.Form.Get("scope"))), " ")
	return g.Tokens.MintService(ctx, req.Client.ID, scope, req.JKT)
}

var (
	_ Grant = (*AuthorizationCode)(nil)
	_ Grant = (*RefreshToken)(nil)
	_ Grant = (*ClientCredentials)(nil)
)
