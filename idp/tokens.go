package idp

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/claims"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/keys"
)

// grant is what a token response is minted from: an authorization code or a refresh token.
type grant struct {
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

// subject is the sub a client sees: pairwise per sector by default (OIDC Core 8.1), so two
// relying parties cannot join their records on it.
func (p *Provider) subject(c store.Client, citizenID string) string {
	if c.SubjectType == "public" {
		return citizenID
	}
	m := hmac.New(sha256.New, p.pairwise)
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

// sid names the session to clients without revealing the cookie's hash.
func (p *Provider) sid(sessionID string) string {
	m := hmac.New(sha256.New, p.sidKey)
	m.Write([]byte(sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// sealCitizen hides Motlan's citizen ID inside the access token (AES-256-GCM, random nonce)
// so userinfo can find the citizen without a token table, and clients cannot correlate.
func (p *Provider) sealCitizen(citizenID, clientID string) (string, error) {
	gcm, err := p.gcm()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(citizenID)+gcm.Overhead())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(citizenID), []byte(clientID))), nil
}

func (p *Provider) unsealCitizen(sealed, clientID string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return "", err
	}
	gcm, err := p.gcm()
	if err != nil {
		return "", err
	}
	if len(raw) < gcm.NonceSize() {
		return "", errors.New("sealed citizen too short")
	}
	pt, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], []byte(clientID))
	return string(pt), err
}

