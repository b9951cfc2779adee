package idp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"

	"github.com/motlan/motlan/idp/eid"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/ratelimit"
)

const (
	sessionCookie = "motlan_session"
	// txCookiePrefix names the cookie that binds an upstream login to the browser that
	// started it, so a callback URL planted in another browser fails (login CSRF).
	txCookiePrefix = "motlan_tx_"
)

// hashID is how secrets the browser or client holds become store IDs.
func hashID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// currentSession returns the browser's live session, if any.
func (p *Provider) currentSession(r *http.Request) (store.Session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return store.Session{}, false
	}
	s, err := p.store.GetSession(r.Context(), hashID(c.Value))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			p.log.WarnContext(r.Context(), "read session", "err", err)
		}
		return store.Session{}, false
	}
	return s, true
}

func (p *Provider) cookie(name, value string, maxAge int, path string) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode,
	}
}

// startUpstreamLogin stores the login transaction and sends the browser to the eID with
// the broker's own state, nonce and PKCE verifier.
func (p *Provider) startUpstreamLogin(w http.ResponseWriter, r *http.Request, ar store.AuthRequest) {
	ar.UpstreamState = rand.Text() + rand.Text()
	ar.UpstreamNonce = rand.Text()
	ar.UpstreamVerifier = rand.Text() + rand.Text() + rand.Text() // 78 chars, RFC 7636 43..128
	opts := eid.AuthOptions{
		ACR:        requiredLevel(ar.ACRValues),
		ForceLogin: slices.Contains(ar.Prompt, "login"),
		MaxAge:     ar.MaxAge,
		LoginHint:  ar.LoginHint,
		UILocales:  ar.UILocales,
	}
	target, err := p.cfg.EID.AuthCodeURL(r.Context(), ar.UpstreamState, ar.UpstreamNonce, ar.UpstreamVerifier, opts)
	if err != nil {
		p.log.WarnContext(r.Context(), "eid unavailable", "err", err)
		p.authorizeError(w, r, authErr(ar, oe.TemporarilyUnavailable, "the national eID is not reachable right now"))
		return
	}
	name := txCookiePrefix + ar.UpstreamState[:12]
	value, err := p.sealTransaction(ar, name)
	if err != nil {
		p.log.ErrorContext(r.Context(), "seal auth request", "err", err)
	}
	if value == "" {
		// Too big for a cookie (a large claims request): the store keeps it, the cookie
		// only names it.
		if err := p.store.CreateAuthRequest(r.Context(), ar); err != nil {
			p.log.ErrorContext(r.Context(), "store auth request", "err", err)
			p.authorizeError(w, r, authErr(ar, oe.TemporarilyUnavailable, "the provider cannot store the login right now"))
			return
		}
		value = ar.ID
	}
	http.SetCookie(w, p.cookie(name, value, int(ar.ExpiresAt.Sub(p.now()).Seconds())+1, p.base+PathCallback))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

// handleCallback finishes the upstream login: it checks that the callback belongs to a
// transaction this browser started, redeems the code, and opens a session.
func (p *Provider) handleCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !p.pageAllowed(w, r, ratelimit.Login, p.ip(r)) {
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" || len(state) > 256 || len(q["state"]) > 1 {
		p.renderError(w, r, &pageError{http.StatusBadRequest, "bad_callback", "missing state"})
		return
	}
	ar, once, perr := p.loginTransaction(w, r, state)
	if perr != nil {
		p.renderError(w, r, perr)
		return
	}
	if ar.ClientID == internalClient {
		p.finishStepUp(w, r, ar, q, once)
		return
	}
	client, ok := p.client(ctx, ar.ClientID)
	if !ok {
		p.renderError(w, r, &pageError{http.StatusBadRequest, "unknown_client", "client removed"})
		return
	}
	if err := p.cfg.EID.CheckCallback(q); err != nil {
		p.upstreamFailed(w, r, ar, err)
		return
	}
	code := q.Get("code")
	if len(code) > 2048 {
		p.authorizeError(w, r, authErr(ar, oe.AccessDenied, "the eID returned a malformed code"))
		return
	}
	id, err := p.cfg.EID.Exchange(ctx, code, ar.UpstreamVerifier, ar.UpstreamNonce)
	if err != nil {
		p.upstreamFailed(w, r, ar, err)
		return
	}
	if want := requiredLevel(ar.ACRValues); want != "" && id.ACR < want {
		p.authorizeError(w, r, authErr(ar, oe.AccessDenied, "the eID login did not reach level "+want))
		return
	}
	if !p.pageAllowed(w, r, ratelimit.Login, ratelimit.Citizen(id.Issuer+" "+id.Subject)) {
		return
	}
	ar.UpstreamState, ar.UpstreamNonce, ar.UpstreamVerifier = "", "", ""
	// A first-party client needs no consent: its code is stored with the session, in one
	// transaction.
	var ac *store.AuthCode
	var codeSecret string
	if client.FirstParty && !slices.Contains(ar.Prompt, "consent") {
		c, secret := p.newCode(ar, store.Session{})
		ac, codeSecret = &c, secret
	}
	sess, err := p.openSession(w, r, map[string]any{"client": ar.ClientID}, id, ac, once)
	if errors.Is(err, store.ErrAlreadyUsed) {
		p.renderError(w, r, &pageError{http.StatusBadRequest, "expired_login", "this login was already completed"})
		return
	}
	if err != nil {
		p.log.ErrorContext(ctx, "open session", "err", err)
		p.authorizeError(w, r, authErr(ar, oe.TemporarilyUnavailable, "the provider cannot store the login right now"))
		return
	}
	p.cfg.Audit.Kick() // the login's record is pending: see openSession
	if ac != nil {
		p.sendCode(w, r, ar, codeSecret)
		return
	}
	p.continueAfterLogin(w, r, ar, client, sess)
}

