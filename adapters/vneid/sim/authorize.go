package sim

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

func (p *Provider) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: p.base + "/", MaxAge: maxAge,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode,
	})
}

// browserID returns the browser's CSRF cookie, setting a fresh one when absent.
func (p *Provider) browserID(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(browserCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	v := randomToken(32)
	p.setCookie(w, browserCookie, v, 0)
	return v
}

// redirectResult sends the browser back to the client with the given parameters, adding
// state and iss (RFC 9207).
func (p *Provider) redirectResult(w http.ResponseWriter, r *http.Request, redirectURI, state string, params url.Values) {
	u, err := url.Parse(redirectURI)
	if err != nil { // registered URIs were validated at start
		http.Error(w, "bad redirect URI", http.StatusInternalServerError)
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if state != "" {
		q.Set("state", state)
	}
	q.Set("iss", p.issuer)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state, code, desc string) {
	v := url.Values{"error": {code}}
	if desc != "" {
		v.Set("error_description", desc)
	}
	p.redirectResult(w, r, redirectURI, state, v)
}

func hasWord(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if w == word {
			return true
		}
	}
	return false
}

// requestedLevel reads acr_values: the first value the sim knows (Config.ACRValues, or
// "1" and "2") wins; none: 1.
func (p *Provider) requestedLevel(acrValues string) int {
	for _, v := range strings.Fields(acrValues) {
		switch v {
		case "1", p.acrValues[0]:
			return 1
		case "2", p.acrValues[1]:
			return 2
		}
	}
	return 1
}

// pickLang chooses "vi" or "en" from ui_locales (space-separated BCP 47 tags); default vi.
func pickLang(uiLocales string) string {
	for _, tag := range strings.Fields(uiLocales) {
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if primary == "vi" || primary == "en" {
			return primary
		}
	}
	return "vi"
}

func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lang := pickLang(q.Get("ui_locales"))
	if l := q.Get("lang"); l == "en" || l == "vi" {
		lang = l
	}
	client, ok := p.clients[q.Get("client_id")]
	if !ok {
		p.renderError(w, http.StatusBadRequest, lang, "unknown_client")
		return
	}
	redirectURI := q.Get("redirect_uri")
	if !contains(client.RedirectURIs, redirectURI) {
		p.renderError(w, http.StatusBadRequest, lang, "bad_redirect")
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) { p.redirectError(w, r, redirectURI, state, code, desc) }
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "only response_type=code is supported")
		return
	case !hasWord(q.Get("scope"), "openid"):
		fail("invalid_scope", "scope must include openid")
		return
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		fail("invalid_request", "PKCE with code_challenge_method=S256 is required")
		return
	case q.Has("request") || q.Has("request_uri"):
		fail("request_not_supported", "request objects are not supported")
		return
	}
	prompt := q.Get("prompt")
	if hasWord(prompt, "none") && len(strings.Fields(prompt)) > 1 {
		fail("invalid_request", "prompt=none cannot be combined")
		return
	}
	maxAge := -1
	if s := q.Get("max_age"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			fail("invalid_request", "max_age must be a non-negative integer")
			return
		}
		maxAge = n
	}
	level := p.requestedLevel(q.Get("acr_values"))
	now := p.now()

	// Single sign-on: a live session that is fresh enough and high enough skips the form.
	if !hasWord(prompt, "login") && maxAge != 0 {
		if c, err := r.Cookie(sessionCookie); err == nil {
			if ss, ok := p.st.session(sidOf(c.Value), now); ok &&
				(maxAge < 0 || now.Sub(ss.authTime) <= time.Duration(maxAge)*time.Second) {
				if p.citizens[ss.citizen].Level < level {
					if hasWord(prompt, "none") {
						fail("access_denied", "account level too low")
						return
					}
				} else {
					p.issueCode(w, r, &authCode{
						clientID: client.ID, redirectURI: redirectURI,
						challenge: q.Get("code_challenge"), nonce: q.Get("nonce"),
						scope: q.Get("scope"), citizen: ss.citizen, authTime: ss.authTime,
						sid: sidOf(c.Value),
					}, state)
					return
				}
			}
		}
	}
	if hasWord(prompt, "none") {
		fail("login_required", "")
		return
	}
	pl := &pendingLogin{
		id:          randomToken(18),
		browser:     p.browserID(w, r),
		clientID:    client.ID,
		redirectURI: redirectURI,
		state:       state,
		nonce:       q.Get("nonce"),
		challenge:   q.Get("code_challenge"),
		scope:       q.Get("scope"),
		level:       level,
		lang:        lang,
		expires:     now.Add(pendingTTL),
	}
	pl.binding = bindingMessage(q.Get("binding_message"))
	if h := q.Get("login_hint"); len(h) == 12 && strings.Trim(h, "0123456789") == "" {
		pl.loginHint = h
	}
	p.st.putPending(pl, now)
	http.Redirect(w, r, p.base+"/login?id="+pl.id, http.StatusFound)
}

