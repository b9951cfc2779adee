package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/claims"
	"github.com/motlan/motlan/idp/dpop"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/idp/tokens"
	"github.com/motlan/motlan/internal/audit"
)

// PathUserInfo is the userinfo endpoint, relative to the issuer.
const PathUserInfo = "/userinfo"

// Store is what userinfo needs of the store.
type Store interface {
	store.Citizens
	store.Releases
}

// Clients finds registered clients.
type Clients interface {
	Get(ctx context.Context, id string) (store.Client, bool)
}

// Config configures a Server.
type Config struct {
	Issuer  string
	Store   Store
	Clients Clients
	Tokens  *tokens.Tokens
	DPoP    *dpop.Checker
	Now     func() time.Time
	Logger  *slog.Logger
	Audit   *audit.Logger
}

// Server checks access tokens at protected resources and serves userinfo.
type Server struct {
	cfg Config
}

// New builds a Server.
func New(cfg Config) *Server { return &Server{cfg: cfg} }

// AccessInfo is what a valid access token says, for Motlan's own APIs.
type AccessInfo struct {
	ClientID  string
	Subject   string // the citizen's sub at the client, or the client itself (client_credentials)
	CitizenID string // Motlan's citizen id; empty for client_credentials tokens
	Scopes    []string
	Expiry    time.Time
	DPoPJKT   string // the DPoP key the token is bound to and was proven with; "" for bearer
}

// ErrInvalidToken reports a missing, malformed, forged, expired or revoked access token.
var ErrInvalidToken = errors.New("idp: invalid access token")

// VerifyAccessToken checks the access token of an API request, Bearer (RFC 6750) or DPoP
// with its proof for this request (RFC 9449 7), and says whose it is. Errors wrap
// ErrInvalidToken; the *oautherr.Error inside names the RFC 6750 or RFC 9449 code.
func (s *Server) VerifyAccessToken(r *http.Request) (AccessInfo, error) {
	pt, e := presented(r)
	if e != nil {
		return AccessInfo{}, fmt.Errorf("%w: %w", ErrInvalidToken, e)
	}
	at, e := s.cfg.Tokens.CheckAccess(r.Context(), pt.Token)
	if e == nil {
		e = s.cfg.DPoP.SenderConstraint(r, pt.DPoP, pt.Token, boundJKT(at), s.requestURL(r))
	}
	if e != nil && (e.Code == oe.ServerError || e.Code == oe.TemporarilyUnavailable) {
		return AccessInfo{}, fmt.Errorf("idp: verify access token: %w", e)
	} else if e != nil {
		return AccessInfo{}, fmt.Errorf("%w: %w", ErrInvalidToken, e)
	}
	if _, ok := s.cfg.Clients.Get(r.Context(), at.ClientID); !ok { // removed from the configuration
		return AccessInfo{}, fmt.Errorf("%w: %w", ErrInvalidToken, oe.New(oe.InvalidToken, "the access token is invalid or expired"))
	}
	info := AccessInfo{ClientID: at.ClientID, Subject: at.Sub, Scopes: strings.Fields(at.Scope), Expiry: time.Unix(at.Exp, 0)}
	if at.Cnf != nil {
		info.DPoPJKT = at.Cnf.JKT
	}
	if at.Cit != "" {
		cid, err := s.cfg.Tokens.UnsealCitizen(at.Cit, at.ClientID)
		if err != nil {
			return AccessInfo{}, fmt.Errorf("%w: %w", ErrInvalidToken, oe.New(oe.InvalidToken, "the access token is invalid or expired"))
		}
		info.CitizenID = cid
	}
	return info, nil
}

// HandleUserInfo returns the claims the access token's scopes and claims request release
// (OIDC Core 5.3), and records the release.
func (s *Server) HandleUserInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		oe.WriteJSON(w, &oe.Error{Code: oe.InvalidRequest, Description: "use GET or POST", Status: http.StatusMethodNotAllowed}, false)
		return
	}
	ctx := r.Context()
	s.cfg.DPoP.OfferNonce(w, r)
	pt, e := presented(r)
	if e != nil {
		writeError(w, e, pt.DPoP)
		return
	}
	at, e := s.cfg.Tokens.CheckAccess(r.Context(), pt.Token)
	if e == nil {
		e = s.cfg.DPoP.SenderConstraint(r, pt.DPoP, pt.Token, boundJKT(at), s.cfg.Issuer+PathUserInfo)
	}
	if e != nil {
		writeError(w, e, pt.DPoP)
		return
	}
	scopes := strings.Fields(at.Scope)
	if !slices.Contains(scopes, "openid") {
		writeError(w, oe.New(oe.InsufficientScope, "the token lacks the openid scope"), pt.DPoP)
		return
	}
	citizenID, err := s.cfg.Tokens.UnsealCitizen(at.Cit, at.ClientID)
	client, ok := s.cfg.Clients.Get(ctx, at.ClientID)
	if err != nil || !ok {
		writeError(w, oe.New(oe.InvalidToken, "the access token is invalid or expired"), pt.DPoP)
		return
	}
	cit, err := s.cfg.Store.GetCitizen(ctx, citizenID)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, oe.New(oe.InvalidToken, "the citizen no longer exists"), pt.DPoP)
		return
	} else if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "userinfo: read citizen", "err", err)
		oe.WriteJSON(w, oe.Internal(err), false)
		return
	}
	// The access token carries the grant's claims request when it asks anything of
	// userinfo (Clm); otherwise userinfo releases by scope.
	var req claims.Request
	if at.Clm != "" {
		req, _ = claims.Parse(at.Clm) // validated at /authorize, and signed by us since
	}
	out := map[string]any{"sub": at.Sub}
	if err := s.cfg.Tokens.Release(ctx, client, cit, scopes, req, claims.UserInfo, out); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "userinfo: release", "err", err)
		oe.WriteJSON(w, oe.Internal(err), false)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}
