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

// Handle rotates the token. The token is read, checked and rotated in one transaction
// (store.RefreshTokens.RotateRefreshTokenWith); a revocation it calls for and a retry
// within the reuse grace each take one more, after it.
func (g *RefreshToken) Handle(ctx context.Context, req Request) (tokens.Set, error) {
	f, client, jkt := g.families, req.Client, req.JKT
	raw := req.Form.Get("refresh_token")
	if raw == "" || len(raw) > 256 {
		return tokens.Set{}, oe.New(oe.InvalidRequest, "refresh_token is required")
	}
	r := refresh{families: f, client: client, jkt: jkt, raw: raw, scope: req.Form.Get("scope")}
	err := f.cfg.Store.RotateRefreshTokenWith(ctx, web.HashID(raw), r.decide(ctx))
	var rp replayed
	switch {
	case errors.As(err, &rp):
		f.revoke(ctx, client.ID, r.old.FamilyID, rp.why)
		return tokens.Set{}, rp.err
	case errors.Is(err, errRetried):
		err = f.cfg.Store.RotateRefreshTokenAgain(ctx, r.old.ID, r.next, r.draft.Records())
	case errors.Is(err, store.ErrAlreadyUsed):
		err = f.raced(ctx, r.old.ID, r.next, r.grace, r.draft.Records())
	}
	switch {
	case errors.Is(err, store.ErrAlreadyUsed), errors.Is(err, store.ErrConflict):
		f.revoke(ctx, client.ID, r.old.FamilyID, "refresh_token_reused")
		return tokens.Set{}, oe.New(oe.InvalidGrant, "the refresh token was already used")
	case errors.Is(err, store.ErrNotFound):
		return tokens.Set{}, oe.New(oe.InvalidGrant, "the refresh token is unknown or expired")
	case err != nil:
		return tokens.Set{}, err
	}
	set, err := f.cfg.Tokens.Sign(ctx, r.draft)
	if err != nil {
		return tokens.Set{}, err
	}
	set.RefreshToken = r.secret
	return set, nil
}

// refresh is one refresh request, and what its decision drafted.
type refresh struct {
	*families
	client          store.Client
	jkt, raw, scope string

	old, next store.RefreshToken
	grace     time.Duration
	draft     tokens.Draft
	secret    string
}

// errRetried is the decision for a token spent within its reuse grace: a retry, answered
// by RotateRefreshTokenAgain after the transaction.
var errRetried = errors.New("refresh token spent within its reuse grace")

// replayed is the decision for a token whose family must end: revoked after the
// transaction, for why, before err is answered.
type replayed struct {
	why string
	err error
}

func (e replayed) Error() string { return e.err.Error() }

// decide checks the token read and drafts its successor, without writing: it runs in the
// rotation's transaction, and again if that is retried.
func (r *refresh) decide(ctx context.Context) store.RotateDecision {
	return func(old store.RefreshToken, sessionLive bool, citizen func() (store.Citizen, error)) (store.RefreshToken, store.Minted, error) {
		f, client, jkt, raw := r.families, r.client, r.jkt, r.raw
		r.old = old
		if old.ClientID != client.ID {
			return store.RefreshToken{}, store.Minted{}, oe.New(oe.InvalidGrant, "the refresh token was issued to another client")
		}
		// Checked before anything else, so that whoever lacks the key learns and changes nothing.
		if bound := dpop.RefreshJKT(raw); bound != "" && jkt == "" {
			return store.RefreshToken{}, store.Minted{}, dpop.OAuthError(dpop.ErrMissing, http.StatusBadRequest)
		} else if bound != "" && bound != jkt {
			return store.RefreshToken{}, store.Minted{}, oe.New(oe.InvalidGrant, "the refresh token is bound to another DPoP key")
		}
		if old.Revoked {
			// Either the family is revoked already (revoking it again changes nothing), or
			// this is a successor a retry replaced, now presented by whoever did receive it:
			// two parties hold the family, so it ends.
			return store.RefreshToken{}, store.Minted{}, replayed{"refresh_token_replayed", oe.New(oe.InvalidGrant, "the refresh token was revoked")}
		}
		r.grace = f.grace(client, dpop.RefreshJKT(raw) != "")
		if !old.UsedAt.IsZero() && !f.inReuseGrace(r.grace, old.UsedAt) {
			return store.RefreshToken{}, store.Minted{}, replayed{"refresh_token_reused", oe.New(oe.InvalidGrant, "the refresh token was already used")}
		}
		scopes := old.Scopes
		if r.scope != "" {
			scopes = strings.Fields(r.scope)
			for _, sc := range scopes {
				if !slices.Contains(old.Scopes, sc) {
					return store.RefreshToken{}, store.Minted{}, oe.New(oe.InvalidScope, "a requested scope was not granted originally%s", web.Named(sc))
				}
			}
		}
		// An online refresh token dies with its session (logout, expiry).
		if !slices.Contains(old.Scopes, "offline_access") && !sessionLive {
			return store.RefreshToken{}, store.Minted{}, oe.New(oe.InvalidGrant, "the session of this refresh token has ended")
		}
		src := tokens.Source{
			ClientID: client.ID, CitizenID: old.CitizenID, SessionID: old.SessionID, Scopes: scopes,
			Claims: old.Claims, AuthTime: old.AuthTime, ACR: old.ACR, AMR: old.AMR, Family: old.FamilyID,
		}
		// The tokens are drafted here, so that the client's subject, the claims the ID
		// token releases and the release's audit record are stored with the rotation; they
		// are signed after it.
		var err error
		r.draft, err = f.cfg.Tokens.Draft(ctx, client, src, jkt, citizen)
		if err != nil {
			return store.RefreshToken{}, store.Minted{}, err
		}
		r.secret = f.value(client, jkt)
		r.next = f.record(src, old.FamilyID, web.HashID(r.secret))
		r.next.Scopes = old.Scopes // a narrower request narrows this response, not the family
		r.next.ExpiresAt = old.ExpiresAt
		if !old.UsedAt.IsZero() {
			return store.RefreshToken{}, store.Minted{}, errRetried
		}
		return r.next, r.draft.Records(), nil
	}
}

// raced answers a rotation that found old spent by a concurrent request after it read it:
// within the reuse grace that is a retry, rotated again; else ErrAlreadyUsed.
func (f *families) raced(ctx context.Context, oldID string, next store.RefreshToken, grace time.Duration, m store.Minted) error {
	old, err := f.cfg.Store.GetRefreshToken(ctx, oldID)
	if err != nil {
		return err
	}
	if old.UsedAt.IsZero() || !f.inReuseGrace(grace, old.UsedAt) {
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
