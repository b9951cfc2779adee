package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/motlan/motlan/idp/eid"
	"github.com/motlan/motlan/idp/internal/web"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
)

// Paths of RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
const (
	PathLogout     = "/logout"
	PathLogoutDone = "/logout/done" // where the eID sends the browser back after its logout
	logoutCookie   = "motlan_logout"
)

// LogoutDoneURL is the post-logout redirect URI to register at the eID.
func LogoutDoneURL(issuer string) string { return strings.TrimSuffix(issuer, "/") + PathLogoutDone }

// logoutReturn is where the browser goes once every session has ended; it rides in a
// sealed cookie across the eID's logout.
type logoutReturn struct {
	RedirectURI string `json:"r,omitempty"`
	State       string `json:"s,omitempty"`
	Upstream    string `json:"u"` // the state sent to the eID
	Lang        string `json:"l"`
}

// HandleLogout ends the browser's session. A valid id_token_hint lets a relying party log
// the citizen out at once; without one the citizen confirms on a page, so a third-party
// site cannot log people out. post_logout_redirect_uri must match one registered for the
// client exactly.
func (m *Manager) HandleLogout(w http.ResponseWriter, r *http.Request) {
	if !m.cfg.Pages.ReadForm(w, r, "unparsable request") {
		return
	}
	f := r.Form
	lang := web.PickLocale(strings.Fields(f.Get("ui_locales")), f.Get("lang"))
	clientID := f.Get("client_id")
	hinted, hintSID := false, ""
	if hint := f.Get("id_token_hint"); hint != "" {
		aud, sid, ok := m.checkIDTokenHint(r, hint)
		if !ok || (clientID != "" && clientID != aud) {
			m.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "bad_request", Detail: "id_token_hint is not an ID token this provider issued to this client"})
			return
		}
		clientID, hinted, hintSID = aud, true, sid
	}
	ret := logoutReturn{State: f.Get("state"), Upstream: rand.Text(), Lang: lang}
	if u := f.Get("post_logout_redirect_uri"); u != "" {
		c, ok := m.cfg.Clients.Get(r.Context(), clientID)
		if clientID == "" || !ok || !slices.Contains(c.PostLogoutRedirectURIs, u) {
			m.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "bad_redirect", Detail: "post_logout_redirect_uri is not registered for this client"})
			return
		}
		ret.RedirectURI = u
	}
	sess, hasSession := m.Current(r)
	// A hint vouches for its own session only: an ID token of another one (an attacker's
	// own, say) does not end this browser's session without the citizen's confirmation.
	if hinted && hasSession && subtle.ConstantTimeCompare([]byte(hintSID), []byte(m.cfg.Tokens.Sid(sess.ID))) != 1 {
		hinted = false
	}
	confirmed := r.Method == http.MethodPost && hasSession &&
		subtle.ConstantTimeCompare([]byte(f.Get("csrf")), []byte(m.logoutCSRF(sess.ID))) == 1
	if hasSession && !hinted && !confirmed {
		q := url.Values{}
		if clientID != "" {
			q.Set("client_id", clientID) // from the hint, if any, so the redirect survives confirmation
		}
		for _, k := range []string{"post_logout_redirect_uri", "state"} {
			if v := f.Get(k); v != "" {
				q.Set(k, v)
			}
		}
		m.cfg.Pages.Render(w, r, http.StatusOK, "logout", lang, map[string]any{
			"Action": m.cfg.Base + PathLogout, "Fields": q, "CSRF": m.logoutCSRF(sess.ID),
		})
		return
	}
	upstream := ""
	if hasSession {
		// The session ends with its audit record, in one transaction.
		rec, err := m.cfg.Audit.Records(audit.Event{Kind: audit.KindLogout, Actor: audit.Citizen(sess.CitizenID), Details: map[string]any{"client": clientID}})
		if err == nil {
			err = m.cfg.Store.DeleteSession(r.Context(), sess.ID, rec...)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			m.cfg.Logger.ErrorContext(r.Context(), "logout: delete session", "err", err)
			m.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusServiceUnavailable, Key: "unavailable", Detail: ""})
			return
		}
		upstream = m.upstreamLogoutURL(sess, ret.Upstream)
		// Online refresh tokens of the session die with it: the token and introspection
		// endpoints check the session. The clients hear of it through the back channel.
		m.backchannelLogout(r.Context(), sess)
	}
	http.SetCookie(w, m.cfg.Cookies.Cookie(Cookie, "", -1, web.CookiePath(m.cfg.Base)))
	if upstream != "" {
		sealed, err := m.cfg.Seal.SealJSON(ret, logoutCookie)
		if err == nil {
			http.SetCookie(w, m.cfg.Cookies.Cookie(logoutCookie, sealed, 600, m.cfg.Base+PathLogoutDone))
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, upstream, http.StatusFound)
			return
		}
	}
	m.finishLogout(w, r, ret)
}

