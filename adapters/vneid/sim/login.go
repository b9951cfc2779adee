package sim

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// Errors from Login.
var (
	// ErrBadCredentials: the sim refused the ID number or password.
	ErrBadCredentials = errors.New("sim: wrong ID number or password")
	// ErrUnexpectedPage: the sim answered with a page Login does not know (an error page,
	// an expired login); the message carries the stage and HTTP status, never the page.
	ErrUnexpectedPage = errors.New("sim: unexpected page")
)

var (
	reHidden = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
	reStage  = regexp.MustCompile(`<main data-stage="([a-z]+)">`)
	reOTP    = regexp.MustCompile(`<strong id="dev-otp">([0-9]+)</strong>`)
)

// Login completes a login at the sim the way a browser does, for load drivers and tests.
// It returns the final redirect to the client's redirect URI without following it: the
// URL carries code, state and iss, or error=access_denied when the citizen's account level
// is too low (Login then presses "Return to the service", as a citizen would).
//
// The steps, which any HTTP client with a cookie jar can repeat:
//
//  1. GET authorizeURL. With a live sim session the sim redirects straight to the client
//     (step 5). Otherwise it sets the sim_csrf cookie and redirects to /login?id=...
//  2. The page is <main data-stage="password"> with a form posting to .../login and the
//     hidden fields id, csrf and lang, each written <input type="hidden" name="N" value="V">.
//     POST them with action=login, cccd=<12 digits>, password=<password>
//     (application/x-www-form-urlencoded, with the cookie).
//  3. The sim answers 303 to /login?id=...; that page is data-stage="otp" and shows the
//     one-time code in <strong id="dev-otp">123456</strong> (development only), or
//     data-stage="insufficient" when the account level is below acr_values (post
//     action=cancel to get error=access_denied), or data-stage="password" again with an
//     error when the credentials are wrong.
//  4. POST the hidden fields with action=otp and otp=<the code>.
//  5. The sim answers 303 to the client's redirect_uri?code=...&state=...&iss=... and sets
//     the sim_session cookie (single sign-on for later logins).
//
// client must have a cookie jar for single sign-on across calls; when client.Jar is nil
// Login uses a fresh jar for this call only. client's CheckRedirect is not used.
func Login(ctx context.Context, client *http.Client, authorizeURL, cccdNumber, password string) (*url.URL, error) {
	start, err := url.Parse(authorizeURL)
	if err != nil {
		return nil, fmt.Errorf("sim: login: authorize URL: %w", err)
	}
	// The sim's base: everything up to the last path segment ("/authorize").
	w := &walker{ctx: ctx, base: *start, c: *client}
	w.base.RawQuery, w.base.Fragment = "", ""
	w.base.Path = w.base.Path[:strings.LastIndex(w.base.Path, "/")+1]
	if w.c.Jar == nil {
		w.c.Jar, _ = cookiejar.New(nil)
	}
	w.c.CheckRedirect = w.checkRedirect

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorizeURL, nil)
	if err != nil {
		return nil, fmt.Errorf("sim: login: %w", err)
	}
	stage, page, err := w.do(req)
	for step := 0; err == nil && step < 6; step++ {
		switch stage {
		case "done":
			return w.final, nil
		case "password":
			if step > 0 {
				return nil, ErrBadCredentials
			}
			req, err = w.post(page, "login", url.Values{"cccd": {cccdNumber}, "password": {password}})
		case "otp":
			m := reOTP.FindSubmatch(page)
			if m == nil {
				return nil, fmt.Errorf("%w: no one-time code on the page", ErrUnexpectedPage)
			}
			req, err = w.post(page, "otp", url.Values{"otp": {string(m[1])}})
		case "insufficient":
			req, err = w.post(page, "cancel", nil)
		case "consent": // Config.AskConsent: the citizen agrees
			req, err = w.post(page, "consent", url.Values{"answer": {"allow"}})
		default:
			return nil, fmt.Errorf("%w: stage %s", ErrUnexpectedPage, stage)
		}
		if err == nil {
			stage, page, err = w.do(req)
		}
	}
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: login did not finish", ErrUnexpectedPage)
}

// walker walks the sim's login pages for Login.
type walker struct {
	ctx   context.Context
	c     http.Client
	base  url.URL
	final *url.URL // where the sim sent the browser out of itself: the client's redirect URI
}

func (w *walker) inSim(u *url.URL) bool {
	return u.Scheme == w.base.Scheme && u.Host == w.base.Host && strings.HasPrefix(u.Path, w.base.Path)
}

// checkRedirect follows redirects inside the sim and stops at the first one out of it.
func (w *walker) checkRedirect(req *http.Request, via []*http.Request) error {
	if !w.inSim(req.URL) {
		w.final = req.URL
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errors.New("sim: login: too many redirects")
	}
	return nil
}

// do sends req and returns the stage of the page it lands on ("done" once out of the sim).
func (w *walker) do(req *http.Request) (stage string, page []byte, err error) {
	resp, err := w.c.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("sim: login: %w", err)
	}
	defer resp.Body.Close()
	if w.final != nil {
		return "done", nil, nil
	}
	page, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", nil, fmt.Errorf("sim: login: read page: %w", err)
	}
	m := reStage.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		st := "none"
		if m != nil {
			st = string(m[1])
		}
		return "", nil, fmt.Errorf("%w: HTTP %d, stage %s", ErrUnexpectedPage, resp.StatusCode, st)
	}
	return string(m[1]), page, nil
}

// post builds the form post of action with page's hidden fields and extra.
func (w *walker) post(page []byte, action string, extra url.Values) (*http.Request, error) {
	form := url.Values{"action": {action}}
	for _, m := range reHidden.FindAllSubmatch(page, -1) {
		form.Set(string(m[1]), html.UnescapeString(string(m[2])))
	}
	for k, v := range extra {
		form[k] = v
	}
	u := w.base
	u.Path += "login"
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}
