package account

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/signing"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").ParseFS(templateFS, "templates/*.html"))

// pickLang is the page language: an explicit switch (form field or ?lang=), else
// Vietnamese, whatever the browser prefers.
func pickLang(r *http.Request) string {
	for _, l := range []string{r.PostFormValue("lang"), r.URL.Query().Get("lang")} {
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

// pageCSP is the approval pages' policy: a nonce for the one stylesheet, no script, no
// framing, forms to this origin only.
func pageCSP(nonce string) string {
	return "default-src 'none'; style-src 'nonce-" + nonce + "'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}

func setPageHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

func (p *Page) render(w http.ResponseWriter, r *http.Request, status int, name, lang, switchURL string, d any) {
	nonce := rand.Text()
	var buf bytes.Buffer
	err := pages.ExecuteTemplate(&buf, name, map[string]any{"Lang": lang, "T": messages[lang], "Nonce": nonce, "D": d, "Switch": switchURL})
	if err != nil {
		p.cfg.Logger.ErrorContext(r.Context(), "me: render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w.Header(), pageCSP(nonce))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type messageView struct {
	Heading, Note, LinkURL, LinkText string
}

// message renders a short page: a heading, a text and a link (back to /me by default).
func (p *Page) message(w http.ResponseWriter, r *http.Request, status int, lang, key, linkURL string) {
	t := messages[lang]
	v := messageView{Heading: t["msg."+key+".title"], Note: t["msg."+key], LinkURL: "/me?lang=" + lang, LinkText: t["back"]}
	if v.Heading == "" {
		v.Heading = t["msg.error.title"]
	}
	if linkURL != "" {
		v.LinkURL, v.LinkText = linkURL, t["login_again"]
	}
	p.render(w, r, status, "message", lang, "", v)
}

// fail renders the page for an error of an action or a read.
func (p *Page) fail(w http.ResponseWriter, r *http.Request, lang string, err error) {
	switch {
	case errors.Is(err, errNotYours), errors.Is(err, store.ErrNotFound), errors.Is(err, signing.ErrNotFound), errors.Is(err, signing.ErrForbidden):
		p.message(w, r, http.StatusNotFound, lang, "not_found", "")
	case errors.Is(err, signing.ErrFinal), errors.Is(err, signing.ErrNotPending), errors.Is(err, signing.ErrExpired), errors.Is(err, signing.ErrConflict):
		p.message(w, r, http.StatusConflict, lang, "ended", "")
	case errors.Is(err, store.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		p.message(w, r, http.StatusServiceUnavailable, lang, "busy", "")
	default:
		p.cfg.Logger.ErrorContext(r.Context(), "me", "method", r.Method, "err", err)
		p.message(w, r, http.StatusInternalServerError, lang, "server", "")
	}
}

// errNotYours is an id that is not among the citizen's records: answered 404, as one that
// does not exist.
var errNotYours = errors.New("account: not among the citizen's records")

// stepUp sends the browser to a level-2 eID login that comes back to /me.
func (p *Page) stepUp(w http.ResponseWriter, r *http.Request, lang string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.cfg.Provider.StepUpURL("/me?lang="+lang, lang), http.StatusSeeOther)
}

// GET /me
func (p *Page) handlePage(w http.ResponseWriter, r *http.Request) {
	lang := pickLang(r)
	cid, ok := p.citizen(r, false)
	if !ok {
		p.stepUp(w, r, lang)
		return
	}
	d, err := p.load(r, lang, cid, r.URL.Query().Get("values") == "1")
	if err != nil {
		p.fail(w, r, lang, err)
		return
	}
	if n := r.URL.Query().Get("done"); n != "" && messages[lang]["done."+n] != "" {
		d.Notice = messages[lang]["done."+n]
	}
	q := url.Values{"lang": {otherLang(lang)}}
	if d.ShowValues {
		q.Set("values", "1")
	}
	p.render(w, r, http.StatusOK, "me", lang, "/me?"+q.Encode(), d)
}

func (p *Page) load(r *http.Request, lang, cid string, values bool) (pageData, error) {
	ctx := r.Context()
	st := p.cfg.Store
	cit, err := st.GetCitizen(ctx, cid)
	if err != nil {
		return pageData{}, err
	}
	rels, err := st.ListReleases(ctx, cid)
	if err != nil {
		return pageData{}, err
	}
	cs, err := st.ListConsents(ctx, cid)
	if err != nil {
		return pageData{}, err
	}
	ss, err := st.ListCitizenSessions(ctx, cid)
	if err != nil {
		return pageData{}, err
	}
	reqs, err := p.signingRequests(ctx, cid, knownClients(rels, cs))
	if err != nil {
		return pageData{}, err
	}
	cert, err := p.certView(ctx, lang, cit)
	if err != nil {
		return pageData{}, err
	}
	_, fresh := p.citizen(r, true)
	d := pageData{
		CSRF: p.csrfToken(cid, p.cfg.Now()), ShowValues: values, Consents: p.consents(ctx, lang, cs),
		Sessions: p.sessions(lang, ss, p.cfg.Provider.BrowserSessionID(r)), Cert: cert, Fresh: fresh,
		StepUpURL: p.cfg.Provider.StepUpURL("/me?lang="+lang, lang), ExportURL: "/me/data.json",
		ValuesURL: "/me?lang=" + lang + "&values=1#shared",
	}
	d.Portals = p.portals(ctx, lang, cit, rels, d.Consents, values)
	for _, req := range reqs {
		d.Requests = append(d.Requests, p.requestView(ctx, lang, req))
	}
	return d, nil
}

// knownClients are the clients that received the citizen's data or hold their consent.
func knownClients(rels []store.Release, cs []store.Consent) []string {
	var out []string
	for _, r := range rels {
		out = append(out, r.ClientID)
	}
	for _, c := range cs {
		out = append(out, c.ClientID)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ---- CSRF: the time issued and an HMAC over (citizen, time) under Config.Key

func (p *Page) csrfToken(citizenID string, at time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(at.Unix()))
	return base64.RawURLEncoding.EncodeToString(append(b[:], p.csrfMAC(citizenID, at.Unix())...))
}

func (p *Page) csrfMAC(citizenID string, at int64) []byte {
	m := hmac.New(sha256.New, p.cfg.Key)
	m.Write([]byte("motlan/me-csrf/v1\x00" + citizenID + "\x00" + strconv.FormatInt(at, 10)))
	return m.Sum(nil)
}

func (p *Page) checkCSRF(tok, citizenID string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 8+sha256.Size {
		return false
	}
	at := int64(binary.BigEndian.Uint64(raw[:8]))
	if !hmac.Equal(raw[8:], p.csrfMAC(citizenID, at)) {
		return false
	}
	age := p.cfg.Now().Sub(time.Unix(at, 0))
	return age <= p.cfg.FormTTL && age > -time.Minute
}