// issueCode stores a fresh code and sends the browser back to the client with it.
func (p *Provider) issueCode(w http.ResponseWriter, r *http.Request, c *authCode, state string) {
	now := p.now()
	c.expires = now.Add(codeTTL)
	code := randomToken(32)
	p.st.putCode(code, c, now)
	p.redirectResult(w, r, c.redirectURI, state, url.Values{"code": {code}})
}

// sidOf derives the session's public id (the ID token's "sid") from the cookie's secret,
// so that an ID token never carries what the cookie holds.
func sidOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func equalConst(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// loginView is what the login pages render.
type loginView struct {
	ID, CSRF, Lang, Client, LoginHint, OTP, Error string
	Binding                                       string // why the client asks (binding_message)
	Level                                         int
	Citizens                                      []citizenRow
}

type citizenRow struct {
	CCCD, Name, Password string
	Level                int
	Child                bool // under 14 today
}

// childAge: citizens younger than this are marked as children on the login page.
const childAge = 14

// vietnam is the time zone the sim counts birthdays in (UTC+7, no daylight saving).
var vietnam = time.FixedZone("ICT", 7*3600)

// ageOn returns the age in whole years on now's date in Vietnam of someone born on
// birthdate (YYYY-MM-DD); -1 when the date does not parse.
func ageOn(birthdate string, now time.Time) int {
	b, err := time.Parse(time.DateOnly, birthdate)
	if err != nil {
		return -1
	}
	y, m, d := now.In(vietnam).Date()
	age := y - b.Year()
	if m < b.Month() || m == b.Month() && d < b.Day() {
		age--
	}
	return age
}

func (p *Provider) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	lang := r.URL.Query().Get("lang")
	var v loginView
	var st stage
	found := p.st.withPending(id, p.now(), func(pl *pendingLogin) bool {
		if lang == "vi" || lang == "en" {
			pl.lang = lang
		}
		v, st = p.viewOf(pl), pl.stage
		return false
	})
	if !found {
		p.renderExpired(w, pickLang(lang), id)
		return
	}
	p.renderLogin(w, http.StatusOK, st, v)
}

func (p *Provider) viewOf(pl *pendingLogin) loginView {
	v := loginView{ID: pl.id, CSRF: pl.browser, Lang: pl.lang, Client: pl.clientID,
		LoginHint: pl.loginHint, Level: pl.level, Binding: pl.binding}
	if c, ok := p.clients[pl.clientID]; ok {
		v.Client = c.Name
	}
	if pl.errKey != "" {
		v.Error = msg(pl.lang, pl.errKey)
	}
	switch pl.stage {
	case stagePassword:
		if pl.typedCCCD != "" {
			v.LoginHint = pl.typedCCCD
		}
		now := p.now()
		v.Citizens = make([]citizenRow, len(p.citizens))
		for i := range p.citizens {
			c := &p.citizens[i]
			age := ageOn(c.Birthdate, now)
			v.Citizens[i] = citizenRow{CCCD: c.CCCD, Name: c.FullName(), Password: c.password(), Level: c.Level,
				Child: age >= 0 && age < childAge}
		}
	case stageOTP:
		v.OTP = pl.otp
	}
	return v
}

// typedNumber is what the citizen typed as the ID number, kept to re-show it after a
// wrong password: digits only, at most 12 (the field's own limits), else nothing.
func typedNumber(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 12 || strings.Trim(s, "0123456789") != "" {
		return ""
	}
	return s
}

// loginOutcome is what one post of the login form leads to.
type loginOutcome int

const (
	loginShow    loginOutcome = iota // the form again, with a message
	loginReload                      // POST-redirect-GET to the form
	loginDenied                      // access_denied to the client
	loginSuccess                     // a code to the client
	loginCSRF                        // the post failed the CSRF check
)