// logoutHint is what a new session keeps of the eID's ID token: all of it when the eID
// has an end-session endpoint (it is the id_token_hint there), else nothing, which saves
// a kilobyte or two written per login.
func (m *Manager) logoutHint(rawIDToken string) string {
	if lo, ok := m.cfg.EID.(eid.Logouter); ok && lo.EndSessionURL() != "" {
		return rawIDToken
	}
	return ""
}

// upstreamLogoutURL is the eID's end-session URL for this session, or "".
func (m *Manager) upstreamLogoutURL(s store.Session, state string) string {
	lo, ok := m.cfg.EID.(eid.Logouter)
	if !ok || s.UpstreamIDToken == "" {
		return ""
	}
	end := lo.EndSessionURL()
	u, err := url.Parse(end)
	if end == "" || err != nil {
		return ""
	}
	q := u.Query()
	q.Set("id_token_hint", s.UpstreamIDToken)
	q.Set("post_logout_redirect_uri", m.cfg.Issuer+PathLogoutDone)
	q.Set("state", state)
	u.RawQuery = q.Encode()
	return u.String()
}

// HandleLogoutDone receives the browser back from the eID's logout.
func (m *Manager) HandleLogoutDone(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(logoutCookie)
	var ret logoutReturn
	if err != nil || m.cfg.Seal.OpenJSON(c.Value, logoutCookie, &ret) != nil ||
		subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("state")), []byte(ret.Upstream)) != 1 {
		// Nothing to continue: the sessions are ended anyway; say so.
		m.cfg.Pages.Render(w, r, http.StatusOK, "loggedout", web.PickLocale(nil, r.URL.Query().Get("lang")), map[string]any{})
		return
	}
	http.SetCookie(w, m.cfg.Cookies.Cookie(logoutCookie, "", -1, m.cfg.Base+PathLogoutDone))
	m.finishLogout(w, r, ret)
}

func (m *Manager) finishLogout(w http.ResponseWriter, r *http.Request, ret logoutReturn) {
	if ret.RedirectURI == "" {
		m.cfg.Pages.Render(w, r, http.StatusOK, "loggedout", ret.Lang, map[string]any{})
		return
	}
	q := url.Values{}
	if ret.State != "" {
		q.Set("state", ret.State)
	}
	m.cfg.Pages.Redirect(w, r, ret.RedirectURI, q)
}

// checkIDTokenHint accepts an ID token this provider issued, expired or not (the spec
// expects expired hints), and returns its audience and sid.
func (m *Manager) checkIDTokenHint(r *http.Request, hint string) (aud, sid string, ok bool) {
	payload, hdr, err := m.cfg.Keys.Verify(r.Context(), hint)
	if err != nil || strings.EqualFold(hdr.Type, "at+jwt") {
		return "", "", false
	}
	var c struct {
		Iss string `json:"iss"`
		Aud any    `json:"aud"`
		Sid string `json:"sid"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Iss != m.cfg.Issuer {
		return "", "", false
	}
	switch a := c.Aud.(type) {
	case string:
		return a, c.Sid, a != ""
	case []any:
		if len(a) == 1 {
			s, ok := a[0].(string)
			return s, c.Sid, ok
		}
	}
	return "", "", false
}

// logoutCSRF binds the confirmation form to the session it ends.
func (m *Manager) logoutCSRF(sessionID string) string {
	h := hmac.New(sha256.New, m.cfg.SidKey)
	h.Write([]byte("logout\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}
