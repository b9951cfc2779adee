package idp

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
	"strconv"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/eid"
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

// handleLogout ends the browser's session. A valid id_token_hint lets a relying party log
// the citizen out at once; without one the citizen confirms on a page, so a third-party
// site cannot log people out. post_logout_redirect_uri must match one registered for the
// client exactly.
func (p *Provider) handleLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxParamBytes)
	if err := r.ParseForm(); err != nil {
		p.renderError(w, r, &pageError{http.StatusBadRequest, "bad_request", "unparsable request"})
		return
	}
	f := r.Form
	lang := pickLocale(strings.Fields(f.Get("ui_locales")), f.Get("lang"))
	clientID := f.Get("client_id")
	hinted, hintSID := false, ""
	if hint := f.Get("id_token_hint"); hint != "" {
		aud, sid, ok := p.checkIDTokenHint(r, hint)
		if !ok || (clientID != "" && clientID != aud) {
			p.renderError(w, r, &pageError{http.StatusBadRequest, "bad_request", "id_token_hint is not an ID token this provider issued to this client"})
			return
		}
		clientID, hinted, hintSID = aud, true, sid
	}
	ret := logoutReturn{State: f.Get("state"), Upstream: rand.Text(), Lang: lang}
	if u := f.Get("post_logout_redirect_uri"); u != "" {
		c, ok := p.client(r.Context(), clientID)
		if clientID == "" || !ok || !slices.Contains(c.PostLogoutRedirectURIs, u) {
			p.renderError(w, r, &pageError{http.StatusBadRequest, "bad_redirect", "post_logout_redirect_uri is not registered for this client"})
			return
		}
		ret.RedirectURI = u
	}
	sess, hasSession := p.currentSession(r)
	// A hint vouches for its own session only: an ID token of another one (an attacker's
	// own, say) does not end this browser's session without the citizen's confirmation.
	if hinted && hasSession && subtle.ConstantTimeCompare([]byte(hintSID), []byte(p.sid(sess.ID))) != 1 {
		hinted = false
	}
	confirmed := r.Method == http.MethodPost && hasSession &&
		subtle.ConstantTimeCompare([]byte(f.Get("csrf")), []byte(p.logoutCSRF(sess.ID))) == 1
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
		p.renderPage(w, r, http.StatusOK, "logout", lang, map[string]any{
			"Action": p.base + PathLogout, "Fields": q, "CSRF": p.logoutCSRF(sess.ID),
		})
		return
	}
	upstream := ""
	if hasSession {
		if err := p.store.DeleteSession(r.Context(), sess.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			p.log.ErrorContext(r.Context(), "logout: delete session", "err", err)
			p.renderError(w, r, &pageError{http.StatusServiceUnavailable, "unavailable", ""})
			return
		}
		p.cfg.Audit.Log(r.Context(), audit.Event{Kind: audit.KindLogout, Actor: audit.Citizen(sess.CitizenID), Details: map[string]any{"client": clientID}})
		upstream = p.upstreamLogoutURL(sess, ret.Upstream)
		// Online refresh tokens of the session die with it: the token and introspection
		// endpoints check the session. The clients hear of it through the back channel.
		p.backchannelLogout(r.Context(), sess)
	}
	http.SetCookie(w, p.cookie(sessionCookie, "", -1, cookiePath(p.base)))
	if upstream != "" {
		sealed, err := p.sealJSON(ret, logoutCookie)
		if err == nil {
			http.SetCookie(w, p.cookie(logoutCookie, sealed, 600, p.base+PathLogoutDone))
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, upstream, http.StatusFound)
			return
		}
	}
	p.finishLogout(w, r, ret)
}

// upstreamLogoutURL is the eID's end-session URL for this session, or "".
func (p *Provider) upstreamLogoutURL(s store.Session, state string) string {
	lo, ok := p.cfg.EID.(eid.Logouter)
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
	q.Set("post_logout_redirect_uri", p.URL(PathLogoutDone))
	q.Set("state", state)
	u.RawQuery = q.Encode()
	return u.String()
}

// handleLogoutDone receives the browser back from the eID's logout.
func (p *Provider) handleLogoutDone(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(logoutCookie)
	var ret logoutReturn
	if err != nil || p.openJSON(c.Value, logoutCookie, &ret) != nil ||
		subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("state")), []byte(ret.Upstream)) != 1 {
		// Nothing to continue: the sessions are ended anyway; say so.
		p.renderPage(w, r, http.StatusOK, "loggedout", pickLocale(nil, r.URL.Query().Get("lang")), map[string]any{})
		return
	}
	http.SetCookie(w, p.cookie(logoutCookie, "", -1, p.base+PathLogoutDone))
	p.finishLogout(w, r, ret)
}

func (p *Provider) finishLogout(w http.ResponseWriter, r *http.Request, ret logoutReturn) {
	if ret.RedirectURI == "" {
		p.renderPage(w, r, http.StatusOK, "loggedout", ret.Lang, map[string]any{})
		return
	}
	q := url.Values{}
	if ret.State != "" {
		q.Set("state", ret.State)
	}
	p.redirect(w, r, ret.RedirectURI, q)
}

// checkIDTokenHint accepts an ID token this provider issued, expired or not (the spec
// expects expired hints), and returns its audience and sid.
func (p *Provider) checkIDTokenHint(r *http.Request, hint string) (aud, sid string, ok bool) {
	payload, hdr, err := p.cfg.Keys.Verify(r.Context(), hint)
	if err != nil || strings.EqualFold(hdr.Type, "at+jwt") {
		return "", "", false
	}
	var c struct {
		Iss string `json:"iss"`
		Aud any    `json:"aud"`
		Sid string `json:"sid"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Iss != p.cfg.Issuer {
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
func (p *Provider) logoutCSRF(sessionID string) string {
	m := hmac.New(sha256.New, p.sidKey)
	m.Write([]byte("logout\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sealJSON and openJSON keep small state in a cookie, encrypted and bound to its name.
func (p *Provider) sealJSON(v any, name string) (string, error) {
	return p.sealJSONUntil(v, name, p.now().Add(10*time.Minute))
}

// sealJSONUntil seals v for the cookie name until exp.
func (p *Provider) sealJSONUntil(v any, name string, exp time.Time) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	gcm, err := p.gcm()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	aad := []byte(name + "\x00" + strconv.FormatInt(exp.Unix(), 10))
	return strconv.FormatInt(exp.Unix(), 10) + "." + base64.RawURLEncoding.EncodeToString(gcm.Seal(nonce, nonce, b, aad)), nil
}

func (p *Provider) openJSON(s, name string, v any) error {
	expS, body, ok := strings.Cut(s, ".")
	if !ok {
		return errors.New("malformed")
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return err
	}
	gcm, err := p.gcm()
	if err != nil {
		return err
	}
	if len(raw) < gcm.NonceSize() {
		return errors.New("short")
	}
	pt, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], []byte(name+"\x00"+expS))
	if err != nil {
		return err
	}
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil || !p.now().Before(time.Unix(exp, 0)) { // sealed in whole seconds, rounded down
		return errors.New("expired")
	}
	return json.Unmarshal(pt, v)
}
