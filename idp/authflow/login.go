package authflow

import (
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/motlan/motlan/idp/eid"
	"github.com/motlan/motlan/idp/internal/web"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/ratelimit"
)

// txCookiePrefix names the cookie that binds an upstream login to the browser that
// started it, so a callback URL planted in another browser fails (login CSRF).
const txCookiePrefix = "motlan_tx_"

// startUpstreamLogin stores the login transaction and sends the browser to the eID with
// the broker's own state, nonce and PKCE verifier.
func (f *Flow) startUpstreamLogin(w http.ResponseWriter, r *http.Request, ar store.AuthRequest, binding string) {
	ar.UpstreamState = rand.Text() + rand.Text() // random from its first character: it names the cookie
	ar.UpstreamNonce = rand.Text()
	ar.UpstreamVerifier = rand.Text() + rand.Text() + rand.Text() // 78 chars, RFC 7636 43..128
	opts := eid.AuthOptions{
		ACR:        upstreamLevel(ar),
		ForceLogin: slices.Contains(ar.Prompt, "login"),
		MaxAge:     ar.MaxAge,
		LoginHint:  ar.LoginHint,
		UILocales:  ar.UILocales,

		BindingMessage: binding,
	}
	target, err := f.cfg.EID.AuthCodeURL(r.Context(), ar.UpstreamState, ar.UpstreamNonce, ar.UpstreamVerifier, opts)
	if err != nil {
		f.cfg.Logger.WarnContext(r.Context(), "eid unavailable", "err", err)
		f.authorizeError(w, r, authErr(ar, oe.TemporarilyUnavailable, "the national eID is not reachable right now"))
		return
	}
	name := txCookiePrefix + ar.UpstreamState[:12]
	value := f.sealTransaction(ar, name)
	if value == "" {
		// Too big for a cookie (a large claims request): the store keeps it, the cookie
		// only names it.
		if err := f.cfg.Store.CreateAuthRequest(r.Context(), ar); err != nil {
			f.cfg.Logger.ErrorContext(r.Context(), "store auth request", "err", err)
			f.authorizeError(w, r, authErr(ar, oe.TemporarilyUnavailable, "the provider cannot store the login right now"))
			return
		}
		value = ar.ID
	}
	http.SetCookie(w, f.cfg.Cookies.Cookie(name, value, int(ar.ExpiresAt.Sub(f.cfg.Now()).Seconds())+1, f.cfg.Base+PathCallback))
	w.Header().Set("Cache-Control", "no-store")
	web.Found(w, target)
}

// HandleCallback finishes the upstream login: it checks that the callback belongs to a
// transaction this browser started, redeems the code, and opens a session.
func (f *Flow) HandleCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !f.cfg.Limits.Page(w, r, ratelimit.Login, f.cfg.Limits.IP(r)) {
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" || len(state) > 256 || len(q["state"]) > 1 || !web.Storable(q) {
		f.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "bad_callback", Detail: "missing state"})
		return
	}
	ar, once, perr := f.loginTransaction(w, r, state)
	if perr != nil {
		f.cfg.Pages.Error(w, r, perr)
		return
	}
	if ar.ClientID == internalClient {
		f.finishStepUp(w, r, ar, q, once)
		return
	}
	client, ok := f.cfg.Clients.Get(ctx, ar.ClientID)
	if !ok {
		f.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "unknown_client", Detail: "client removed"})
		return
	}
	if err := f.cfg.EID.CheckCallback(q); err != nil {
		f.upstreamFailed(w, r, ar, err)
		return
	}
	code := q.Get("code")
	if len(code) > 2048 {
		f.authorizeError(w, r, authErr(ar, oe.AccessDenied, "the eID returned a malformed code"))
		return
	}
	id, err := f.cfg.EID.Exchange(ctx, code, ar.UpstreamVerifier, ar.UpstreamNonce)
	if err != nil {
		f.upstreamFailed(w, r, ar, err)
		return
	}
	if !acrSatisfied(ar, id.ACR) {
		f.observeLogin(LoginLevelTooLow, id.ACR)
		f.authorizeError(w, r, authErr(ar, oe.AccessDenied, "the eID login did not reach a level the essential acr accepts"))
		return
	}
	if !f.cfg.Limits.Page(w, r, ratelimit.Login, ratelimit.Citizen(id.Issuer+" "+id.Subject)) {
		return
	}
	ar.UpstreamState, ar.UpstreamNonce, ar.UpstreamVerifier = "", "", ""
	// A first-party client needs no consent: its code is stored with the session, in one
	// transaction.
	var ac *store.AuthCode
	var codeSecret string
	if client.FirstParty && !slices.Contains(ar.Prompt, "consent") {
		c, secret := f.newCode(ar, store.Session{})
		ac, codeSecret = &c, secret
	}
	sess, err := f.cfg.Sessions.Open(w, r, map[string]any{"client": ar.ClientID}, id, ac, once)
	if errors.Is(err, store.ErrAlreadyUsed) {
		f.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "expired_login", Detail: "this login was already completed"})
		return
	}
	if err != nil {
		f.cfg.Logger.ErrorContext(ctx, "open session", "err", err)
		f.observeLogin(LoginStoreFailed, id.ACR)
		f.authorizeError(w, r, authErr(ar, oe.TemporarilyUnavailable, "the provider cannot store the login right now"))
		return
	}
	f.observeLogin(LoginSuccess, id.ACR)
	if ac != nil {
		f.sendCode(w, r, ar, codeSecret)
		return
	}
	f.continueAfterLogin(w, r, ar, client, sess)
}

