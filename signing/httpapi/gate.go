package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/motlan/motlan/signing"
)

// Sole control: every approval needs an eID login made for it. Opening the link mints a
// ticket (the request id and the time it was opened, under an HMAC) that travels through
// the step-up login in its return path; the approval page, its documents and its form are
// served only to a citizen whose eID login is at least as recent as the ticket. A login
// made for another request, or at the portal a minute earlier, does not count.

// ticket is "opened (8 bytes) | HMAC(id, opened)[:16]", base64url.
func (a *API) ticket(id string, opened time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(opened.Unix()))
	return base64.RawURLEncoding.EncodeToString(append(b[:], a.ticketMAC(id, opened.Unix())...))
}

func (a *API) ticketMAC(id string, opened int64) []byte {
	m := hmac.New(sha256.New, a.csrfKey)
	m.Write([]byte("motlan/sign-ticket/v1\x00" + id + "\x00" + strconv.FormatInt(opened, 10)))
	return m.Sum(nil)[:16]
}

// openedAt checks a ticket for id and gives the time the link was opened.
func (a *API) openedAt(id, tok string) (time.Time, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 8+16 {
		return time.Time{}, false
	}
	at := int64(binary.BigEndian.Uint64(raw[:8]))
	if !hmac.Equal(raw[8:], a.ticketMAC(id, at)) {
		return time.Time{}, false
	}
	opened := time.Unix(at, 0)
	age := a.now().Sub(opened)
	return opened, age <= a.fresh+a.formTTL && age > -time.Minute
}

// boundCitizen is the browser's level-2 citizen when their eID login was made after the
// link was opened (ticket t) and within FreshLogin + extra; opened is that time.
func (a *API) boundCitizen(r *http.Request, id, t string, extra time.Duration) (cid string, opened time.Time, ok bool) {
	if a.unbound {
		cid, ok = a.citizen(r, a.fresh+extra)
		return cid, a.now(), ok
	}
	opened, ok = a.openedAt(id, t)
	if !ok {
		return "", time.Time{}, false
	}
	cid, acr, at, ok := a.auth.BrowserCitizen(r)
	if !ok || cid == "" || acr < "2" || at.Unix() < opened.Unix() {
		return "", time.Time{}, false
	}
	age := a.now().Sub(at)
	return cid, opened, age <= a.fresh+extra && age > -time.Minute
}

// stepUpBound sends the browser to a fresh eID login that comes back to the approval page
// with a new ticket.
func (a *API) stepUpBound(w http.ResponseWriter, r *http.Request, id, lang string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, a.stepUpURLFor(id, lang), http.StatusSeeOther)
}

func (a *API) stepUpURLFor(id, lang string) string {
	ret := "/sign/" + id + "?t=" + a.ticket(id, a.now())
	if lang == "en" {
		ret += "&lang=en"
	}
	return a.auth.StepUpURL(ret, lang)
}

// previewer is what the link needs before any login (package signing implements it).
type previewer interface {
	Preview(ctx context.Context, id string) (signing.Preview, error)
}

var _ previewer = (*signing.Service)(nil)

// endedBeforeLogin shows, without a login, that the link no longer waits for anyone:
// expired, answered, withdrawn or replaced. It reports whether it wrote a page.
func (a *API) endedBeforeLogin(w http.ResponseWriter, r *http.Request, lang, id string) bool {
	pv, ok := a.svc.(previewer)
	if !ok {
		return false
	}
	p, err := pv.Preview(r.Context(), id)
	if errors.Is(err, signing.ErrNotFound) {
		// Ids are random: saying "no such request" reveals nothing, and spares a login.
		a.message(w, r, http.StatusNotFound, lang, "not_found", "", "")
		return true
	}
	if err != nil || p.Status == signing.StatusPending {
		return false // a store error gets its page after login, as before
	}
	t := messages[lang]
	key := string(p.Status)
	if p.Status == signing.StatusCanceled && p.CancelReason == signing.CancelSuperseded {
		key = "superseded"
	}
	if p.Status == signing.StatusSigned || p.Status == signing.StatusRejected || p.Status == signing.StatusSigning {
		key = "used"
	}
	v := pageView{Heading: t[key], Note: t[key+"_note"], Status: key, Client: a.clientName(p.ClientID)}
	if v.Heading == "" {
		v.Heading, v.Note = t["err.title"], t["err.ended"]
	}
	sw := a.signPath(id) + "?lang=" + otherLang(lang)
	a.renderPage(w, r, http.StatusGone, "message", lang, sw, v)
	return true
}

// wrongAccount is the page for a citizen logged in as someone the request is not for:
// they can log in again as the right person (a new eID login, bound to a new ticket).
func (a *API) wrongAccount(w http.ResponseWriter, r *http.Request, lang, id string) {
	t := messages[lang]
	v := pageView{Heading: t["wrong_account"], Note: t["wrong_account_note"], Status: "wrong_account",
		LinkURL: a.stepUpURLFor(id, lang), LinkText: t["switch_account"]}
	a.renderPage(w, r, http.StatusForbidden, "message", lang, a.signPath(id)+"?lang="+otherLang(lang), v)
}

// csrfOpened is the link's opening time a (checked) CSRF token carries.
func csrfOpened(tok string) time.Time {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) < 16 {
		return time.Time{}
	}
	return time.Unix(int64(binary.BigEndian.Uint64(raw[8:16])), 0)
}

// bindView carries the ticket on the page's own links (documents, page images), which
// need the same login as the page.
func (a *API) bindView(v *pageView, id, tk string) {
	if tk == "" {
		return // AcceptUnboundLogin
	}
	for i := range v.Docs {
		d := &v.Docs[i]
		d.ViewURL += "&t=" + tk
		for j := range d.Images {
			d.Images[j] += "&t=" + tk
		}
	}
}

// pageURL is the approval page's own address, with its ticket when it has one.
func (a *API) pageURL(id, tk, lang string) string {
	if tk == "" {
		return a.signPath(id) + "?lang=" + lang
	}
	return a.signPath(id) + "?t=" + tk + "&lang=" + lang
}

// StepUpPurpose says why a step-up login back to returnPath is asked, for the eID's
// login page: "<portal> đề nghị bạn ký số 3 tài liệu." ("" for any other path, or a
// request that no longer waits). Install it with the provider's SetStepUpPurpose.
func (a *API) StepUpPurpose(ctx context.Context, returnPath, lang string) string {
	rest, ok := strings.CutPrefix(returnPath, "/sign/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "?")
	pv, ok := a.svc.(previewer)
	if id == "" || strings.Contains(id, "/") || !ok {
		return ""
	}
	p, err := pv.Preview(ctx, id)
	if err != nil || p.Status != signing.StatusPending {
		return ""
	}
	if lang != "en" {
		lang = "vi"
	}
	return a.clientName(p.ClientID) + " " + plural(messages[lang], "binding", p.Documents)
}