// upstreamFailed sends an upstream failure to the client as the spec-correct error.
func (p *Provider) upstreamFailed(w http.ResponseWriter, r *http.Request, ar store.AuthRequest, err error) {
	p.log.WarnContext(r.Context(), "eid login failed", "err", err, "client_id", ar.ClientID)
	switch {
	case errors.Is(err, eid.ErrUnavailable):
		p.authorizeError(w, r, authErr(ar, oe.TemporarilyUnavailable, "the national eID is not reachable right now"))
	case errors.Is(err, eid.ErrDenied):
		p.authorizeError(w, r, authErr(ar, oe.AccessDenied, "the eID login was refused or cancelled"))
	default:
		p.authorizeError(w, r, authErr(ar, oe.AccessDenied, "the eID's answer could not be verified"))
	}
}

// openSession records what the eID verified and starts a fresh session, storing code (if
// not nil) with it. A new session ID on every login prevents session fixation.
//
// once, when not nil, makes the login single-use: see loginTransaction. why goes into the
// login's audit record (the client it is for, or the step-up's purpose).
func (p *Provider) openSession(w http.ResponseWriter, r *http.Request, why map[string]any, id eid.Identity, code *store.AuthCode, once *store.Once) (store.Session, error) {
	ctx := r.Context()
	now := p.now()
	level := 1
	if id.ACR == "2" {
		level = 2
	}
	attrs := make(map[string]store.Attribute, len(id.Attributes))
	for k, v := range id.Attributes {
		attrs[k] = store.Attribute{Value: v, Source: id.Issuer, Level: level, VerifiedAt: now}
	}
	var cccd string
	if raw, ok := id.Attributes["cccd"]; ok {
		_ = json.Unmarshal(raw, &cccd)
	}
	authTime := id.AuthTime
	if authTime.IsZero() || authTime.After(now) {
		authTime = now
	}
	secret := rand.Text() + rand.Text()
	s := store.Session{
		ID: hashID(secret), AuthTime: authTime, ACR: id.ACR, AMR: id.AMR,
		UpstreamIDToken: id.RawIDToken, CreatedAt: now, ExpiresAt: now.Add(p.cfg.SessionTTL),
	}
	if code != nil {
		code.SessionID, code.AuthTime, code.ACR, code.AMR = s.ID, s.AuthTime, s.ACR, s.AMR
	}
	old, hadSession := p.currentSession(r)
	// The audit record is written with the login, so no login reaches a client unrecorded.
	details := map[string]any{"acr": s.ACR, "amr": s.AMR}
	maps.Copy(details, why)
	cit, err := p.store.RecordLogin(ctx, store.Login{
		Citizen: store.Citizen{Issuer: id.Issuer, Subject: id.Subject, CCCD: cccd, Attributes: attrs},
		Session: s, Code: code, Once: once,
		Audit: func(c store.Citizen) ([]store.AuditRecord, error) {
			return p.cfg.Audit.Records(audit.Event{Kind: audit.KindLogin, Actor: audit.Citizen(c.ID), Details: details})
		},
	})
	if err != nil {
		return store.Session{}, err
	}
	s.CitizenID = cit.ID
	// Another person logging in on this browser ends the previous person's session. The same
	// citizen logging in again keeps the old one alive (unreachable from the browser, whose
	// cookie changes) so refresh tokens other clients hold for it keep working.
	if hadSession && old.CitizenID != cit.ID {
		if err := p.store.DeleteSession(ctx, old.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Session{}, err
		}
	}
	http.SetCookie(w, p.cookie(sessionCookie, secret, int(p.cfg.SessionTTL.Seconds()), cookiePath(p.base)))
	return s, nil
}

