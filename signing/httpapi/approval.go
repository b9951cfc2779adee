package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/signing"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"inc": func(i int) int { return i + 1 },
}).ParseFS(templateFS, "templates/*.html"))

// vnTime is Vietnam's time zone (UTC+7, no daylight saving), without needing tzdata.
var vnTime = time.FixedZone("ICT", 7*3600)

// pickLang is the page language: an explicit switch (form field or ?lang=), else
// Vietnamese, whatever the browser prefers.
func pickLang(r *http.Request, form string) string {
	for _, l := range []string{form, r.URL.Query().Get("lang")} {
		if l == "vi" || l == "en" {
			return l
		}
	}
	return "vi"
}

func otherLang(lang string) string {
	if lang == "en" {
		return "vi"
	}
	return "en"
}

// signPath is the approval page's path as served (BaseURL's path included).
func (a *API) signPath(id string) string {
	u, _ := url.Parse(a.base)
	return strings.TrimRight(u.Path, "/") + "/sign/" + id
}

// citizen is the browser's citizen if they logged in at level 2 within maxAge.
func (a *API) citizen(r *http.Request, maxAge time.Duration) (string, bool) {
	id, acr, at, ok := a.auth.BrowserCitizen(r)
	if !ok || id == "" || acr < "2" || at.IsZero() {
		return "", false
	}
	age := a.now().Sub(at)
	return id, age <= maxAge && age > -time.Minute
}

func (a *API) subjectFor(citizenID string) func(string) string {
	return func(clientID string) string { return a.auth.SubjectFor(clientID, citizenID) }
}

// ---- pages ----

type docView struct {
	Index       int
	Title       string
	Pages       string
	Size        string
	SHA256      string
	Fingerprint string
	ViewURL     string
	SignedAt    string
	Images      []string // page images (images.go); none: a sentence and the PDF link
}

type pageView struct {
	ID, Action, Client, Reason, Location, Expires string
	Asks, Approve                                 string
	CSRF                                          string
	Activation                                    string // "", "PIN" or "OTP": what the provider asks for
	Error                                         string // why the last try was refused (a wrong code)
	Docs                                          []docView
	// result and message pages
	Heading, Note, Status string
	LinkURL, LinkText     string
	ReturnURL             string // the portal's return_url: the button back after answering
}

// fingerprint shows the first and last 4 bytes of a SHA-256 in hex groups: "3f2a 91c0 … 7be1 0042".
func fingerprint(hexSum string) string {
	if len(hexSum) != 64 {
		return hexSum
	}
	return hexSum[0:4] + " " + hexSum[4:8] + " … " + hexSum[56:60] + " " + hexSum[60:64]
}

