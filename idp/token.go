package idp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/ratelimit"
)

// parseTokenForm reads a token request body (RFC 6749 3.2): POST, form-encoded, no
// parameter twice, nothing in the query.
func parseTokenForm(r *http.Request) *oe.Error {
	if r.Method != http.MethodPost {
		return &oe.Error{Code: oe.InvalidRequest, Description: "the token endpoint takes POST", Status: http.StatusMethodNotAllowed}
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return oe.New(oe.InvalidRequest, "Content-Type must be application/x-www-form-urlencoded")
	}
	if r.URL.RawQuery != "" {
		return oe.New(oe.InvalidRequest, "parameters belong in the body, not the query")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxParamBytes)
	if err := r.ParseForm(); err != nil {
		return oe.New(oe.InvalidRequest, "the body is not a valid form or is too large")
	}
	for name, v := range r.PostForm {
		if len(v) > 1 {
			return oe.New(oe.InvalidRequest, "a parameter is repeated%s", named(name))
		}
	}
	return nil
}

func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	if e := parseTokenForm(r); e != nil {
		if e.Status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "POST")
		}
		oe.WriteJSON(w, e, false)
		return
	}
	ctx := r.Context()
	if !p.tokenAllowed(w, r, p.ip(r)) {
		return
	}
	client, basic, e := p.authenticateClient(ctx, r)
	if e != nil {
		oe.WriteJSON(w, e, basic)
		return
	}
	if !p.tokenAllowed(w, r, ratelimit.Client(client.ID)) {
		return
	}
	// A DPoP proof binds what this request issues to the proof's key (RFC 9449 5).
	p.OfferDPoPNonce(w, r)
	jkt, e := p.tokenEndpointDPoP(r, client)
	if e != nil {
		oe.WriteJSON(w, e, basic)
		return
	}
	var set tokenSet
	var err error
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "authorization_code":
		set, err = p.grantCode(ctx, client, r, jkt)
	case "refresh_token":
		set, err = p.grantRefresh(ctx, client, r, jkt)
	case "client_credentials":
		set, err = p.grantClientCredentials(ctx, client, r, jkt)
	case "":
		err = oe.New(oe.InvalidRequest, "grant_type is required")
	default:
		err = oe.New(oe.UnsupportedGrantType, "this grant_type is not supported%s", named(gt))
	}
	if err != nil {
		var oerr *oe.Error
		if !errors.As(err, &oerr) {
			p.log.ErrorContext(ctx, "token", "grant_type", r.PostForm.Get("grant_type"), "client_id", client.ID, "err", err)
		}
		oe.WriteJSON(w, oe.As(err), basic)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(set)
}

// grantCode redeems an authorization code (RFC 6749 4.1.3, RFC 7636 4.6). jkt is the DPoP
// proof's key, "" without one; a code bound with dpop_jkt needs that key (RFC 9449 10).
func (p *Provider) grantCode(ctx context.Context, client store.Client, r *http.Request, jkt string) (tokenSet, error) {
	f := r.PostForm
	code, verifier := f.Get("code"), f.Get("code_verifier")
	if code == "" || len(code) > 256 {
		return tokenSet{}, oe.New(oe.InvalidRequest, "code is required")
	}
	// The code is consumed, checked and its refresh token stored in one transaction; the
	// family is named after the code, so a replayed code can revoke it.
	var g grant
	var refresh string
	ac, err := p.store.RedeemAuthCode(ctx, hashID(code), func(ac store.AuthCode) (*store.RefreshToken, error) {
		if ac.ClientID != client.ID {
			return nil, oe.New(oe.InvalidGrant, "the code was issued to another client")
		}
		if f.Get("redirect_uri") != ac.RedirectURI {
			return nil, oe.New(oe.InvalidGrant, "redirect_uri does not match the authorization request")
		}
		if e := checkPKCE(ac.CodeChallenge, verifier); e != nil {
			return nil, e
		}
		if bound := ac.DPoPJKT; bound != "" && jkt == "" {
			return nil, dpopError(ErrDPoPMissing, http.StatusBadRequest)
		} else if bound != "" && bound != jkt {
			return nil, oe.New(oe.InvalidGrant, "the code is bound to another DPoP key (dpop_jkt)")
		}
		g = grant{
			ClientID: client.ID, CitizenID: ac.CitizenID, SessionID: ac.SessionID, Scopes: ac.Scopes,
			Nonce: ac.Nonce, Claims: ac.Claims, AuthTime: ac.AuthTime, ACR: ac.ACR, AMR: ac.AMR,
			Family: ac.ID,
		}
		refresh = p.refreshValue(client, jkt)
		t := p.refreshRecord(g, ac.ID, hashID(refresh))
		return &t, nil
	})
	switch {
	case errors.Is(err, store.ErrAlreadyUsed):
		// A replayed code means it leaked: revoke what its first use issued (RFC 6749 4.1.2).
		if ac.ClientID == client.ID {
			p.revokeFamily(ctx, ac.ID)
		}
		return tokenSet{}, oe.New(oe.InvalidGrant, "the code was already used")
	case errors.Is(err, store.ErrNotFound):
		return tokenSet{}, oe.New(oe.InvalidGrant, "the code is unknown or expired")
	case err != nil:
		return tokenSet{}, err
	}
	set, err := p.mint(ctx, client, g, jkt)
	if err != nil {
		return tokenSet{}, err
	}
	set.RefreshToken = refresh
	return set, nil
}