// handleLoginPost handles every login form: action=login (ID number and password),
// action=otp (the one-time code), action=cancel.
func (p *Provider) handleLoginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.renderError(w, http.StatusBadRequest, "vi", "bad_request")
		return
	}
	f := r.PostForm
	lang := f.Get("lang")
	if lang != "en" {
		lang = "vi"
	}
	cookie, _ := r.Cookie(browserCookie)
	now := p.now()
	var (
		out    loginOutcome
		st     stage
		v      loginView
		pl     pendingLogin
		errKey string
	)
	found := p.st.withPending(f.Get("id"), now, func(cur *pendingLogin) bool {
		if cookie == nil || !equalConst(f.Get("csrf"), cookie.Value) || !equalConst(cookie.Value, cur.browser) {
			out = loginCSRF
			return false
		}
		cur.lang = lang
		cur.errKey = "" // a message belongs to the attempt that caused it
		var done bool
		out, errKey, done = p.loginStep(cur, f)
		pl = *cur
		if !done {
			st, v = cur.stage, p.viewOf(cur)
		}
		return done
	})
	switch {
	case !found:
		p.renderExpired(w, lang, f.Get("id"))
	case out == loginCSRF:
		p.log.WarnContext(r.Context(), "sim: login form failed the CSRF check")
		p.renderError(w, http.StatusForbidden, lang, "csrf")
	case out == loginDenied:
		p.redirectError(w, r, pl.redirectURI, pl.state, "access_denied", pl.denyWhy)
	case out == loginReload:
		http.Redirect(w, r, p.base+"/login?id="+url.QueryEscape(pl.id), http.StatusSeeOther)
	case out == loginShow:
		v.Error = msg(lang, errKey)
		p.renderLogin(w, http.StatusOK, st, v)
	case out == loginSuccess:
		p.loginSucceeded(w, r, pl, now)
	}
}

// loginStep applies one posted form to the pending login cur; done ends the pending
// login (denied or succeeded).
func (p *Provider) loginStep(cur *pendingLogin, f url.Values) (out loginOutcome, errKey string, done bool) {
	action := f.Get("action")
	// Each way a login ends without a code says why in error_description, as an eID's
	// would, so the broker can tell the citizen in its own sentence.
	switch {
	case action == "cancel" && cur.stage == stageInsufficient:
		cur.denyWhy = "account level too low"
		return loginDenied, "", true
	case action == "cancel":
		cur.denyWhy = "the citizen cancelled the login"
		return loginDenied, "", true
	case action == "consent" && cur.stage == stageConsent:
		if f.Get("answer") != "allow" {
			cur.denyWhy = "the citizen refused consent"
			return loginDenied, "", true
		}
		return loginSuccess, "", true
	case action == "login" && cur.stage == stagePassword:
		cur.typedCCCD = typedNumber(f.Get("cccd"))
		i, ok := p.byCCCD[strings.TrimSpace(f.Get("cccd"))]
		if !ok || !equalConst(f.Get("password"), p.citizens[i].password()) {
			cur.failures++
			if cur.failures >= maxFailures {
				cur.denyWhy = "too many wrong passwords"
				return loginDenied, "", true
			}
			// POST-redirect-GET: the re-shown form (with the number kept and the
			// message) is a plain GET, so reloading it never resends the password.
			cur.errKey = "bad_credentials"
			return loginReload, "", false
		}
		cur.citizen, cur.failures, cur.typedCCCD = i, 0, ""
		if p.citizens[i].Level < cur.level {
			cur.stage = stageInsufficient
		} else {
			cur.stage, cur.otp = stageOTP, randomDigits(6)
		}
		return loginReload, "", false
	case action == "otp" && cur.stage == stageOTP:
		if !equalConst(strings.TrimSpace(f.Get("otp")), cur.otp) {
			cur.failures++
			if cur.failures >= maxFailures {
				cur.denyWhy = "too many wrong one-time codes"
				return loginDenied, "", true
			}
			return loginShow, "bad_otp", false
		}
		if p.consent {
			cur.stage = stageConsent
			return loginReload, "", false
		}
		return loginSuccess, "", true
	}
	return loginReload, "", false
}

// loginSucceeded opens the citizen's eID session and sends the code to the client.
func (p *Provider) loginSucceeded(w http.ResponseWriter, r *http.Request, pl pendingLogin, now time.Time) {
	secret := randomToken(32)
	sid := sidOf(secret)
	p.st.putSession(sid, &session{citizen: pl.citizen, authTime: now, expires: now.Add(sessionTTL)}, now)
	p.setCookie(w, sessionCookie, secret, 0)
	p.log.InfoContext(r.Context(), "sim: citizen logged in", "client", pl.clientID)
	p.issueCode(w, r, &authCode{
		clientID: pl.clientID, redirectURI: pl.redirectURI, challenge: pl.challenge,
		nonce: pl.nonce, scope: pl.scope, citizen: pl.citizen, authTime: now, sid: sid,
	}, pl.state)
}

// bindingMessage keeps a client's binding_message to show: printable text of at most 200
// characters, else nothing.
func bindingMessage(s string) string {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > 200 {
		return ""
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return ""
		}
	}
	return s
}
