package idp

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
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/ratelimit"
)

// maxParamBytes bounds a request's form so a hostile client cannot make us buffer much.
const maxParamBytes = 64 << 10

// redirectError is an authorization error that may be sent to the client's redirect URI,
// because the client and redirect URI were validated first.
type redirectError struct {
	err         *oe.Error
	redirectURI string
	state       string
}

func (e *redirectError) Error() string { return e.err.Error() }

// pageError is shown to the person, never redirected: the redirect URI is not trusted.
type pageError struct {
	status int
	key    string // message key in pages.go
	detail string // developer-facing detail, no personal data
}

func (e *pageError) Error() string { return e.key + ": " + e.detail }

// parseAuthorize reads an authorization request at /authorize: a request_uri from /par
// (RFC 9126 4) is redeemed, anything else is validated by checkAuthorize.
func (p *Provider) parseAuthorize(r *http.Request) (store.AuthRequest, store.Client, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxParamBytes)
	if err := r.ParseForm(); err != nil {
		return store.AuthRequest{}, store.Client{}, &pageError{http.StatusBadRequest, "bad_request", "unparsable request"}
	}
	// On GET the query holds the parameters; on POST the body (OIDC Core 3.1.2.1).
	form := r.Form
	if r.Method == http.MethodPost {
		form = r.PostForm
	}
	if v := form["request_uri"]; len(v) == 1 && strings.HasPrefix(v[0], requestURIPrefix) {
		return p.redeemPushed(r.Context(), form)
	}
	return p.checkAuthorize(r.Context(), form, nil)
}

// checkAuthorize validates an authorization request's parameters (OIDC Core 3.1.2.1, RFC
// 6749 4.1.1, RFC 7636, RFC 9700); it is the one validation of /authorize and /par. At
// /authorize authed is nil and client_id names the client; at /par authed is the client
// that authenticated, and client_id, if sent, must name it. The client and redirect URI
// are checked before anything else, and any failure before that is a page, never a
// redirect.
func (p *Provider) checkAuthorize(ctx context.Context, form url.Values, authed *store.Client) (store.AuthRequest, store.Client, error) {
	var ar store.AuthRequest
	one := func(name string) (string, bool) {
		v := form[name]
		if len(v) > 1 {
			return "", false
		}
		if len(v) == 1 {
			return v[0], true
		}
		return "", true
	}
	clientID, ok1 := one("client_id")
	redirectURI, ok2 := one("redirect_uri")
	if !ok1 || !ok2 {
		return ar, store.Client{}, &pageError{http.StatusBadRequest, "bad_request", "client_id or redirect_uri repeated"}
	}
	var client store.Client
	if authed != nil {
		if clientID != "" && clientID != authed.ID {
			return ar, store.Client{}, &pageError{http.StatusBadRequest, "bad_request", "client_id does not match the authenticated client"}
		}
		client = *authed
	} else {
		var ok bool
		client, ok = p.client(ctx, clientID)
		if clientID == "" || !ok {
			return ar, store.Client{}, &pageError{http.StatusBadRequest, "unknown_client", "unknown client_id"}
		}
	}
	// Exact string match, RFC 9700 4.1.3: no prefix, no wildcard, no normalisation.
	if redirectURI == "" || !slices.Contains(client.RedirectURIs, redirectURI) {
		return ar, client, &pageError{http.StatusBadRequest, "bad_redirect", "redirect_uri is not registered for this client"}
	}

	state, okState := one("state")
	fail := func(code, desc string) (store.AuthRequest, store.Client, error) {
		if !okState {
			state = ""
		}
		return ar, client, &redirectError{err: &oe.Error{Code: code, Description: desc}, redirectURI: redirectURI, state: state}
	}
	for name, v := range form {
		if len(v) > 1 {
			return fail(oe.InvalidRequest, "a parameter is repeated"+named(name))
		}
	}
	if authed == nil && client.RequirePAR {
		return fail(oe.InvalidRequest, "this client must push its authorization requests to the PAR endpoint")
	}
	get := func(name string) string { return form.Get(name) }
	if get("request") != "" {
		return fail(oe.RequestNotSupported, "request objects are not supported")
	}
	if get("request_uri") != "" {
		if authed != nil {
			// RFC 9126 2.1: a pushed request must not itself refer to another.
			return fail(oe.InvalidRequest, "request_uri must not be pushed")
		}
		return fail(oe.RequestURINotSupported, "only request_uri values from the PAR endpoint are supported")
	}
	if rt := get("response_type"); rt != "code" {
		if rt == "" {
			return fail(oe.InvalidRequest, "response_type is required")
		}
		return fail(oe.UnsupportedResponseType, "only response_type=code is supported")
	}
	switch rm := get("response_mode"); rm {
	case "", "query":
	default:
		return fail(oe.InvalidRequest, "only response_mode=query is supported")
	}
	scopes := strings.Fields(get("scope"))
	if !slices.Contains(scopes, "openid") {
		return fail(oe.InvalidScope, "scope must contain openid")
	}
	for _, s := range scopes {
		if s != "openid" && !slices.Contains(client.AllowedScopes, s) {
			return fail(oe.InvalidScope, "a requested scope is not allowed for this client"+named(s))
		}
	}
	scopes = dedupe(scopes)

	challenge, method := get("code_challenge"), get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return fail(oe.InvalidRequest, "code_challenge_method without code_challenge")
	case challenge == "" && client.AuthMethod == "none":
		return fail(oe.InvalidRequest, "public clients must use PKCE (code_challenge with S256)")
	case challenge != "" && method != "S256":
		return fail(oe.InvalidRequest, "code_challenge_method must be S256")
	case challenge != "" && !validPKCEValue(challenge, 43, 43):
		return fail(oe.InvalidRequest, "code_challenge must be 43 base64url characters")
	}
	// RFC 9449 10: the code will be redeemable only with a DPoP proof by this key.
	jkt := get("dpop_jkt")
	if jkt != "" && !validJKT(jkt) {
		return fail(oe.InvalidRequest, "dpop_jkt must be the base64url SHA-256 thumbprint of a JWK")
	}

	prompt := strings.Fields(get("prompt"))
	for _, pr := range prompt {
		switch pr {
		case "none", "login", "consent", "select_account":
		default:
			return fail(oe.InvalidRequest, "unknown prompt value"+named(pr))
		}
	}
	if slices.Contains(prompt, "none") && len(prompt) > 1 {
		return fail(oe.InvalidRequest, "prompt=none cannot be combined with other values")
	}
	maxAge := -1
	if v := get("max_age"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fail(oe.InvalidRequest, "max_age must be a non-negative integer")
		}
		maxAge = n
	}
	creq, err := claims.Parse(get("claims"))
	if err != nil {
		return fail(oe.InvalidRequest, "claims is not a valid claims request (OIDC Core 5.5)")
	}
	if len(get("nonce")) > 512 || len(state) > 2048 || len(get("login_hint")) > 256 {
		return fail(oe.InvalidRequest, "nonce, state or login_hint is too long")
	}

	ar = store.AuthRequest{
		ID:                  rand.Text() + rand.Text(),
		ClientID:            client.ID,
		RedirectURI:         redirectURI,
		ResponseMode:        "query",
		Scopes:              scopes,
		State:               state,
		Nonce:               get("nonce"),
		CodeChallenge:       challenge,
		CodeChallengeMethod: method,
		DPoPJKT:             jkt,
		Prompt:              prompt,
		MaxAge:              maxAge,
		ACRValues:           append(strings.Fields(get("acr_values")), creq.EssentialACR()...),
		UILocales:           strings.Fields(get("ui_locales")),
		LoginHint:           get("login_hint"),
		CSRFToken:           rand.Text(),
	}
	if raw := get("claims"); raw != "" {
		ar.Claims = []byte(raw)
	}
	return ar, client, nil
}