// refreshValue makes a new refresh token value: bound to the DPoP key for a public client,
// whose refresh token is otherwise a bearer credential (RFC 9449 5); a confidential
// client's is already bound to its client authentication.
func (p *Provider) refreshValue(client store.Client, jkt string) string {
	secret := rand.Text() + rand.Text()
	if client.AuthMethod != "none" {
		return secret
	}
	return bindRefresh(secret, jkt)
}

// checkPKCE verifies RFC 7636 S256, and refuses a verifier for a code issued without a
// challenge (PKCE downgrade, RFC 9700 4.8.2).
func checkPKCE(challenge, verifier string) *oe.Error {
	if challenge == "" {
		if verifier != "" {
			return oe.New(oe.InvalidGrant, "code_verifier sent for a code issued without code_challenge")
		}
		return nil
	}
	if !validPKCEValue(verifier, 43, 128) {
		return oe.New(oe.InvalidGrant, "code_verifier is missing or malformed")
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) != 1 {
		return oe.New(oe.InvalidGrant, "code_verifier does not match code_challenge")
	}
	return nil
}

// refreshRecord builds a refresh token. Without offline_access it lives no longer than
// the session it came from.
func (p *Provider) refreshRecord(g grant, family, id string) store.RefreshToken {
	now := p.now()
	ttl := p.cfg.RefreshTTL
	if slices.Contains(g.Scopes, "offline_access") {
		ttl = p.cfg.OfflineRefreshTTL
	}
	return store.RefreshToken{
		ID: id, FamilyID: family, ClientID: g.ClientID, CitizenID: g.CitizenID, SessionID: g.SessionID,
		Scopes: g.Scopes, Claims: g.Claims, AuthTime: g.AuthTime, ACR: g.ACR, AMR: g.AMR,
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
}

// grantRefresh rotates a refresh token (RFC 6749 6, RFC 9700 4.14.2): the old one is spent,
// and spending it twice revokes the whole family, unless the same client retries within
// Config.RefreshReuseGrace (see there). A DPoP-bound refresh token needs a proof by its
// key (RFC 9449 5).
func (p *Provider) grantRefresh(ctx context.Context, client store.Client, r *http.Request, jkt string) (tokenSet, error) {
	f := r.PostForm
	raw := f.Get("refresh_token")
	if raw == "" || len(raw) > 256 {
		return tokenSet{}, oe.New(oe.InvalidRequest, "refresh_token is required")
	}
	old, err := p.store.GetRefreshToken(ctx, hashID(raw))
	if errors.Is(err, store.ErrNotFound) {
		return tokenSet{}, oe.New(oe.InvalidGrant, "the refresh token is unknown or expired")
	} else if err != nil {
		return tokenSet{}, err
	}
	if old.ClientID != client.ID {
		return tokenSet{}, oe.New(oe.InvalidGrant, "the refresh token was issued to another client")
	}
	// Checked before anything else, so that whoever lacks the key learns and changes nothing.
	if bound := refreshJKT(raw); bound != "" && jkt == "" {
		return tokenSet{}, dpopError(ErrDPoPMissing, http.StatusBadRequest)
	} else if bound != "" && bound != jkt {
		return tokenSet{}, oe.New(oe.InvalidGrant, "the refresh token is bound to another DPoP key")
	}
	if old.Revoked {
		// Either the family is revoked already (revoking it again changes nothing), or this
		// is a successor a retry replaced, now presented by whoever did receive it: two
		// parties hold the family, so it ends.
		p.revokeFamily(ctx, old.FamilyID)
		return tokenSet{}, oe.New(oe.InvalidGrant, "the refresh token was revoked")
	}
	if !old.UsedAt.IsZero() && !p.inReuseGrace(old.UsedAt) {
		p.revokeFamily(ctx, old.FamilyID)
		return tokenSet{}, oe.New(oe.InvalidGrant, "the refresh token was already used")
	}
	scopes := old.Scopes
	if s := f.Get("scope"); s != "" {
		scopes = strings.Fields(s)
		for _, sc := range scopes {
			if !slices.Contains(old.Scopes, sc) {
				return tokenSet{}, oe.New(oe.InvalidScope, "a requested scope was not granted originally%s", named(sc))
			}
		}
	}
	if !slices.Contains(old.Scopes, "offline_access") {
		// An online refresh token dies with its session (logout, expiry).
		if _, err := p.store.GetSession(ctx, old.SessionID); err != nil {
			return tokenSet{}, oe.New(oe.InvalidGrant, "the session of this refresh token has ended")
		}
	}
	g := grant{
		ClientID: client.ID, CitizenID: old.CitizenID, SessionID: old.SessionID, Scopes: scopes,
		Claims: old.Claims, AuthTime: old.AuthTime, ACR: old.ACR, AMR: old.AMR, Family: old.FamilyID,
	}
	secret := p.refreshValue(client, jkt)
	next := p.refreshRecord(g, old.FamilyID, hashID(secret))
	next.Scopes = old.Scopes // a narrower request narrows this response, not the family
	next.ExpiresAt = old.ExpiresAt
	switch err := p.rotate(ctx, old, next); {
	case errors.Is(err, store.ErrAlreadyUsed), errors.Is(err, store.ErrConflict):
		p.revokeFamily(ctx, old.FamilyID)
		return tokenSet{}, oe.New(oe.InvalidGrant, "the refresh token was already used")
	case errors.Is(err, store.ErrNotFound):
		return tokenSet{}, oe.New(oe.InvalidGrant, "the refresh token is unknown or expired")
	case err != nil:
		return tokenSet{}, err
	}
	set, err := p.mint(ctx, client, g, jkt)
	if err != nil {
		return tokenSet{}, err
	}
	set.RefreshToken = secret
	return set, nil
}

// rotate spends old for next. A token spent within the reuse grace window (by an earlier
// request whose response was lost, or by one racing this one) is rotated again: next
// replaces the successor. ErrAlreadyUsed means the reuse is a replay.
func (p *Provider) rotate(ctx context.Context, old, next store.RefreshToken) error {
	if old.UsedAt.IsZero() {
		err := p.store.RotateRefreshToken(ctx, old.ID, next)
		if !errors.Is(err, store.ErrAlreadyUsed) {
			return err
		}
		// A concurrent request spent it after we read it: read when.
		if old, err = p.store.GetRefreshToken(ctx, old.ID); err != nil {
			return err
		}
		if old.UsedAt.IsZero() {
			return store.ErrAlreadyUsed
		}
	}
	if !p.inReuseGrace(old.UsedAt) {
		return store.ErrAlreadyUsed
	}
	return p.store.RotateRefreshTokenAgain(ctx, old.ID, next)
}

// inReuseGrace reports whether a refresh token spent at usedAt may still be retried.
func (p *Provider) inReuseGrace(usedAt time.Time) bool {
	g := p.cfg.RefreshReuseGrace
	return g > 0 && !p.now().After(usedAt.Add(g))
}

// revokeFamily ends a refresh token family and the access tokens minted from it (each
// lives at most AccessTokenTTL, so the denylist entry need not outlive that).
func (p *Provider) revokeFamily(ctx context.Context, family string) {
	if err := p.store.RevokeRefreshFamily(ctx, family); err != nil {
		p.log.ErrorContext(ctx, "revoke refresh family", "err", err)
	}
	if err := p.store.RevokeToken(ctx, familyDenyKey(p.familyRef(family)), p.now().Add(p.cfg.AccessTokenTTL)); err != nil {
		p.log.ErrorContext(ctx, "revoke access tokens of a family", "err", err)
	}
}

// ServiceScopes are the scopes a client may ask for with client_credentials: they name
// Motlan's own APIs, never citizen data ("service": the CSC API v2 server).
var ServiceScopes = []string{"signing", "admin", "service"}

// grantClientCredentials gives a confidential client an access token for Motlan's own
// APIs (RFC 6749 4.4); sub is the client itself (RFC 9068 2.2).
func (p *Provider) grantClientCredentials(ctx context.Context, client store.Client, r *http.Request, jkt string) (tokenSet, error) {
	if client.AuthMethod == "none" {
		return tokenSet{}, oe.New(oe.UnauthorizedClient, "public clients cannot use client_credentials")
	}
	scopes := strings.Fields(r.PostForm.Get("scope"))
	if len(scopes) == 0 {
		return tokenSet{}, oe.New(oe.InvalidScope, "scope is required (for example: signing)")
	}
	for _, s := range scopes {
		if !slices.Contains(ServiceScopes, s) || !slices.Contains(client.AllowedScopes, s) {
			return tokenSet{}, oe.New(oe.InvalidScope, "a requested scope is not allowed for client_credentials%s", named(s))
		}
	}
	now := p.now()
	at := accessClaims{
		Iss: p.cfg.Issuer, Sub: client.ID, Aud: p.cfg.Issuer, Exp: now.Add(p.cfg.AccessTokenTTL).Unix(), Iat: now.Unix(),
		Jti: rand.Text(), ClientID: client.ID, Scope: strings.Join(dedupe(scopes), " "), Cnf: cnfFor(jkt),
	}
	b, err := json.Marshal(at)
	if err != nil {
		return tokenSet{}, err
	}
	tok, err := p.cfg.Keys.Sign(ctx, "ES256", "at+jwt", b)
	if err != nil {
		return tokenSet{}, err
	}
	return tokenSet{AccessToken: tok, TokenType: tokenType(jkt), ExpiresIn: int64(p.cfg.AccessTokenTTL.Seconds()), Scope: at.Scope}, nil
}
