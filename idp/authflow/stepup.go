package authflow

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/motlan/motlan/idp/eid"
	"github.com/motlan/motlan/idp/internal/web"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
)

// Motlan's own pages (the signing approval page) log citizens in through the same upstream
// round trip as relying parties, as the internal client below, and come back to a path on
// this provider.
const (
	PathStepUp     = "/stepup"
	internalClient = "motlan:internal"
)

// StepUpURL sends the browser to a fresh eID login at level 2 that returns to returnPath
// (a path on this provider).
func (f *Flow) StepUpURL(returnPath, lang string) string {
	q := url.Values{"return": {returnPath}}
	if lang == "en" {
		q.Set("lang", "en")
	}
	return f.cfg.Issuer + PathStepUp + "?" + q.Encode()
}

// safeReturn accepts only a local absolute path, never another origin. Control
// characters are refused too: browsers drop tabs and newlines from a Location, so
// "/\t/evil.example" would arrive as "//evil.example".
func safeReturn(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.Contains(s, "\\") || len(s) >= 512 || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// StepUpPurpose says, for a step-up's return path, why the login is asked (the signing
// request's portal and number of documents), in lang; "" when it cannot tell. The text is
// the server's own, never taken from the URL.
type StepUpPurpose func(ctx context.Context, returnPath, lang string) string

// SetStepUpPurpose installs fn (the signing API is built after the provider).
func (f *Flow) SetStepUpPurpose(fn StepUpPurpose) { f.purpose.Store(&fn) }

// HandleStepUp starts a level-2 eID login for one of Motlan's own pages.
func (f *Flow) HandleStepUp(w http.ResponseWriter, r *http.Request) {
	ret := r.URL.Query().Get("return")
	if !safeReturn(ret) {
		f.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "bad_request", Detail: "return must be a local path"})
		return
	}
	now := f.cfg.Now()
	ar := store.AuthRequest{
		ID: rand.Text() + rand.Text(), ClientID: internalClient, RedirectURI: ret, Scopes: []string{"openid"},
		Prompt: []string{"login"}, MaxAge: 0, ACRValues: []string{"2"}, CSRFToken: rand.Text(),
		CreatedAt: now, ExpiresAt: now.Add(f.cfg.AuthRequestTTL),
	}
	if r.URL.Query().Get("lang") == "en" {
		ar.UILocales = []string{"en"}
	}
	lang := "vi"
	if len(ar.UILocales) > 0 {
		lang = "en"
	}
	binding := ""
	if fn := f.purpose.Load(); fn != nil {
		binding = (*fn)(r.Context(), ret, lang)
	}
	f.startUpstreamLogin(w, r, ar, binding)
}

// finishStepUp completes an internal login: a session at level 2, then back to the page.
// Failures are pages: there is no client to redirect an error to.
func (f *Flow) finishStepUp(w http.ResponseWriter, r *http.Request, ar store.AuthRequest, q url.Values, once *store.Once) {
	ctx := r.Context()
	lang := "vi"
	if web.PickLocale(ar.UILocales, "") == "en" {
		lang = "en"
	}
	fail := func(status int, key string, err error) {
		if err != nil {
			f.cfg.Logger.WarnContext(ctx, "step-up login failed", "err", err)
		}
		// The page offers the signing link again: it starts a new login, bound anew.
		retry := retryPath(ar.RedirectURI)
		if retry != "" {
			retry = f.cfg.Base + retry
		}
		f.cfg.Pages.Error(w, r, &web.PageError{Status: status, Key: key, Lang: lang, Retry: retry})
	}
	if err := f.cfg.EID.CheckCallback(q); err != nil {
		if errors.Is(err, eid.ErrUnavailable) {
			fail(http.StatusServiceUnavailable, "unavailable", err)
		} else {
			fail(http.StatusForbidden, denialKey(eid.DenialOf(err)), err)
		}
		return
	}
	id, err := f.cfg.EID.Exchange(ctx, q.Get("code"), ar.UpstreamVerifier, ar.UpstreamNonce)
	if err != nil {
		if errors.Is(err, eid.ErrUnavailable) {
			fail(http.StatusServiceUnavailable, "unavailable", err)
		} else {
			fail(http.StatusForbidden, "stepup_failed", err)
		}
		return
	}
	if id.ACR < "2" {
		fail(http.StatusForbidden, "level2_required", nil)
		return
	}
	if _, err := f.cfg.Sessions.Open(w, r, map[string]any{"purpose": "stepup"}, id, nil, once); errors.Is(err, store.ErrAlreadyUsed) {
		fail(http.StatusBadRequest, "expired_login", nil)
		return
	} else if errors.Is(err, store.ErrUnavailable) {
		w.Header().Set("Retry-After", strconv.Itoa(oe.StoreRetryAfter)) // a store outage: come back soon
		fail(http.StatusServiceUnavailable, "unavailable", err)
		return
	} else if err != nil {
		fail(http.StatusInternalServerError, "server_error", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, f.cfg.Base+ar.RedirectURI, http.StatusFound)
}

// denialKey is the step-up error page's message for why the eID refused the login.
func denialKey(d eid.Denial) string {
	switch d {
	case eid.DenialCancelled:
		return "stepup_cancelled"
	case eid.DenialCredentials:
		return "stepup_credentials"
	case eid.DenialLevel:
		return "level2_required"
	case eid.DenialConsent:
		return "stepup_consent"
	}
	return "stepup_failed"
}

// retryPath is the page the login was for without its one-time ticket (a "t" query
// parameter): opening it again mints a new one.
func retryPath(ret string) string {
	u, err := url.Parse(ret)
	if err != nil || !safeReturn(ret) {
		return ""
	}
	q := u.Query()
	q.Del("t")
	u.RawQuery = q.Encode()
	return u.String()
}