func humanSize(n int64, lang string) string {
	if n <= 0 {
		return ""
	}
	var s string
	switch {
	case n < 1000:
		s = fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		s = fmt.Sprintf("%.0f KB", float64(n)/1000)
	default:
		s = fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	if lang == "vi" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

func formatTime(t time.Time, lang string) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(vnTime)
	if lang == "en" {
		return t.Format("15:04, 2 Jan 2006") + " (UTC+7)"
	}
	return t.Format("15:04, 02/01/2006")
}

func (a *API) view(req signing.Request, lang string) pageView {
	t := messages[lang]
	v := pageView{
		ID: req.ID, Action: a.signPath(req.ID), Client: a.clientName(req.ClientID),
		Reason: req.Reason, Location: req.Location, Expires: formatTime(req.ExpiresAt, lang),
		Asks:    plural(t, "asks", len(req.Documents)),
		Approve: plural(t, "approve", len(req.Documents)),
		Status:  string(req.Status),
	}
	for i, d := range req.Documents {
		v.Docs = append(v.Docs, docView{
			Index: i, Title: d.Title, Pages: plural(t, "pages", d.Pages), Size: humanSize(d.Size, lang),
			SHA256: d.SHA256, Fingerprint: fingerprint(d.SHA256),
			ViewURL:  a.signPath(req.ID) + "/documents/" + strconv.Itoa(i) + "?lang=" + lang,
			SignedAt: formatTime(d.SignedAt, lang),
			Images:   a.imageURLs(req.ID, i, d.Pages, lang),
		})
	}
	return v
}

// plural formats the message key with n, using key_1 for one where the language has it
// (English; Vietnamese nouns do not inflect).
func plural(t map[string]string, key string, n int) string {
	if one, ok := t[key+"_1"]; ok && n == 1 {
		return fmt.Sprintf(one, n)
	}
	return fmt.Sprintf(t[key], n)
}

func (a *API) clientName(clientID string) string {
	if n := a.names[clientID]; n != "" {
		return n
	}
	return clientID
}

// renderPage writes a page with a per-response CSP nonce for its stylesheet.
func (a *API) renderPage(w http.ResponseWriter, r *http.Request, status int, name, lang, switchURL string, v pageView) {
	nonce := rand.Text()
	var buf bytes.Buffer
	err := pages.ExecuteTemplate(&buf, name, map[string]any{
		"Lang": lang, "T": messages[lang], "Nonce": nonce, "D": v, "Switch": switchURL,
		"ShowView": name == "approve", "Brand": a.brand.name(lang), "Logo": a.brand.Logo,
		"Primary": template.CSS(a.brand.Primary), "OnPrimary": template.CSS(a.brand.OnPrimary),
	})
	if err != nil {
		a.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w.Header(), "default-src 'none'; style-src 'nonce-"+nonce+"'; img-src 'self' data:"+a.logoSource()+"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func setPageHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// message renders a short page with a heading, a text and maybe one button link.
func (a *API) message(w http.ResponseWriter, r *http.Request, status int, lang, key, linkURL, linkKey string) {
	t := messages[lang]
	v := pageView{Heading: t["err.title"], Note: t["err."+key], LinkURL: linkURL}
	if linkKey != "" {
		v.LinkText = t[linkKey]
	}
	sw := ""
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		q.Set("lang", otherLang(lang))
		sw = r.URL.Path + "?" + q.Encode()
	}
	a.renderPage(w, r, status, "message", lang, sw, v)
}

// pageError renders the page for a service error on the approval side.
func (a *API) pageError(w http.ResponseWriter, r *http.Request, lang, id string, err error) {
	reopen := a.signPath(id) + "?lang=" + lang
	var be *signing.BackendError
	switch {
	case errors.Is(err, signing.ErrNotFound), errors.Is(err, signing.ErrForbidden):
		a.message(w, r, http.StatusNotFound, lang, "not_found", "", "")
	case errors.Is(err, signing.ErrExpired):
		t := messages[lang]
		a.renderPage(w, r, http.StatusGone, "message", lang, "", pageView{Heading: t["expired"], Note: t["expired_note"]})
	case errors.Is(err, signing.ErrPurged):
		a.message(w, r, http.StatusGone, lang, "deleted", "", "")
	case errors.Is(err, signing.ErrMismatch):
		a.message(w, r, http.StatusConflict, lang, "changed", reopen, "reopen")
	case errors.Is(err, signing.ErrCertificateRevoked):
		a.message(w, r, http.StatusConflict, lang, "revoked", "", "")
	case errors.As(err, &be):
		a.backendFailure(w, r, lang, be)
	case errors.Is(err, errBadActivation):
		a.message(w, r, http.StatusBadRequest, lang, "bad_request", reopen, "reopen")
	case errors.Is(err, signing.ErrFinal), errors.Is(err, signing.ErrNotPending), errors.Is(err, signing.ErrConflict):
		a.message(w, r, http.StatusConflict, lang, "ended", reopen, "reopen")
	case errors.Is(err, store.ErrUnavailable):
		w.Header().Set("Retry-After", strconv.Itoa(oautherr.StoreRetryAfter))
		a.message(w, r, http.StatusServiceUnavailable, lang, "busy", reopen, "reopen")
	default:
		a.log.ErrorContext(r.Context(), "approval page", "method", r.Method, "err", err)
		a.message(w, r, http.StatusInternalServerError, lang, "server", "", "")
	}
}

// result shows a request that no longer waits: signed, signing, rejected, and so on.
func (a *API) result(w http.ResponseWriter, r *http.Request, lang string, req signing.Request) {
	t := messages[lang]
	v := a.view(req, lang)
	v.Heading, v.Note = t[string(req.Status)], t[string(req.Status)+"_note"]
	if v.Heading == "" {
		v.Heading, v.Note = t["err.title"], t["err.ended"]
	}
	if n := failureNote(lang, req); n != "" {
		v.Note = n
	}
	if req.Status == signing.StatusSigning {
		v.LinkURL, v.LinkText = a.signPath(req.ID)+"?lang="+lang, t["refresh"]
	}
	if req.ReturnURL != "" {
		v.ReturnURL = req.ReturnURL
	}
	sw := a.signPath(req.ID) + "?lang=" + otherLang(lang)
	a.renderPage(w, r, http.StatusOK, "result", lang, sw, v)
}

// GET /sign/{id}: the approval page, after an eID login made for this link (gate.go).
// A link that no longer waits says so before any login.
func (a *API) handleApprovalPage(w http.ResponseWriter, r *http.Request) {
	lang := pickLang(r, "")
	id := pathID(r)
	if id == "" {
		a.message(w, r, http.StatusNotFound, lang, "not_found", "", "")
		return
	}
	tk := r.URL.Query().Get("t")
	cid, opened, ok := a.boundCitizen(r, id, tk, 0)
	if !ok {
		if !a.endedBeforeLogin(w, r, lang, id) && a.approvalOpenAllowed(w, r, lang, id) {
			a.stepUpBound(w, r, id, lang)
		}
		return
	}
	req, err := a.svc.ForApproval(r.Context(), id, cid, a.subjectFor(cid))
	if errors.Is(err, signing.ErrForbidden) {
		a.wrongAccount(w, r, lang, id)
		return
	}
	if err != nil {
		a.pageError(w, r, lang, id, err)
		return
	}
	if req.Status != signing.StatusPending {
		a.result(w, r, lang, req)
		return
	}
	v := a.view(req, lang)
	a.bindView(&v, id, tk)
	if !a.activation(w, r, lang, id, cid, &v) {
		return
	}
	v.CSRF = a.csrfToken(id, cid, a.now(), opened)
	a.renderPage(w, r, http.StatusOK, "approve", lang, a.pageURL(id, tk, otherLang(lang)), v)
}

// POST /sign/{id}: approve (with the hashes the page showed) or reject.
func (a *API) handleApprovalPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	perr := r.ParseForm()
	lang := pickLang(r, r.PostForm.Get("lang"))
	id := pathID(r)
	if id == "" {
		a.message(w, r, http.StatusNotFound, lang, "not_found", "", "")
		return
	}
	if perr != nil {
		a.message(w, r, http.StatusBadRequest, lang, "bad_request", "", "")
		return
	}
	// The page was shown at most FreshLogin after the login; the form lives FormTTL more.
	cid, ok := a.citizen(r, a.fresh+a.formTTL)
	if !ok {
		// A page with a link rather than a redirect: form-action 'self' would block the
		// redirect chain to the eID.
		a.message(w, r, http.StatusForbidden, lang, "stepup", a.stepUpURLFor(id, lang), "login_again")
		return
	}
	if !a.approvalAllowed(w, r, lang, id, cid) {
		return
	}
	// The token carries the time the link was opened: the login must not be older.
	if !a.checkCSRF(r, r.PostForm.Get("csrf"), id, cid) {
		a.message(w, r, http.StatusForbidden, lang, "csrf", a.signPath(id)+"?lang="+lang, "reopen")
		return
	}
	var (
		req signing.Request
		err error
	)
	switch r.PostForm.Get("action") {
	case "approve":
		hashes := r.PostForm["hash"]
		if len(hashes) == 0 || len(hashes) > a.maxDocs || !allHex64(hashes) {
			a.message(w, r, http.StatusBadRequest, lang, "bad_request", "", "")
			return
		}
		req, err = a.approve(r, id, cid, hashes)
	case "reject":
		req, err = a.svc.Reject(r.Context(), id, cid, a.subjectFor(cid))
	default:
		a.message(w, r, http.StatusBadRequest, lang, "bad_request", "", "")
		return
	}
	if err != nil {
		if a.askAgain(w, r, lang, cid, req, err) || a.alreadyApproved(w, r, lang, id, cid, err) {
			return
		}
		a.pageError(w, r, lang, id, err)
		return
	}
	a.result(w, r, lang, req)
}

// alreadyApproved answers an approval that finds the request being signed (the citizen's
// approval already went through: a second press, a resend after a lost answer, the
// replica that signed having died and Resume signing now) with the "đang ký" page rather
// than an error. A request that has ended keeps the "no longer waits" answer.
func (a *API) alreadyApproved(w http.ResponseWriter, r *http.Request, lang, id, cid string, err error) bool {
	if r.PostForm.Get("action") != "approve" || !errors.Is(err, signing.ErrNotPending) && !errors.Is(err, signing.ErrFinal) {
		return false
	}
	req, gerr := a.svc.ForApproval(r.Context(), id, cid, a.subjectFor(cid))
	if gerr != nil || req.Status != signing.StatusSigning {
		return false
	}
	a.result(w, r, lang, req)
	return true
}

func allHex64(hs []string) bool {
	for _, h := range hs {
		if len(h) != 64 {
			return false
		}
		for i := 0; i < len(h); i++ {
			if !(h[i] >= '0' && h[i] <= '9' || h[i] >= 'a' && h[i] <= 'f') {
				return false
			}
		}
	}
	return true
}

// GET /sign/{id}/documents/{index}: the original PDF, for the citizen to read before signing.
func (a *API) handleOriginalPDF(w http.ResponseWriter, r *http.Request) {
	lang := pickLang(r, "")
	id := pathID(r)
	i, okIdx := pathIndex(r)
	if id == "" || !okIdx {
		a.message(w, r, http.StatusNotFound, lang, "not_found", "", "")
		return
	}
	cid, _, ok := a.boundCitizen(r, id, r.URL.Query().Get("t"), a.formTTL)
	if !ok {
		a.stepUpBound(w, r, id, lang)
		return
	}
	ctx := r.Context()
	pdf, err := a.svc.OriginalPDF(ctx, id, i, cid, a.subjectFor(cid))
	if err != nil {
		a.pageError(w, r, lang, id, err)
		return
	}
	title := a.docTitle(ctx, id, i, cid)
	// The PDF is the relying party's content: shown inline, sandboxed, never framed.
	setPageHeaders(w.Header(), pdfViewCSP)
	writePDF(w, pdf, title, i, "inline")
}

// pdfViewCSP goes with the original PDFs shown to the citizen. Chrome drops a PDF's CSP
// for its own viewer; Safari is reported to show a blank page for PDFs under "sandbox"
// (adobe/aem-core-wcm-components#2839): check on iPhones before the pilot.
const pdfViewCSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"

func (a *API) docTitle(ctx context.Context, id string, i int, cid string) string {
	req, err := a.svc.ForApproval(ctx, id, cid, a.subjectFor(cid))
	if err != nil || i >= len(req.Documents) {
		return ""
	}
	return req.Documents[i].Title
}

// ---- CSRF ----

// csrfToken binds the approval form to the request, the citizen's session and the time
// the link was opened: the time it was issued, that time, and an HMAC over (id, citizen
// id, both times) under Config.CSRFKey.
func (a *API) csrfToken(id, citizenID string, at, opened time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(at.Unix()))
	binary.BigEndian.PutUint64(b[8:], uint64(opened.Unix()))
	return base64.RawURLEncoding.EncodeToString(append(b[:], a.csrfMAC(id, citizenID, at.Unix(), opened.Unix())...))
}

func (a *API) csrfMAC(id, citizenID string, at, opened int64) []byte {
	m := hmac.New(sha256.New, a.csrfKey)
	m.Write([]byte("motlan/sign-csrf/v2\x00" + id + "\x00" + citizenID + "\x00" + strconv.FormatInt(at, 10) +
		"\x00" + strconv.FormatInt(opened, 10)))
	return m.Sum(nil)
}

// checkCSRF checks the form's token and that the browser's eID login is not older than
// the link's opening the token carries (sole control, gate.go).
func (a *API) checkCSRF(r *http.Request, tok, id, citizenID string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 16+sha256.Size {
		return false
	}
	at := int64(binary.BigEndian.Uint64(raw[:8]))
	opened := int64(binary.BigEndian.Uint64(raw[8:16]))
	if !hmac.Equal(raw[16:], a.csrfMAC(id, citizenID, at, opened)) {
		return false
	}
	if !a.unbound {
		if _, _, authAt, ok := a.auth.BrowserCitizen(r); !ok || authAt.Unix() < opened {
			return false
		}
	}
	age := a.now().Sub(time.Unix(at, 0))
	return age <= a.formTTL && age > -time.Minute
}