// named echoes a request's word in an error description only when it is a plain
// lower-case name, so descriptions stay in RFC 6749's character set and carry nothing an
// attacker chose beyond such a name.
func named(s string) string {
	if len(s) == 0 || len(s) > 40 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c == '_') {
			return ""
		}
	}
	return ": " + s
}

func dedupe(in []string) []string {
	out := in[:0]
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// validPKCEValue checks RFC 7636's unreserved-character syntax and length.
func validPKCEValue(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// requiredLevel is the eID level the request needs: the highest known level among
// acr_values and essential acr claims; "" when none is asked.
func requiredLevel(acrs []string) string {
	level := ""
	for _, a := range acrs {
		if (a == "1" || a == "2") && a > level {
			level = a
		}
	}
	return level
}

func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ar, client, err := p.parseAuthorize(r)
	if err != nil {
		p.authorizeError(w, r, err)
		return
	}
	if !p.pageAllowed(w, r, ratelimit.Login, p.ip(r), ratelimit.Client(client.ID)) {
		return
	}
	now := p.now()
	ar.CreatedAt, ar.ExpiresAt = now, now.Add(p.cfg.AuthRequestTTL)

	sess, hasSession := p.currentSession(r)
	if hasSession && !p.needsLogin(ar, sess) {
		p.continueAfterLogin(w, r, ar, client, sess)
		return
	}
	if slices.Contains(ar.Prompt, "none") {
		p.authorizeError(w, r, authErr(ar, oe.LoginRequired, "the citizen must log in at the eID"))
		return
	}
	p.startUpstreamLogin(w, r, ar)
}

// needsLogin decides whether an existing session serves this request.
func (p *Provider) needsLogin(ar store.AuthRequest, s store.Session) bool {
	if slices.Contains(ar.Prompt, "login") {
		return true
	}
	if ar.MaxAge >= 0 && p.now().Sub(s.AuthTime) > secondsDuration(ar.MaxAge) {
		return true
	}
	if want := requiredLevel(ar.ACRValues); want != "" && s.ACR < want {
		return true
	}
	return false
}

// authErr builds a redirect error for a validated request.
func authErr(ar store.AuthRequest, code, desc string) error {
	return &redirectError{err: &oe.Error{Code: code, Description: desc}, redirectURI: ar.RedirectURI, state: ar.State}
}

func secondsDuration(n int) time.Duration { return time.Duration(n) * time.Second }

// authorizeError answers an authorization error: a redirect with error, state and iss
// (RFC 6749 4.1.2.1, RFC 9207) when the redirect URI was validated, else a page.
func (p *Provider) authorizeError(w http.ResponseWriter, r *http.Request, err error) {
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
		q.Set("iss", p.cfg.Issuer)
		p.redirect(w, r, re.redirectURI, q)
		return
	}
	var pe *pageError
	if !errors.As(err, &pe) {
		p.log.ErrorContext(r.Context(), "authorize", "err", err)
		pe = &pageError{http.StatusInternalServerError, "server_error", ""}
	}
	p.renderError(w, r, pe)
}

// redirect sends the browser to a validated redirect URI with q added to its query.
func (p *Provider) redirect(w http.ResponseWriter, r *http.Request, target string, q url.Values) {
	u, err := url.Parse(target)
	if err != nil {
		p.renderError(w, r, &pageError{http.StatusInternalServerError, "server_error", ""})
		return
	}
	existing := u.Query()
	for k, v := range q {
		existing[k] = v
	}
	u.RawQuery = existing.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}
