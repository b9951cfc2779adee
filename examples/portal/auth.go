package portal

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func (p *Portal) login(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r)
	op, err := p.provider(r.Context())
	if err != nil {
		p.log.Warn("portal: discovery failed", "err", err)
		p.fail(w, r, lang, http.StatusServiceUnavailable, "unavailable", "")
		return
	}
	tx := transaction{State: randomToken(24), Nonce: randomToken(24), Verifier: oauth2.GenerateVerifier()}
	if b := bundleByID(r.URL.Query().Get("goi")); b != nil {
		tx.Bundle = b.ID
	}
	if err := setSealed(p.seal, w, txCookie, tx, txTTL); err != nil {
		p.log.Error("portal: sealing the login cookie", "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	locales := "vi en"
	if lang == "en" {
		locales = "en vi"
	}
	opts := []oauth2.AuthCodeOption{
		oidc.Nonce(tx.Nonce),
		oauth2.S256ChallengeOption(tx.Verifier),
		oauth2.SetAuthURLParam("ui_locales", locales),
		oauth2.SetAuthURLParam("claims", claimsRequest(p.cfg.ACR)),
	}
	if p.cfg.ACR != "-" {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", p.cfg.ACR))
	}
	http.Redirect(w, r, op.oauth.AuthCodeURL(tx.State, opts...), http.StatusFound)
}

func (p *Portal) callback(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r)
	q := r.URL.Query()
	tx, err := getSealed[transaction](p.seal, r, txCookie)
	p.seal.clear(w, txCookie) // one use, whatever happens
	if err != nil || q.Get("state") == "" || !equal(q.Get("state"), tx.State) {
		// The callback reopened from history or by a reload, after the login finished:
		// with a live session, the citizen simply wants their dossier back.
		if _, serr := getSealed[session](p.seal, r, sessionCookie); serr == nil {
			p.log.Info("portal: callback reopened with a live session; back to the dossier")
			http.Redirect(w, r, "/ho-so", http.StatusSeeOther)
			return
		}
		p.log.Warn("portal: callback with a missing or wrong state", "cookie", err == nil)
		p.fail(w, r, lang, http.StatusBadRequest, "state", "")
		return
	}
	op, err := p.provider(r.Context())
	if err != nil {
		p.log.Warn("portal: discovery failed", "err", err)
		p.fail(w, r, lang, http.StatusServiceUnavailable, "unavailable", "")
		return
	}
	// RFC 9207: an iss parameter must name our issuer; it must be there when the
	// provider says it sends one. This stops mix-up attacks.
	if q.Has("iss") && q.Get("iss") != p.cfg.Issuer || !q.Has("iss") && op.issParam {
		p.log.Warn("portal: callback with a wrong or missing iss")
		p.fail(w, r, lang, http.StatusBadRequest, "issuer", "")
		return
	}
	if e := q.Get("error"); e != "" {
		p.log.Info("portal: provider returned an error", "error", e, "description", q.Get("error_description"))
		kind, status := "provider", http.StatusBadGateway
		switch e {
		case "access_denied":
			kind, status = "access_denied", http.StatusForbidden
		case "temporarily_unavailable", "server_error":
			kind, status = "unavailable", http.StatusServiceUnavailable
		}
		p.fail(w, r, lang, status, kind, e)
		return
	}
	code := q.Get("code")
	if code == "" {
		p.fail(w, r, lang, http.StatusBadRequest, "state", "")
		return
	}
	c, raw, f := p.redeem(r.Context(), op, code, tx)
	if f != nil {
		p.fail(w, r, lang, f.status, f.kind, f.code)
		return
	}
	if err := setSealed(p.seal, w, sessionCookie, session{Citizen: c, CSRF: randomToken(24), IDToken: raw}, sessionTTL); err != nil {
		p.log.Error("portal: sealing the session cookie", "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	p.log.Info("portal: login", "acr", c.ACR)
	next := "/ho-so"
	if tx.Bundle != "" && tx.Bundle != bundles[0].ID {
		next += "/" + tx.Bundle
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// failure is a failure page's status, kind and code.
type failure struct {
	status     int
	kind, code string
}

// redeem exchanges code, checks the ID token (nonce, at_hash, the eID level the portal
// relies on) and reads userinfo; it returns the citizen and the raw ID token.
func (p *Portal) redeem(ctx context.Context, op *provider, code string, tx transaction) (citizen, string, *failure) {
	bad := &failure{http.StatusBadGateway, "token", ""}
	ctx = oidc.ClientContext(ctx, p.cfg.HTTPClient)
	tok, err := op.oauth.Exchange(ctx, code, oauth2.VerifierOption(tx.Verifier))
	if err != nil {
		p.log.Warn("portal: code exchange failed", "err", err)
		return citizen{}, "", bad
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		p.log.Warn("portal: token response without id_token")
		return citizen{}, "", bad
	}
	idt, err := op.verifier.Verify(ctx, raw)
	if err == nil && !equal(idt.Nonce, tx.Nonce) {
		err = errors.New("nonce mismatch")
	}
	if err == nil && idt.AccessTokenHash != "" {
		err = idt.VerifyAccessToken(tok.AccessToken)
	}
	var claims map[string]any
	if err == nil {
		err = idt.Claims(&claims)
	}
	if err != nil {
		p.log.Warn("portal: ID token rejected", "err", err)
		return citizen{}, "", bad
	}
	c := citizen{Sub: idt.Subject, ACR: str(claims["acr"])}
	// The provider should refuse a weaker login, but the portal checks what it relies on.
	if p.cfg.ACR != "-" && c.ACR < p.cfg.ACR {
		p.log.Warn("portal: login below the required eID level", "acr", c.ACR)
		return citizen{}, "", &failure{http.StatusForbidden, "access_denied", "acr"}
	}
	c.fill(claims)
	if op.oidc.UserInfoEndpoint() == "" {
		return c, raw, nil
	}
	ui, err := op.oidc.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	var uc map[string]any
	if err == nil && ui.Subject != idt.Subject {
		err = errors.New("userinfo sub differs from the ID token's")
	}
	if err == nil {
		err = ui.Claims(&uc)
	}
	if err != nil {
		p.log.Warn("portal: userinfo failed", "err", err)
		return citizen{}, "", bad
	}
	c.fill(uc)
	c.verifiedLevels(uc)
	return c, raw, nil
}

func (p *Portal) logout(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r)
	if sess, err := getSealed[session](p.seal, r, sessionCookie); err == nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil || !equal(r.PostForm.Get("csrf"), sess.CSRF) {
			p.fail(w, r, lang, http.StatusForbidden, "csrf", "")
			return
		}
	}
	p.seal.clear(w, sessionCookie)
	// End the provider's session too (RP-initiated logout): otherwise the next "log in"
	// on a shared phone would pass straight through as the previous citizen.
	if sess, err := getSealed[session](p.seal, r, sessionCookie); err == nil && sess.IDToken != "" {
		if op, err := p.provider(r.Context()); err == nil && op.endSess != "" {
			if u, err := url.Parse(op.endSess); err == nil {
				ru, _ := url.Parse(p.cfg.RedirectURL)
				q := u.Query()
				q.Set("id_token_hint", sess.IDToken)
				q.Set("client_id", p.cfg.ClientID)
				q.Set("post_logout_redirect_uri", ru.Scheme+"://"+ru.Host+"/")
				q.Set("ui_locales", lang)
				u.RawQuery = q.Encode()
				http.Redirect(w, r, u.String(), http.StatusSeeOther)
				return
			}
		}
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
