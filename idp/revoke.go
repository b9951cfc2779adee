package idp

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
)

// tokenEndpointRequest reads a POST to revocation or introspection the way the token
// endpoint reads its requests, and authenticates the client through authenticateClient.
// Only confidential clients may call these endpoints. On failure it has written the
// error response and ok is false.
func (p *Provider) tokenEndpointRequest(w http.ResponseWriter, r *http.Request) (c store.Client, token string, ok bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		oe.WriteJSON(w, &oe.Error{Code: oe.InvalidRequest, Description: "this endpoint takes POST", Status: http.StatusMethodNotAllowed}, false)
		return c, "", false
	}
	if e := parseTokenForm(r); e != nil {
		oe.WriteJSON(w, e, false)
		return c, "", false
	}
	c, basic, e := p.authenticateClient(r.Context(), r)
	if e == nil && c.AuthMethod == "none" {
		e = oe.New(oe.InvalidClient, "this endpoint requires client authentication; public clients cannot use it")
	}
	if e != nil {
		oe.WriteJSON(w, e, basic)
		return c, "", false
	}
	token = r.PostForm.Get("token")
	if token == "" {
		oe.WriteJSON(w, oe.New(oe.InvalidRequest, "token is required"), false)
		return c, "", false
	}
	return c, token, true
}

// looksLikeJWT tells the provider's access tokens (JWS compact form) from its refresh
// tokens (opaque, no dots). The two forms are disjoint, so token_type_hint (RFC 7009 2.1,
// RFC 7662 2.1) only says where to look first, and is not needed: an unknown hint value is
// ignored, as both RFCs have the server extend its search to every type.
func looksLikeJWT(tok string) bool { return strings.Count(tok, ".") == 2 }

// maxTokenLen bounds what is looked up: refresh tokens are 52 characters, access tokens a
// few hundred.
const maxTokenLen = 4096

// handleRevoke is RFC 7009. A refresh token revokes its whole family and the access tokens
// minted from it (the SHOULD of 2.1); an access token is denylisted by jti until it
// expires, leaving its refresh token alone (2.1 lets the server choose). A token of
// another client, or one that is unknown, expired or already revoked, gets 200 with nothing
// done (RFC 7009 2.2).
func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) {
	client, tok, ok := p.tokenEndpointRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	what, err := p.revoke(ctx, client, tok)
	if err != nil {
		p.log.ErrorContext(ctx, "revoke", "client_id", client.ID, "err", err)
		oe.WriteJSON(w, oe.As(err), false)
		return
	}
	if what != "" {
		p.cfg.Audit.Log(ctx, audit.Event{Kind: audit.KindTokenRevoke, Actor: audit.Client(client.ID), Details: map[string]any{"token_type": what}})
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// revoke revokes tok and says what it was ("" when nothing was done).
func (p *Provider) revoke(ctx context.Context, client store.Client, tok string) (string, error) {
	if len(tok) > maxTokenLen {
		return "", nil
	}
	if looksLikeJWT(tok) {
		at, ok := p.parseAccessToken(ctx, tok)
		exp := time.Unix(at.Exp, 0)
		if !ok || at.ClientID != client.ID || !p.now().Before(exp) {
			return "", nil
		}
		return "access_token", p.store.RevokeToken(ctx, at.Jti, exp)
	}
	rt, err := p.store.GetRefreshToken(ctx, hashID(tok))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", nil
	case err != nil:
		return "", err
	case rt.ClientID != client.ID || rt.Revoked:
		return "", nil
	}
	if err := p.store.RevokeRefreshFamily(ctx, rt.FamilyID); err != nil {
		return "", err
	}
	return "refresh_token", p.store.RevokeToken(ctx, familyDenyKey(p.familyRef(rt.FamilyID)), p.now().Add(p.cfg.AccessTokenTTL))
}
