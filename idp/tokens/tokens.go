package tokens

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/motlan/motlan/idp/internal/seal"
	"github.com/motlan/motlan/idp/internal/web"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/keys"
)

// Keys signs the provider's tokens and verifies its own. keys.Manager implements it.
type Keys interface {
	Sign(ctx context.Context, alg, typ string, payload []byte) (string, error)
	// Verify checks a token the provider signed and returns its payload and header.
	Verify(ctx context.Context, token string) ([]byte, keys.Header, error)
}

// Store is what minting and verifying read and record.
type Store interface {
	store.Citizens
	store.Releases
	store.Subjects
	store.RevokedTokens
}

// Config configures Tokens.
type Config struct {
	Issuer string
	Keys   Keys
	Store  Store
	// Seal seals the citizen reference; Pairwise salts pairwise subjects; SidKey keys sid
	// and the family reference. All derive from the provider's secret.
	Seal           *seal.Box
	Pairwise       []byte
	SidKey         []byte
	AccessTokenTTL time.Duration
	IDTokenTTL     time.Duration
	Now            func() time.Time
	Audit          *audit.Logger
	Logger         *slog.Logger
}

// Tokens mints and verifies the provider's tokens.
type Tokens struct {
	cfg Config

	// recorded holds the (client, subject) pairs this process has stored with
	// the grant (see Draft), so that refreshes, which mint again and again for one pair, cost no
	// store read. Cleared when full: recording again is harmless.
	mu       sync.Mutex
	recorded map[string]struct{}
}

// maxRecorded bounds Tokens.recorded.
const maxRecorded = 100_000

// New builds Tokens.
func New(cfg Config) *Tokens { return &Tokens{cfg: cfg, recorded: map[string]struct{}{}} }

// known reports whether this process stored the (client, subject) pair already.
func (t *Tokens) known(clientID, sub string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, done := t.recorded[clientID+"\x00"+sub]
	return done
}

// remember notes that the (client, subject) pair is stored.
func (t *Tokens) remember(clientID, sub string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.recorded) >= maxRecorded {
		clear(t.recorded)
	}
	t.recorded[clientID+"\x00"+sub] = struct{}{}
}

// Source is what a token response is minted from: an authorization code or a refresh token.
type Source struct {
	ClientID  string
	CitizenID string
	SessionID string
	Scopes    []string
	Nonce     string
	Claims    json.RawMessage
	AuthTime  time.Time
	ACR       string
	AMR       []string
	Family    string // the refresh token family (named after the code); its access tokens die with it
}

// Subject is the sub a client sees: pairwise per sector by default (OIDC Core 8.1), so two
// relying parties cannot join their records on it.
func (t *Tokens) Subject(c store.Client, citizenID string) string {
	if c.SubjectType == "public" {
		return web.PublicSubject(citizenID)
	}
	m := hmac.New(sha256.New, t.cfg.Pairwise)
	m.Write([]byte(sectorOf(c)))
	m.Write([]byte{0})
	m.Write([]byte(citizenID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sectorOf is the host all redirect URIs share, else the client ID (no sector_identifier_uri).
func sectorOf(c store.Client) string {
	host := ""
	for _, r := range c.RedirectURIs {
		u, err := url.Parse(r)
		if err != nil {
			return c.ID
		}
		if host != "" && u.Host != host {
			return c.ID
		}
		host = u.Host
	}
	if host == "" {
		return c.ID
	}
	return host
}

// Sid names the session to clients without revealing the cookie's hash.
func (t *Tokens) Sid(sessionID string) string {
	m := hmac.New(sha256.New, t.cfg.SidKey)
	m.Write([]byte(sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// SealCitizen hides Motlan's citizen ID inside the access token (AES-256-GCM, random
// nonce) so userinfo can find the citizen without a token table, and clients cannot
// correlate.
func (t *Tokens) SealCitizen(citizenID, clientID string) string {
	return t.cfg.Seal.SealString(citizenID, clientID)
}

// UnsealCitizen opens a sealed citizen reference of a token issued to clientID.
func (t *Tokens) UnsealCitizen(sealed, clientID string) (string, error) {
	return t.cfg.Seal.OpenString(sealed, clientID)
}

// maxClaimsInToken bounds the claims request an access token carries for userinfo, so a
// client cannot inflate every token it presents; a larger request's userinfo part is
// answered by scope alone (its ID token part is unaffected).
const maxClaimsInToken = 4 << 10

// AccessClaims is an RFC 9068 JWT access token's payload.
type AccessClaims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Aud      string   `json:"aud"`
	Exp      int64    `json:"exp"`
	Iat      int64    `json:"iat"`
	Jti      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope"`
	AuthTime int64    `json:"auth_time"`
	ACR      string   `json:"acr,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	Sid      string   `json:"sid,omitempty"`
	Cit      string   `json:"cit"` // sealed citizen reference, opaque to clients
	// Fam is the grant's FamilyRef: revoking the family revokes this token.
	Fam string `json:"fam,omitempty"`
	// Cnf binds the token to a DPoP key (RFC 9449 6.1); nil for a bearer token.
	Cnf *Confirmation `json:"cnf,omitempty"`
	// Clm is the grant's claims request when it asks anything of userinfo (individual
	// claims or verified_claims), so userinfo answers it without a token table. It is the
	// client's own request: nothing in it is secret from the client.
	Clm string `json:"clm,omitempty"`
}

// FamilyRef names a refresh token family inside access tokens without revealing its ID
// (the hash of the code).
func (t *Tokens) FamilyRef(family string) string {
	m := hmac.New(sha256.New, t.cfg.SidKey)
	m.Write([]byte("family\x00" + family))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// FamilyDenyKey is the denylist entry that revokes every access token of a family.
func FamilyDenyKey(ref string) string { return "fam:" + ref }

// Revoked reports whether an access token was revoked by its jti or with its family
// (a replayed code or refresh token, RFC 6749 4.1.2, RFC 9700 4.14.2).
func (t *Tokens) Revoked(ctx context.Context, ac AccessClaims) (bool, error) {
	revoked, err := t.cfg.Store.TokenRevoked(ctx, ac.Jti)
	if err != nil || revoked || ac.Fam == "" {
		return revoked, err
	}
	return t.cfg.Store.TokenRevoked(ctx, FamilyDenyKey(ac.Fam))
}

// Set is the token endpoint's success body.
type Set struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// Cnf is the cnf claim binding a token to a DPoP key, nil for none.
func Cnf(jkt string) *Confirmation {
	if jkt == "" {
		return nil
	}
	return &Confirmation{JKT: jkt}
}

// TokenType is the token_type of an access token (RFC 9449 5: DPoP when bound).
func TokenType(jkt string) string {
	if jkt == "" {
		return "Bearer"
	}
	return "DPoP"
}
