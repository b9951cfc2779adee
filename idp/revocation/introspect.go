package revocation

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/dpop"
	"github.com/motlan/motlan/idp/internal/web"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/idp/tokens"
)

// introspection is an RFC 7662 2.2 response. An inactive token is {"active":false} and
// nothing else.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	TokenType string `json:"token_type,omitempty"` // Bearer or DPoP for access tokens, refresh_token for refresh tokens
	Iss       string `json:"iss,omitempty"`
	// Cnf is the DPoP key a token is bound to (RFC 9449 6.2).
	Cnf *tokens.Confirmation `json:"cnf,omitempty"`
}

// HandleIntrospect is RFC 7662 for confidential clients, each about its own tokens: a token
// issued to another client is reported inactive, so introspection reveals nothing about
// other clients' tokens.
func (s *Service) HandleIntrospect(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, "introspect", func(ctx context.Context, client store.Client, tok string) error {
		out, err := s.introspect(ctx, client, tok)
		if err == nil {
			web.WriteTokenJSON(w, out)
		}
		return err
	})
}

func (s *Service) introspect(ctx context.Context, client store.Client, tok string) (introspection, error) {
	inactive := introspection{}
	if len(tok) > maxTokenLen {
		return inactive, nil
	}
	now := s.cfg.Now()
	if looksLikeJWT(tok) {
		at, ok := s.cfg.Tokens.ParseAccess(ctx, tok)
		if !ok || at.ClientID != client.ID || now.After(time.Unix(at.Exp, 0)) {
			return inactive, nil
		}
		switch revoked, err := s.cfg.Tokens.Revoked(ctx, at); {
		case err != nil:
			return inactive, err
		case revoked:
			return inactive, nil
		}
		typ := "Bearer"
		if at.Cnf != nil {
			typ = tokens.TokenType(at.Cnf.JKT)
		}
		return introspection{
			Active: true, Scope: at.Scope, ClientID: at.ClientID, Sub: at.Sub, Exp: at.Exp, Iat: at.Iat,
			TokenType: typ, Iss: at.Iss, Cnf: at.Cnf,
		}, nil
	}
	rt, err := s.cfg.Store.GetRefreshToken(ctx, web.HashID(tok)) // expired ones are ErrNotFound
	switch {
	case errors.Is(err, store.ErrNotFound):
		return inactive, nil
	case err != nil:
		return inactive, err
	case rt.ClientID != client.ID || rt.Revoked || !rt.UsedAt.IsZero():
		return inactive, nil
	}
	if !slices.Contains(rt.Scopes, "offline_access") {
		// As at the token endpoint: an online refresh token dies with its session.
		switch _, err := s.cfg.Store.GetSession(ctx, rt.SessionID); {
		case errors.Is(err, store.ErrNotFound):
			return inactive, nil
		case err != nil:
			return inactive, err
		}
	}
	return introspection{
		Active: true, Scope: strings.Join(rt.Scopes, " "), ClientID: rt.ClientID, Sub: s.cfg.Tokens.Subject(client, rt.CitizenID),
		Exp: rt.ExpiresAt.Unix(), Iat: rt.CreatedAt.Unix(), TokenType: "refresh_token", Iss: s.cfg.Issuer,
		Cnf: tokens.Cnf(dpop.RefreshJKT(tok)),
	}, nil
}
