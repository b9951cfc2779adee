package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/claims"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
)

// bearerToken extracts the access token per RFC 6750 2.1 and 2.2 (header, or a POST form
// body); more than one method is an invalid_request.
func bearerToken(r *http.Request) (string, *oe.Error) {
	var found []string
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", oe.New(oe.InvalidRequest, "Authorization must be: Bearer <token>")
		}
		found = append(found, strings.TrimSpace(tok))
	}
	if r.Method == http.MethodPost {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			r.Body = http.MaxBytesReader(nil, r.Body, maxParamBytes)
			if err := r.ParseForm(); err != nil {
				return "", oe.New(oe.InvalidRequest, "unparsable form body")
			}
			if v := r.PostForm["access_token"]; len(v) > 0 {
				found = append(found, v...)
			}
		}
	}
	if r.URL.Query().Has("access_token") {
		return "", oe.New(oe.InvalidRequest, "access tokens in the query are not accepted")
	}
	switch len(found) {
	case 0:
		return "", &oe.Error{Status: http.StatusUnauthorized} // RFC 6750 3.1: no error code
	case 1:
		return found[0], nil
	}
	return "", oe.New(oe.InvalidRequest, "more than one access token")
}

// parseAccessToken verifies that tok is one of the provider's own access tokens (signature,
// typ, iss, aud) and returns its claims, expired and revoked ones included: revocation
// and introspection must recognise those.
func (p *Provider) parseAccessToken(ctx context.Context, tok string) (accessClaims, bool) {
	var ac accessClaims
	payload, hdr, err := p.cfg.Keys.Verify(ctx, tok)
	// typ at+jwt keeps an ID token from passing as an access token (RFC 9068 4).
	if err != nil || !strings.EqualFold(hdr.Type, "at+jwt") {
		return ac, false
	}
	if json.Unmarshal(payload, &ac) != nil || ac.Iss != p.cfg.Issuer || ac.Aud != p.cfg.Issuer || ac.Jti == "" {
		return ac, false
	}
	return ac, true
}

// checkAccessToken verifies one of the provider's own access tokens and returns its claims:
// valid, unexpired and not revoked (RFC 7009). A store failure is a server_error.
func (p *Provider) checkAccessToken(r *http.Request, tok string) (accessClaims, *oe.Error) {
	bad := oe.New(oe.InvalidToken, "the access token is invalid or expired")
	ac, ok := p.parseAccessToken(r.Context(), tok)
	if !ok || p.now().After(time.Unix(ac.Exp, 0)) {
		return ac, bad
	}
	switch revoked, err := p.accessRevoked(r.Context(), ac); {
	case err != nil:
		p.log.ErrorContext(r.Context(), "access token: read revocation", "err", err)
		return ac, oe.New(oe.ServerError, "internal error")
	case revoked:
		return ac, oe.New(oe.InvalidToken, "the access token was revoked")
	}
	return ac, nil
}

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
func (p *Provider) VerifyAccessToken(r *http.Request) (AccessInfo, error) {
	pt, e := resourceToken(r)
	if e != nil {
		return AccessInfo{}, fmt.Errorf("%w: %w", ErrInvalidToken, e)
	}
	at, e := p.checkAccessToken(r, pt.Token)
	if e == nil {
		e = p.checkSenderConstraint(r, pt, at, p.requestURL(r))
	}
	if e != nil && e.Code == oe.ServerError {
		return AccessInfo{}, fmt.Errorf("idp: verify access token: %w", e)
	} else if e != nil {
		return AccessInfo{}, fmt.Errorf("%w: %w", ErrInvalidToken, e)
	}
	info := AccessInfo{ClientID: at.ClientID, Subject: at.Sub, Scopes: strings.Fields(at.Scope), Expiry: time.Unix(at.Exp, 0)}
	if at.Cnf != nil {
		info.DPoPJKT = at.Cnf.JKT
	}
	if at.Cit != "" {
		cid, err := p.unsealCitizen(at.Cit, at.ClientID)
		if err != nil {
			return AccessInfo{}, fmt.Errorf("%w: %w", ErrInvalidToken, oe.New(oe.InvalidToken, "the access token is invalid or expired"))
		}
		info.CitizenID = cid
	}
	return info, nil
}

// handleUserInfo returns the claims the access token's scopes and claims request release
// (OIDC Core 5.3), and records the release.
func (p *Provider) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		oe.WriteJSON(w, &oe.Error{Code: oe.InvalidRequest, Description: "use GET or POST", Status: http.StatusMethodNotAllowed}, false)
		return
	}
	ctx := r.Context()
	p.OfferDPoPNonce(w, r)
	pt, e := resourceToken(r)
	if e != nil {
		writeResourceError(w, e, pt.DPoP)
		return
	}
	at, e := p.checkAccessToken(r, pt.Token)
	if e == nil {
		e = p.checkSenderConstraint(r, pt, at, p.URL(PathUserInfo))
	}
	if e != nil {
		writeResourceError(w, e, pt.DPoP)
		return
	}
	scopes := strings.Fields(at.Scope)
	if !slices.Contains(scopes, "openid") {
		writeResourceError(w, oe.New(oe.InsufficientScope, "the token lacks the openid scope"), pt.DPoP)
		return
	}
	citizenID, err := p.unsealCitizen(at.Cit, at.ClientID)
	client, ok := p.client(ctx, at.ClientID)
	if err != nil || !ok {
		writeResourceError(w, oe.New(oe.InvalidToken, "the access token is invalid or expired"), pt.DPoP)
		return
	}
	cit, err := p.store.GetCitizen(ctx, citizenID)
	if errors.Is(err, store.ErrNotFound) {
		writeResourceError(w, oe.New(oe.InvalidToken, "the citizen no longer exists"), pt.DPoP)
		return
	} else if err != nil {
		p.log.ErrorContext(ctx, "userinfo: read citizen", "err", err)
		oe.WriteJSON(w, oe.New(oe.ServerError, "internal error"), false)
		return
	}
	// The claims request travels in the code and refresh records; access tokens carry only
	// scopes, so userinfo releases by scope (claims.userinfo narrows nothing further).
	out := map[string]any{"sub": at.Sub}
	names := claims.Select(scopes, client.AllowedScopes, claims.Request{}, claims.UserInfo)
	released := addClaims(out, cit, names)
	if len(released) > 0 {
		if err := p.store.RecordRelease(ctx, store.Release{CitizenID: cit.ID, ClientID: client.ID, Claims: released, Via: "userinfo", At: p.now()}); err != nil {
			p.log.ErrorContext(ctx, "userinfo: record release", "err", err)
			oe.WriteJSON(w, oe.New(oe.ServerError, "internal error"), false)
			return
		}
		p.cfg.Audit.Log(ctx, audit.Event{Kind: audit.KindRelease, Actor: audit.Citizen(cit.ID), Details: map[string]any{"client": client.ID, "claims": released, "via": "userinfo"}})
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}
