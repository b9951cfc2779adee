package grants

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/dpop"
	"github.com/motlan/motlan/idp/internal/web"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/idp/tokens"
)

// RefreshToken rotates a refresh token (RFC 6749 6, RFC 9700 4.14.2): the old one is
// spent, and spending it twice revokes the whole family, unless the same client retries
// within its reuse grace (see idp.Config), which only a confidential client or a DPoP-bound
// token has. A DPoP-bound refresh token needs a proof by its key (RFC 9449 5).
type RefreshToken struct{ redeemer }

// Type is refresh_token.
func (*RefreshToken) Type() string { return "refresh_token" }

// Handle rotates the token.
func (g *RefreshToken) Handle(ctx context.Context, req Request) (tokens.Set, error) {
	f, client, jkt := g.families, req.Client, req.JKT
	raw := req.Form.Get("refresh_token")
	if raw == "" || len(raw) > 256 {
		return tokens.Set{}, oe.New(oe.InvalidRequest, "refresh_token is required")
	}
	old, err := f.cfg.Store.GetRefreshToken(ctx, web.HashID(raw))
	if errors.Is(err, store.ErrNotFound) {
		return tokens.Set{}, oe.New(oe.InvalidGrant, "the refresh token is unknown or expired")
	} else if err != nil {
		return tokens.Set{}, err
	}
	if old.ClientID != client.ID {
		return tokens.Set{}, oe.New(oe.InvalidGrant, "the refresh token was issued to another client")
	}
	// Checked before anything else, so that whoever lacks the key learns and changes nothing.
	if bound := dpop.RefreshJKT(raw); bound != "" && jkt == "" {
		return tokens.Set{}, dpop.OAuthError(dpop.ErrMissing, http.StatusBadRequest)
	} else if bound != "" && bound != jkt {
		return tokens.Set{}, oe.New(oe.InvalidGrant, "the refresh token is bound to another DPoP key")
	}
	if old.Revoked {
		// Either the family is revoked already (revoking it again changes nothing), or this
		// is a successor a retry replaced, now presented by whoever did receive it: two
		// parties hold the family, so it ends.
		f.revoke(ctx, client.ID, old.FamilyID, "refresh_token_replayed")
		return tokens.Set{}, oe.New(oe.InvalidGrant, "the refresh token was revoked")
	}
	grace := f.grace(client, dpop.RefreshJKT(raw) != "")
	if !old.UsedAt.IsZero() && !f.inReuseGrace(grace, old.UsedAt) {
		f.revoke(ctx, client.ID, old.FamilyID, "refresh_token_reused")
		return tokens.Set{}, oe.New(oe.InvalidGrant, "the refresh token was already used")
	}
	scopes := old.Scopes
	if s := req.Form.Get("scope"); s != "" {
		scopes = strings.Fields(s)
		for _, sc := range scopes {
			if !slices.Contains(old.Scopes, sc) {
				return tokens.Set{}, oe.New(oe.InvalidScope, "a requested scope was not granted originally%s", web.Named(sc))
			}
		}
	}
	if !slices.Contains(old.Scopes, "offline_access") {
		// An online refresh token dies with its session (logout, expiry).
		if _, err := f.cfg.Store.GetSession(ctx, old.SessionID); err != nil {
			return tokens.Set{}, oe.New(oe.InvalidGrant, "the session of this refresh token has ended")
		}
	}
	src := tokens.Source{
		ClientID: client.ID, CitizenID: old.CitizenID, SessionID: old.SessionID, Scopes: scopes,
		Claims: old.Claims, AuthTime: old.AuthTime, ACR: old.ACR, AMR: old.AMR, Family: old.FamilyID,
	}
	// The tokens are drafted first, so that the client's subject, the claims the ID token
	// releases and the release's audit record are stored with the rotation, in its
	// transaction; they are signed after it.
	draft, err := f.cfg.Tokens.Draft(ctx, client, src, jkt, func() (store.Citizen, error) {
		return f.cfg.Store.GetCitizen(ctx, old.CitizenID)
	})
	if err != nil {
		return tokens.Set{}, err
	}
	secret := f.value(client, jkt)
	next := f.record(src, old.FamilyID, web.HashID(secret))
	next.Scopes = old.Scopes // a narrower request narrows this response, not the family
	next.ExpiresAt = old.ExpiresAt
	switch err := f.rotate(ctx, old, next, grace, draft.Records()); {
	case errors.Is(err, store.ErrAlreadyUsed), errors.Is(err, store.ErrConflict):
		f.revoke(ctx, client.ID, old.FamilyID, "refresh_token_reused")
		return tokens.Set{}, oe.New(oe.InvalidGrant, "the refresh token was already used")
	case errors.Is(err, store.ErrNotFound):
		return tokens.Set{}, oe.New(oe.InvalidGrant, "the refresh token is unknown or expired")
	case err != nil:
		return tokens.Set{}, err
	}
	set, err := f.cfg.Tokens.Sign(ctx, draft)
	if err != nil {
		return tokens.Set{}, err
	}
	set.RefreshToken = secret
	return set, nil
}

// rotate spends old for next. A token spent within the reuse grace window (by an earlier
// request whose response was lost, or by one racing this one) is rotated again: next
// replaces the successor. ErrAlreadyUsed means the reuse is a replay. m is stored with
// next.
func (f *families) rotate(ctx context.Context, old, next store.RefreshToken, grace time.Duration, m store.Minted) error {
	if old.UsedAt.IsZero() {
		err := f.cfg.Store.RotateRefreshToken(ctx, old.ID, next, m)
		if !errors.Is(err, store.ErrAlreadyUsed) {
			return err
		}
		// A concurrent request spent it after we read it: read when.
		if old, err = f.cfg.Store.GetRefreshToken(ctx, old.ID); err != nil {
			return err
		}
		if old.UsedAt.IsZero() {
			return store.ErrAlreadyUsed
		}
	}
	if !f.inReuseGrace(grace, old.UsedAt) {
		return store.ErrAlreadyUsed
	}
	return f.cfg.Store.RotateRefreshTokenAgain(ctx, old.ID, next, m)
}

// grace is the reuse grace of a client's refresh token: the client's own, else the
// default; none for a public client's bearer token, which a thief could replay in the
// window (RFC 9700 4.14.2).
func (f *families) grace(client store.Client, dpopBound bool) time.Duration {
	if client.AuthMethod == "none" && !dpopBound {
		return 0
	}
	if g, ok := f.cfg.RefreshReuseGraceClients[client.ID]; ok {
		return g
	}
	return f.cfg.RefreshReuseGrace
}

// inReuseGrace reports whether a refresh token spent at usedAt may still be retried.
func (f *families) inReuseGrace(grace time.Duration, usedAt time.Time) bool {
	return grace > 0 && !f.cfg.Now().After(usedAt.Add(grace))
}
