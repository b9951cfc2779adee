package revocation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/clientauth"
	"github.com/motlan/motlan/idp/internal/web"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/idp/tokens"
	"github.com/motlan/motlan/internal/audit"
)

// Store is what revocation and introspection need of the store.
type Store interface {
	store.RefreshTokens
	store.RevokedTokens
	GetSession(ctx context.Context, id string) (store.Session, error)
}

// Config configures the Service.
type Config struct {
	Issuer     string
	Store      Store
	Tokens     *tokens.Tokens
	ClientAuth *clientauth.Authenticator
	Now        func() time.Time
	Logger     *slog.Logger
	Audit      *audit.Logger
}

// Service serves revocation and introspection.
type Service struct {
	cfg Config
}

// New builds a Service.
func New(cfg Config) *Service { return &Service{cfg: cfg} }

// request reads a POST to revocation or introspection the way the token
// endpoint reads its requests, and authenticates the client through clientauth.
// Only confidential clients may call these endpoints. On failure it has written the
// error response and ok is false.
func (s *Service) request(w http.ResponseWriter, r *http.Request) (c store.Client, token string, ok bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		oe.WriteJSON(w, &oe.Error{Code: oe.InvalidRequest, Description: "this endpoint takes POST", Status: http.StatusMethodNotAllowed}, false)
		return c, "", false
	}
	if e := clientauth.ParseForm(r); e != nil {
		oe.WriteJSON(w, e, false)
		return c, "", false
	}
	c, basic, e := s.cfg.ClientAuth.Authenticate(r.Context(), r)
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

// HandleRevoke is RFC 7009. A refresh token revokes its whole family and the access tokens
// minted from it (the SHOULD of 2.1); an access token is denylisted by jti until it
// expires, leaving its refresh token alone (2.1 lets the server choose). A token of
// another client, or one that is unknown, expired or already revoked, gets 200 with nothing
// done (RFC 7009 2.2).
func (s *Service) HandleRevoke(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, "revoke", func(ctx context.Context, client store.Client, tok string) error {
		revoked, err := s.revoke(ctx, client, tok)
		if err != nil {
			return err
		}
		if revoked {
			s.cfg.Audit.Kick() // the revocation's pending record: seal it into the chain soon
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return nil
	})
}

// serve reads and authenticates a request (see request), and runs work, which writes the
// success response; a failure of work is logged and answered as server_error.
func (s *Service) serve(w http.ResponseWriter, r *http.Request, name string, work func(ctx context.Context, client store.Client, tok string) error) {
	client, tok, ok := s.request(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if err := work(ctx, client, tok); err != nil {
		s.cfg.Logger.ErrorContext(ctx, name, "client_id", client.ID, "err", err)
		oe.WriteJSON(w, oe.As(err), false)
	}
}

// revoke revokes tok and reports whether anything was revoked. The revocation's store
// writes and its audit record (pending, sealed into the chain later) are one transaction:
// no revocation without its record, and no record when nothing was revoked.
func (s *Service) revoke(ctx context.Context, client store.Client, tok string) (bool, error) {
	if len(tok) > maxTokenLen {
		return false, nil
	}
	if looksLikeJWT(tok) {
		at, ok := s.cfg.Tokens.ParseAccess(ctx, tok)
		exp := time.Unix(at.Exp, 0)
		if !ok || at.ClientID != client.ID || !s.cfg.Now().Before(exp) {
			return false, nil
		}
		rec, err := s.records(client, "access_token")
		if err != nil {
			return false, err
		}
		return true, s.cfg.Store.RevokeToken(ctx, at.Jti, exp, rec...)
	}
	rt, err := s.cfg.Store.GetRefreshToken(ctx, web.HashID(tok))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case rt.ClientID != client.ID || rt.Revoked:
		return false, nil
	}
	rec, err := s.records(client, "refresh_token")
	if err != nil {
		return false, err
	}
	return s.cfg.Store.RevokeFamily(ctx, rt.FamilyID, s.cfg.Tokens.FamilyDeny(rt.FamilyID), rec...)
}

// records are the audit records of a revocation of a token of type what.
func (s *Service) records(client store.Client, what string) ([]store.AuditRecord, error) {
	rec, err := s.cfg.Audit.Records(audit.Event{Kind: audit.KindTokenRevoke, Actor: audit.Client(client.ID), Details: map[string]any{"token_type": what}})
	if err != nil {
		return nil, fmt.Errorf("revocation: audit record: %w", err)
	}
	return rec, nil
}