func cookiePath(base string) string {
	if base == "" {
		return "/"
	}
	return base + "/"
}

// continueAfterLogin asks for consent where needed, then issues the code. The transaction
// is stored again only when the consent page needs it.
func (p *Provider) continueAfterLogin(w http.ResponseWriter, r *http.Request, ar store.AuthRequest, client store.Client, sess store.Session) {
	ar.SessionID = sess.ID
	if p.needsConsent(r, ar, client, sess) {
		if slices.Contains(ar.Prompt, "none") {
			p.authorizeError(w, r, authErr(ar, oe.ConsentRequired, "the citizen has not consented to these scopes"))
			return
		}
		ar.ID = rand.Text() + rand.Text() // a fresh handle: the old one was in a cookie
		if err := p.store.CreateAuthRequest(r.Context(), ar); err != nil {
			p.log.ErrorContext(r.Context(), "store auth request", "err", err)
			p.authorizeError(w, r, authErr(ar, oe.TemporarilyUnavailable, "the provider cannot store the login right now"))
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, p.cfg.Issuer+PathConsent+"?id="+url.QueryEscape(ar.ID)+localeParam(ar.UILocales), http.StatusFound)
		return
	}
	p.issueCode(w, r, ar, sess)
}

func localeParam(ui []string) string {
	if pickLocale(ui, "") == "en" {
		return "&lang=en"
	}
	return ""
}

func (p *Provider) needsConsent(r *http.Request, ar store.AuthRequest, client store.Client, sess store.Session) bool {
	if slices.Contains(ar.Prompt, "consent") {
		return true
	}
	if client.FirstParty {
		return false
	}
	c, err := p.store.GetConsent(r.Context(), sess.CitizenID, client.ID)
	if err != nil {
		return true
	}
	for _, s := range ar.Scopes {
		if !slices.Contains(c.Scopes, s) {
			return true
		}
	}
	return false
}

// newCode builds a single-use code for a logged-in request; the secret goes to the client,
// its hash to the store.
func (p *Provider) newCode(ar store.AuthRequest, sess store.Session) (store.AuthCode, string) {
	now := p.now()
	secret := rand.Text() + rand.Text()
	return store.AuthCode{
		ID: hashID(secret), ClientID: ar.ClientID, RedirectURI: ar.RedirectURI, CitizenID: sess.CitizenID,
		SessionID: sess.ID, Scopes: ar.Scopes, Nonce: ar.Nonce, CodeChallenge: ar.CodeChallenge,
		CodeChallengeMethod: ar.CodeChallengeMethod, Claims: ar.Claims, AuthTime: sess.AuthTime,
		ACR: sess.ACR, AMR: sess.AMR, CreatedAt: now, ExpiresAt: now.Add(p.cfg.CodeTTL), DPoPJKT: ar.DPoPJKT,
	}, secret
}

// issueCode stores a code and sends it to the client.
func (p *Provider) issueCode(w http.ResponseWriter, r *http.Request, ar store.AuthRequest, sess store.Session) {
	ac, secret := p.newCode(ar, sess)
	if err := p.store.CreateAuthCode(r.Context(), ac); err != nil {
		p.log.ErrorContext(r.Context(), "store code", "err", err)
		p.authorizeError(w, r, authErr(ar, oe.TemporarilyUnavailable, "the provider cannot store the login right now"))
		return
	}
	p.sendCode(w, r, ar, secret)
}

// sendCode redirects to the client with the code, state and iss (RFC 9207).
func (p *Provider) sendCode(w http.ResponseWriter, r *http.Request, ar store.AuthRequest, secret string) {
	q := url.Values{"code": {secret}, "iss": {p.cfg.Issuer}}
	if ar.State != "" {
		q.Set("state", ar.State)
	}
	p.redirect(w, r, ar.RedirectURI, q)
}

// sameSession reports whether the browser's session is the one a transaction belongs to.
func sameSession(r *http.Request, sessionID string) bool {
	c, err := r.Cookie(sessionCookie)
	if err != nil || sessionID == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashID(c.Value)), []byte(sessionID)) == 1
}