// upstreamFailed sends an upstream failure to the client as the spec-correct error.
func (f *Flow) upstreamFailed(w http.ResponseWriter, r *http.Request, ar store.AuthRequest, err error) {
	f.cfg.Logger.WarnContext(r.Context(), "eid login failed", "err", err, "client_id", ar.ClientID)
	switch {
	case errors.Is(err, eid.ErrUnavailable):
		f.observeLogin(LoginEIDUnavailable, "")
		f.authorizeError(w, r, authErr(ar, oe.TemporarilyUnavailable, "the national eID is not reachable right now"))
	case errors.Is(err, eid.ErrDenied):
		f.observeLogin(LoginDenied, "")
		f.authorizeError(w, r, authErr(ar, oe.AccessDenied, deniedDescription(eid.DenialOf(err))))
	default:
		f.observeLogin(LoginFailed, "")
		f.authorizeError(w, r, authErr(ar, oe.AccessDenied, "the eID's answer could not be verified"))
	}
}

// continueAfterLogin asks for consent where needed, then issues the code. The transaction
// is stored again only when the consent page needs it.
func (f *Flow) continueAfterLogin(w http.ResponseWriter, r *http.Request, ar store.AuthRequest, client store.Client, sess store.Session) {
	ar.SessionID = sess.ID
	if f.needsConsent(r, ar, client, sess) {
		if slices.Contains(ar.Prompt, "none") {
			f.authorizeError(w, r, authErr(ar, oe.ConsentRequired, "the citizen has not consented to these scopes"))
			return
		}
		ar.ID = rand.Text() + rand.Text() // a fresh handle: the old one was in a cookie
		if err := f.cfg.Store.CreateAuthRequest(r.Context(), ar); err != nil {
			f.cfg.Logger.ErrorContext(r.Context(), "store auth request", "err", err)
			f.authorizeError(w, r, authErr(ar, oe.TemporarilyUnavailable, "the provider cannot store the login right now"))
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, f.cfg.Issuer+PathConsent+"?id="+url.QueryEscape(ar.ID)+localeParam(ar.UILocales), http.StatusFound)
		return
	}
	f.issueCode(w, r, ar, sess)
}

func localeParam(ui []string) string {
	if web.PickLocale(ui, "") == "en" {
		return "&lang=en"
	}
	return ""
}

func (f *Flow) needsConsent(r *http.Request, ar store.AuthRequest, client store.Client, sess store.Session) bool {
	if slices.Contains(ar.Prompt, "consent") {
		return true
	}
	if client.FirstParty {
		return false
	}
	c, err := f.cfg.Store.GetConsent(r.Context(), sess.CitizenID, client.ID)
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
func (f *Flow) newCode(ar store.AuthRequest, sess store.Session) (store.AuthCode, string) {
	now := f.cfg.Now()
	secret := web.NewSecret(now)
	return store.AuthCode{
		ID: web.HashID(secret), ClientID: ar.ClientID, RedirectURI: ar.RedirectURI, CitizenID: sess.CitizenID,
		SessionID: sess.ID, Scopes: ar.Scopes, Nonce: ar.Nonce, CodeChallenge: ar.CodeChallenge,
		CodeChallengeMethod: ar.CodeChallengeMethod, Claims: ar.Claims, AuthTime: sess.AuthTime,
		ACR: sess.ACR, AMR: sess.AMR, CreatedAt: now, ExpiresAt: now.Add(f.cfg.CodeTTL), DPoPJKT: ar.DPoPJKT,
	}, secret
}

// issueCode stores a code and sends it to the client.
func (f *Flow) issueCode(w http.ResponseWriter, r *http.Request, ar store.AuthRequest, sess store.Session) {
	ac, secret := f.newCode(ar, sess)
	if err := f.cfg.Store.CreateAuthCode(r.Context(), ac); err != nil {
		f.cfg.Logger.ErrorContext(r.Context(), "store code", "err", err)
		f.authorizeError(w, r, authErr(ar, oe.TemporarilyUnavailable, "the provider cannot store the login right now"))
		return
	}
	f.sendCode(w, r, ar, secret)
}

// sendCode redirects to the client with the code, state and iss (RFC 9207).
func (f *Flow) sendCode(w http.ResponseWriter, r *http.Request, ar store.AuthRequest, secret string) {
	q := url.Values{"code": {secret}, "iss": {f.cfg.Issuer}}
	if ar.State != "" {
		q.Set("state", ar.State)
	}
	f.cfg.Pages.Redirect(w, r, ar.RedirectURI, q)
}

// deniedDescription tells the relying party why the eID refused the login, so its page can
// say it in its own sentence (the codes stay access_denied, RFC 6749 4.1.2.1).
func deniedDescription(d eid.Denial) string {
	switch d {
	case eid.DenialCancelled:
		return "the citizen cancelled the login at the eID"
	case eid.DenialCredentials:
		return "too many wrong passwords or one-time codes at the eID"
	case eid.DenialLevel:
		return "the citizen's eID account level is too low"
	case eid.DenialConsent:
		return "the citizen refused consent at the eID"
	}
	return "the eID login was refused or cancelled"
}
