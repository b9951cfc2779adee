package authflow

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/claims"
	"github.com/motlan/motlan/idp/dpop"
	"github.com/motlan/motlan/idp/internal/web"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/ratelimit"
)

// redirectError is an authorization error that may be sent to the client's redirect URI,
// because the client and redirect URI were validated first.
type redirectError struct {
	err         *oe.Error
	redirectURI string
	state       string
}

func (e *redirectError) Error() string { return e.err.Error() }

// parseAuthorize reads an authorization request at /authorize: a request_uri from /par
// (RFC 9126 4) is redeemed, anything else is validated by checkAuthorize.
func (f *Flow) parseAuthorize(r *http.Request) (store.AuthRequest, store.Client, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, web.MaxParamBytes)
	if err := r.ParseForm(); err != nil || !web.Storable(r.Form) {
		return store.AuthRequest{}, store.Client{}, &web.PageError{Status: http.StatusBadRequest, Key: "bad_request", Detail: "unparsable request, or parameters that are not UTF-8 text"}
	}
	// On GET the query holds the parameters; on POST the body (OIDC Core 3.1.2.1).
	form := r.Form
	if r.Method == http.MethodPost {
		form = r.PostForm
	}
	if v := form["request_uri"]; len(v) == 1 && strings.HasPrefix(v[0], requestURIPrefix) {
		return f.redeemPushed(r.Context(), form)
	}
	return f.checkAuthorize(r.Context(), form, nil)
}

// single returns a parameter sent at most once; ok is false when it is repeated.
func single(form url.Values, name string) (string, bool) {
	v := form[name]
	if len(v) > 1 {
		return "", false
	}
	if len(v) == 1 {
		return v[0], true
	}
	return "", true
}

// checkAuthorize validates an authorization request's parameters (OIDC Core 3.1.2.1, RFC
// 6749 4.1.1, RFC 7636, RFC 9700); it is the one validation of /authorize and /par. At
// /authorize authed is nil and client_id names the client; at /par authed is the client
// that authenticated, and client_id, if sent, must name it. The client and redirect URI
// are checked before anything else, and any failure before that is a page, never a
// redirect; every later failure is redirected, in the order of the steps below.
func (f *Flow) checkAuthorize(ctx context.Context, form url.Values, authed *store.Client) (store.AuthRequest, store.Client, error) {
	client, redirectURI, err := f.authorizeClient(ctx, form, authed)
	if err != nil {
		return store.AuthRequest{}, client, err
	}
	state, okState := single(form, "state")
	if !okState {
		state = ""
	}
	fail := func(e *oe.Error) (store.AuthRequest, store.Client, error) {
		return store.AuthRequest{}, client, &redirectError{err: e, redirectURI: redirectURI, state: state}
	}
	if e := checkRequestForm(form, client, authed != nil); e != nil {
		return fail(e)
	}
	scopes, e := checkScopes(form.Get("scope"), client)
	if e != nil {
		return fail(e)
	}
	if e := checkBinding(form, client); e != nil {
		return fail(e)
	}
	prompt, maxAge, _, e := checkLogin(form, state)
	if e != nil {
		return fail(e)
	}
	get := form.Get
	ar := store.AuthRequest{
		ID:                  rand.Text() + rand.Text(),
		ClientID:            client.ID,
		RedirectURI:         redirectURI,
		ResponseMode:        "query",
		Scopes:              scopes,
		State:               state,
		Nonce:               get("nonce"),
		CodeChallenge:       get("code_challenge"),
		CodeChallengeMethod: get("code_challenge_method"),
		DPoPJKT:             get("dpop_jkt"),
		Prompt:              prompt,
		MaxAge:              maxAge,
		ACRValues:           strings.Fields(get("acr_values")), // a preference: see acr.go
		UILocales:           strings.Fields(get("ui_locales")),
		LoginHint:           get("login_hint"),
		CSRFToken:           rand.Text(),
	}
	if raw := get("claims"); raw != "" {
		ar.Claims = []byte(raw)
	}
	return ar, client, nil
}

