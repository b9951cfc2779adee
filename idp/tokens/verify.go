package tokens

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"strings"
	"time"

	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
)

// Confirmation is RFC 7800's cnf claim with RFC 9449 6.1's jkt member.
type Confirmation struct {
	JKT string `json:"jkt"`
}

// ParseAccess verifies that tok is one of the provider's own access tokens (signature,
// typ, iss, aud) and returns its claims, expired and revoked ones included: revocation
// and introspection must recognise those.
func (t *Tokens) ParseAccess(ctx context.Context, tok string) (AccessClaims, bool) {
	var ac AccessClaims
	payload, hdr, err := t.cfg.Keys.Verify(ctx, tok)
	// typ at+jwt keeps an ID token from passing as an access token (RFC 9068 4).
	if err != nil || !strings.EqualFold(hdr.Type, "at+jwt") {
		return ac, false
	}
	if json.Unmarshal(payload, &ac) != nil || ac.Iss != t.cfg.Issuer || ac.Aud != t.cfg.Issuer || ac.Jti == "" {
		return ac, false
	}
	return ac, true
}

// CheckAccess verifies one of the provider's own access tokens and returns its claims:
// valid, unexpired and not revoked (RFC 7009). A store failure is oautherr.Internal's answer.
func (t *Tokens) CheckAccess(ctx context.Context, tok string) (AccessClaims, *oe.Error) {
	bad := oe.New(oe.InvalidToken, "the access token is invalid or expired")
	ac, ok := t.ParseAccess(ctx, tok)
	if !ok || t.cfg.Now().After(time.Unix(ac.Exp, 0)) {
		return ac, bad
	}
	switch revoked, err := t.Revoked(ctx, ac); {
	case err != nil:
		t.cfg.Logger.ErrorContext(ctx, "access token: read revocation", "err", err)
		return ac, oe.Internal(err)
	case revoked:
		return ac, oe.New(oe.InvalidToken, "the access token was revoked")
	}
	return ac, nil
}

// DenyFamily revokes every access token minted from a refresh token family (each lives
// at most AccessTokenTTL, so the denylist entry need not outlive that).
func (t *Tokens) DenyFamily(ctx context.Context, family string) error {
	d := t.FamilyDeny(family)
	return t.cfg.Store.RevokeToken(ctx, d.Key, d.Until)
}

// FamilyDeny is the denylist entry DenyFamily writes, for a caller that writes it in a
// transaction of its own (store.RefreshTokens.RevokeFamily).
func (t *Tokens) FamilyDeny(family string) store.Deny {
	return store.Deny{Key: FamilyDenyKey(t.FamilyRef(family)), Until: t.cfg.Now().Add(t.cfg.AccessTokenTTL)}
}

// MintService signs an access token a client gets for itself (client_credentials): sub
// is the client (RFC 9068 2.2), and no citizen is named.
func (t *Tokens) MintService(ctx context.Context, clientID, scope, jkt string) (Set, error) {
	now := t.cfg.Now()
	at := AccessClaims{
		Iss: t.cfg.Issuer, Sub: clientID, Aud: t.cfg.Issuer, Exp: now.Add(t.cfg.AccessTokenTTL).Unix(), Iat: now.Unix(),
		Jti: rand.Text(), ClientID: clientID, Scope: scope, Cnf: Cnf(jkt),
	}
	b, err := json.Marshal(at)
	if err != nil {
		return Set{}, err
	}
	tok, err := t.cfg.Keys.Sign(ctx, "ES256", "at+jwt", b)
	if err != nil {
		return Set{}, err
	}
	return Set{AccessToken: tok, TokenType: TokenType(jkt), ExpiresIn: int64(t.cfg.AccessTokenTTL.Seconds()), Scope: at.Scope}, nil
}