func (p *Provider) gcm() (cipher.AEAD, error) {
	b, err := aes.NewCipher(p.sealKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// accessClaims is an RFC 9068 JWT access token's payload.
type accessClaims struct {
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
	// Fam is the grant's familyRef: revoking the family revokes this token.
	Fam string `json:"fam,omitempty"`
	// Cnf binds the token to a DPoP key (RFC 9449 6.1); nil for a bearer token.
	Cnf *confirmation `json:"cnf,omitempty"`
}

// familyRef names a refresh token family inside access tokens without revealing its ID
// (the hash of the code).
func (p *Provider) familyRef(family string) string {
	m := hmac.New(sha256.New, p.sidKey)
	m.Write([]byte("family\x00" + family))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// familyDenyKey is the denylist entry that revokes every access token of a family.
func familyDenyKey(ref string) string { return "fam:" + ref }

// accessRevoked reports whether an access token was revoked by its jti or with its family
// (a replayed code or refresh token, RFC 6749 4.1.2, RFC 9700 4.14.2).
func (p *Provider) accessRevoked(ctx context.Context, ac accessClaims) (bool, error) {
	revoked, err := p.store.TokenRevoked(ctx, ac.Jti)
	if err != nil || revoked || ac.Fam == "" {
		return revoked, err
	}
	return p.store.TokenRevoked(ctx, familyDenyKey(ac.Fam))
}

// tokenSet is the token endpoint's success body.
type tokenSet struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// mint signs the access token and ID token for a grant and records any claims released
// in the ID token. A non-empty jkt binds the access token to that DPoP key.
func (p *Provider) mint(ctx context.Context, c store.Client, g grant, jkt string) (tokenSet, error) {
	now := p.now()
	sub := p.subject(c, g.CitizenID)
	cit, err := p.sealCitizen(g.CitizenID, c.ID)
	if err != nil {
		return tokenSet{}, err
	}
	alg := c.IDTokenAlg
	if alg == "" {
		alg = "ES256"
	}
	sid := ""
	if g.SessionID != "" {
		sid = p.sid(g.SessionID)
	}
	at := accessClaims{
		Iss: p.cfg.Issuer, Sub: sub, Aud: p.cfg.Issuer, Exp: now.Add(p.cfg.AccessTokenTTL).Unix(), Iat: now.Unix(),
		Jti: rand.Text(), ClientID: c.ID, Scope: strings.Join(g.Scopes, " "), AuthTime: g.AuthTime.Unix(),
		ACR: g.ACR, AMR: g.AMR, Sid: sid, Cit: cit, Cnf: cnfFor(jkt),
	}
	if g.Family != "" {
		at.Fam = p.familyRef(g.Family)
	}
	atJSON, err := json.Marshal(at)
	if err != nil {
		return tokenSet{}, err
	}
	// Access tokens are always ES256: only the provider verifies them.
	access, err := p.cfg.Keys.Sign(ctx, "ES256", "at+jwt", atJSON)
	if err != nil {
		return tokenSet{}, fmt.Errorf("sign access token: %w", err)
	}
	atHash, err := keys.LeftHalfHash(alg, access)
	if err != nil {
		return tokenSet{}, err
	}
	id := map[string]any{
		"iss": p.cfg.Issuer, "sub": sub, "aud": c.ID, "azp": c.ID,
		"exp": now.Add(p.cfg.IDTokenTTL).Unix(), "iat": now.Unix(), "auth_time": g.AuthTime.Unix(),
		"at_hash": atHash,
	}
	if g.Nonce != "" {
		id["nonce"] = g.Nonce
	}
	if g.ACR != "" {
		id["acr"] = g.ACR
	}
	if len(g.AMR) > 0 {
		id["amr"] = g.AMR
	}
	if sid != "" {
		id["sid"] = sid
	}
	var req claims.Request
	if len(g.Claims) > 0 {
		req, _ = claims.Parse(string(g.Claims)) // validated at /authorize
	}
	if names := claims.Select(g.Scopes, c.AllowedScopes, req, claims.IDToken); len(names) > 0 {
		cit, err := p.store.GetCitizen(ctx, g.CitizenID)
		if err != nil {
			return tokenSet{}, fmt.Errorf("read citizen: %w", err)
		}
		released := addClaims(id, cit, names)
		if err := p.store.RecordRelease(ctx, store.Release{CitizenID: g.CitizenID, ClientID: c.ID, Claims: released, Via: "id_token", At: now}); err != nil {
			return tokenSet{}, fmt.Errorf("record release: %w", err)
		}
		p.cfg.Audit.Log(ctx, audit.Event{Kind: audit.KindRelease, Actor: audit.Citizen(g.CitizenID), Details: map[string]any{"client": c.ID, "claims": released, "via": "id_token"}})
	}
	idJSON, err := json.Marshal(id)
	if err != nil {
		return tokenSet{}, err
	}
	idToken, err := p.cfg.Keys.Sign(ctx, alg, "", idJSON)
	if err != nil {
		return tokenSet{}, fmt.Errorf("sign id token: %w", err)
	}
	return tokenSet{
		AccessToken: access, TokenType: tokenType(jkt), ExpiresIn: int64(p.cfg.AccessTokenTTL.Seconds()),
		IDToken: idToken, Scope: at.Scope,
	}, nil
}

// addClaims copies the named attributes of a citizen into dst and returns the names
// actually released (attributes the citizen lacks are left out, as OIDC Core 5.3.2 says).
func addClaims(dst map[string]any, cit store.Citizen, names []string) []string {
	released := make([]string, 0, len(names))
	for _, n := range names {
		switch n {
		case "updated_at":
			if !cit.UpdatedAt.IsZero() {
				dst[n] = cit.UpdatedAt.Unix()
				released = append(released, n)
			}
			continue
		case "phone_number_verified":
			if _, ok := cit.Attributes["phone_number"]; ok {
				dst[n] = true
				released = append(released, n)
			}
			continue
		}
		a, ok := cit.Attributes[n]
		if !ok || len(a.Value) == 0 {
			continue
		}
		dst[n] = a.Value
		released = append(released, n)
	}
	return released
}

// cnfFor is the cnf claim binding a token to a DPoP key, nil for none.
func cnfFor(jkt string) *confirmation {
	if jkt == "" {
		return nil
	}
	return &confirmation{JKT: jkt}
}

// tokenType is the token_type of an access token (RFC 9449 5: DPoP when bound).
func tokenType(jkt string) string {
	if jkt == "" {
		return "Bearer"
	}
	return "DPoP"
}