// authorizeClient finds the client and checks the redirect URI: the two checks whose
// failure is a page, as nothing may be redirected to an unverified URI.
func (f *Flow) authorizeClient(ctx context.Context, form url.Values, authed *store.Client) (store.Client, string, error) {
	clientID, ok1 := single(form, "client_id")
	redirectURI, ok2 := single(form, "redirect_uri")
	if !ok1 || !ok2 {
		return store.Client{}, "", &web.PageError{Status: http.StatusBadRequest, Key: "bad_request", Detail: "client_id or redirect_uri repeated"}
	}
	var client store.Client
	if authed != nil {
		if clientID != "" && clientID != authed.ID {
			return store.Client{}, "", &web.PageError{Status: http.StatusBadRequest, Key: "bad_request", Detail: "client_id does not match the authenticated client"}
		}
		client = *authed
	} else {
		var ok bool
		client, ok = f.cfg.Clients.Get(ctx, clientID)
		if clientID == "" || !ok {
			return store.Client{}, "", &web.PageError{Status: http.StatusBadRequest, Key: "unknown_client", Detail: "unknown client_id"}
		}
	}
	// Exact string match, RFC 9700 4.1.3: no prefix, no wildcard, no normalisation.
	if redirectURI == "" || !f.redirectAllowed(client, redirectURI) {
		return client, "", &web.PageError{Status: http.StatusBadRequest, Key: "bad_redirect", Detail: "redirect_uri is not registered for this client"}
	}
	return client, redirectURI, nil
}

// checkRequestForm checks the request's shape: no parameter twice, pushed when the client
// must push, no request objects, the code flow with query responses only.
func checkRequestForm(form url.Values, client store.Client, pushed bool) *oe.Error {
	for name, v := range form {
		if len(v) > 1 {
			return oe.New(oe.InvalidRequest, "a parameter is repeated%s", web.Named(name))
		}
	}
	if !pushed && client.RequirePAR {
		return oe.New(oe.InvalidRequest, "this client must push its authorization requests to the PAR endpoint")
	}
	if form.Get("request") != "" {
		return oe.New(oe.RequestNotSupported, "request objects are not supported")
	}
	if form.Get("request_uri") != "" {
		if pushed {
			// RFC 9126 2.1: a pushed request must not itself refer to another.
			return oe.New(oe.InvalidRequest, "request_uri must not be pushed")
		}
		return oe.New(oe.RequestURINotSupported, "only request_uri values from the PAR endpoint are supported")
	}
	if rt := form.Get("response_type"); rt != "code" {
		if rt == "" {
			return oe.New(oe.InvalidRequest, "response_type is required")
		}
		return oe.New(oe.UnsupportedResponseType, "only response_type=code is supported")
	}
	switch rm := form.Get("response_mode"); rm {
	case "", "query":
	default:
		return oe.New(oe.InvalidRequest, "only response_mode=query is supported")
	}
	return nil
}

// otherScopes are the scopes Motlan defines besides openid and the claim scopes.
var otherScopes = []string{"offline_access", "sign", "signing", "admin"}

// knownScope reports whether Motlan defines the scope.
func knownScope(s string) bool {
	_, claimScope := claims.ByScope[s]
	return s == "openid" || claimScope || slices.Contains(otherScopes, s)
}

// checkScopes requires openid and allows only the client's scopes; scopes Motlan does not
// define are ignored (OIDC Core 3.1.2.1: not granted, not echoed). It returns the rest
// without repeats.
func checkScopes(scope string, client store.Client) ([]string, *oe.Error) {
	scopes := slices.DeleteFunc(strings.Fields(scope), func(s string) bool { return !knownScope(s) })
	if !slices.Contains(scopes, "openid") {
		return nil, oe.New(oe.InvalidScope, "scope must contain openid")
	}
	for _, s := range scopes {
		if s != "openid" && !slices.Contains(client.AllowedScopes, s) {
			return nil, oe.New(oe.InvalidScope, "a requested scope is not allowed for this client%s", web.Named(s))
		}
	}
	return web.Dedupe(scopes), nil
}

// checkBinding checks what binds the code to its redeemer: PKCE (RFC 7636; mandatory for
// public clients) and dpop_jkt (RFC 9449 10: the code will be redeemable only with a
// DPoP proof by this key).
func checkBinding(form url.Values, client store.Client) *oe.Error {
	challenge, method := form.Get("code_challenge"), form.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return oe.New(oe.InvalidRequest, "code_challenge_method without code_challenge")
	case challenge == "" && client.AuthMethod == "none":
		return oe.New(oe.InvalidRequest, "public clients must use PKCE (code_challenge with S256)")
	case challenge != "" && method != "S256":
		return oe.New(oe.InvalidRequest, "code_challenge_method must be S256")
	case challenge != "" && !web.ValidPKCEValue(challenge, 43, 43):
		return oe.New(oe.InvalidRequest, "code_challenge must be 43 base64url characters")
	}
	if jkt := form.Get("dpop_jkt"); jkt != "" && !dpop.ValidJKT(jkt) {
		return oe.New(oe.InvalidRequest, "dpop_jkt must be the base64url SHA-256 thumbprint of a JWK")
	}
	return nil
}

// checkLogin checks what steers the login: prompt, max_age, the claims request, and the
// lengths of the values echoed or passed upstream.
func checkLogin(form url.Values, state string) ([]string, int, claims.Request, *oe.Error) {
	prompt := strings.Fields(form.Get("prompt"))
	for _, pr := range prompt {
		switch pr {
		case "none", "login", "consent", "select_account":
		default:
			return nil, 0, claims.Request{}, oe.New(oe.InvalidRequest, "unknown prompt value%s", web.Named(pr))
		}
	}
	if slices.Contains(prompt, "none") && len(prompt) > 1 {
		return nil, 0, claims.Request{}, oe.New(oe.InvalidRequest, "prompt=none cannot be combined with other values")
	}
	maxAge := -1
	if v := form.Get("max_age"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, 0, claims.Request{}, oe.New(oe.InvalidRequest, "max_age must be a non-negative integer")
		}
		maxAge = n
	}
	creq, err := claims.Parse(form.Get("claims"))
	if err != nil {
		return nil, 0, claims.Request{}, oe.New(oe.InvalidRequest, "claims is not a valid claims request (OIDC Core 5.5)")
	}
	if len(form.Get("nonce")) > 512 || len(state) > 2048 || len(form.Get("login_hint")) > 256 {
		return nil, 0, claims.Request{}, oe.New(oe.InvalidRequest, "nonce, state or login_hint is too long")
	}
	return prompt, maxAge, creq, nil
}

// HandleAuthorize is the authorization endpoint (RFC 6749 4.1.1, OIDC Core 3.1.2).
func (f *Flow) HandleAuthorize(w http.ResponseWriter, r *http.Request) {
	if web.MethodNotAllowed(w, r) {
		return
	}
	ar, client, err := f.parseAuthorize(r)
	if err != nil {
		f.authorizeError(w, r, err)
		return
	}
	if !f.cfg.Limits.Page(w, r, ratelimit.Login, f.cfg.Limits.IP(r), ratelimit.Client(client.ID)) {
		return
	}
	now := f.cfg.Now()
	ar.CreatedAt, ar.ExpiresAt = now, now.Add(f.cfg.AuthRequestTTL)
	if !acrSatisfiable(ar) {
		// OIDC Core 5.5.1.1: an essential acr no eID level meets is a failed authentication.
		f.authorizeError(w, r, authErr(ar, oe.AccessDenied, "no eID level meets the essential acr"))
		return
	}

	sess, hasSession := f.cfg.Sessions.Current(r)
	if hasSession && !f.needsLogin(ar, sess) {
		f.continueAfterLogin(w, r, ar, client, sess)
		return
	}
	if slices.Contains(ar.Prompt, "none") {
		f.authorizeError(w, r, authErr(ar, oe.LoginRequired, "the citizen must log in at the eID"))
		return
	}
	f.startUpstreamLogin(w, r, ar, "")
}

// needsLogin decides whether an existing session serves this request.
func (f *Flow) needsLogin(ar store.AuthRequest, s store.Session) bool {
	if slices.Contains(ar.Prompt, "login") {
		return true
	}
	if ar.MaxAge >= 0 && f.cfg.Now().Sub(s.AuthTime) > secondsDuration(ar.MaxAge) {
		return true
	}
	return !acrSatisfied(ar, s.ACR) // a step-up login at the eID
}

// authErr builds a redirect error for a validated request.
func authErr(ar store.AuthRequest, code, desc string) error {
	return &redirectError{err: &oe.Error{Code: code, Description: desc}, redirectURI: ar.RedirectURI, state: ar.State}
}

func secondsDuration(n int) time.Duration { return time.Duration(n) * time.Second }

// authorizeError answers an authorization error: a redirect with error, state and iss
// (RFC 6749 4.1.2.1, RFC 9207) when the redirect URI was validated, else a page.
func (f *Flow) authorizeError(w http.ResponseWriter, r *http.Request, err error) {
	var re *redirectError
	if errors.As(err, &re) {
		q := url.Values{}
		q.Set("error", re.err.Code)
		if re.err.Description != "" {
			q.Set("error_description", re.err.Description)
		}
		if re.state != "" {
			q.Set("state", re.state)
		}
		q.Set("iss", f.cfg.Issuer)
		f.cfg.Pages.Redirect(w, r, re.redirectURI, q)
		return
	}
	var pe *web.PageError
	if !errors.As(err, &pe) {
		f.cfg.Logger.ErrorContext(r.Context(), "authorize", "err", err)
		pe = web.Failure(err)
	}
	f.cfg.Pages.Error(w, r, pe)
}

// redirectAllowed: a registered redirect URI, exactly; or, for a client `motlan dev`
// registered for developers, any http URI on a loopback host, any port and path (RFC 8252
// 7.3), without user info, query or fragment.
func (f *Flow) redirectAllowed(client store.Client, uri string) bool {
	if slices.Contains(client.RedirectURIs, uri) {
		return true
	}
	if !f.cfg.LoopbackClients[client.ID] {
		return false
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return false
	}
	switch u.Hostname() {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}
