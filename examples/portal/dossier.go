package portal

// The dossier's way from the form to a receipt: the preview of each PDF, "Ký số" with one
// signing request per dossier, the submission once signed, and "Hồ sơ của tôi".

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// validDraft reads the citizen's draft for the bundle in the path; when there is none
// or it does not pass the form's checks, it sends the browser to the form.
func (p *Portal) validDraft(w http.ResponseWriter, r *http.Request) (session, *bundle, values, bool) {
	sess, ok := p.loggedIn(w, r)
	if !ok {
		return session{}, nil, nil, false
	}
	b := bundleOfPath(r)
	if b == nil {
		http.NotFound(w, r)
		return session{}, nil, nil, false
	}
	draft := p.store.draft(sess.Citizen.Sub, b.ID)
	form := url.Values{}
	for k, v := range draft {
		form.Set(k, v)
	}
	vals, errs := b.parse(form, p.now())
	if draft == nil || len(errs) > 0 {
		http.Redirect(w, r, "/ho-so/"+b.ID, http.StatusSeeOther)
		return session{}, nil, nil, false
	}
	return sess, b, vals, true
}

// renderDossier makes the bundle's PDFs, dated today (the day only: a retry renders the
// same bytes).
func (p *Portal) renderDossier(sess session, b *bundle, v values) ([]rendered, error) {
	now := p.now().In(vietnam)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, vietnam)
	return b.render(dossier{Applicant: sess.Citizen, V: v, Date: day})
}

type previewView struct {
	Bundle, Title, CSRF string
	Docs                []previewDoc
}

type previewDoc struct{ Title, URL string }

// preview shows each PDF of the dossier before "Ký số": what the citizen signs is what
// they saw.
func (p *Portal) preview(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r)
	sess, b, _, ok := p.validDraft(w, r)
	if !ok {
		return
	}
	t := messages[lang]
	v := previewView{Bundle: b.ID, Title: t[b.NameKey], CSRF: sess.CSRF}
	for i, f := range b.Forms {
		v.Docs = append(v.Docs, previewDoc{Title: f.DocTitle, URL: fmt.Sprintf("/ho-so/%s/xem-truoc/%d", b.ID, i)})
	}
	p.render(w, r, lang, http.StatusOK, "preview", t["preview_title"], v)
}

// previewPDF serves one form of the draft, inline, to the preview's frames: the same
// security headers as every page, except that the portal's own pages may frame it.
func (p *Portal) previewPDF(w http.ResponseWriter, r *http.Request) {
	sess, b, v, ok := p.validDraft(w, r)
	if !ok {
		return
	}
	i, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || i < 0 || i >= len(b.Forms) {
		http.NotFound(w, r)
		return
	}
	docs, err := p.renderDossier(sess, b, v)
	if err != nil {
		p.log.Error("portal: rendering the dossier", "bundle", b.ID, "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", strings.Replace(h.Get("Content-Security-Policy"), "frame-ancestors 'none'", "frame-ancestors 'self'", 1))
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `inline; filename="`+b.Forms[i].File+`"`)
	h.Set("Content-Length", strconv.Itoa(len(docs[i].PDF)))
	_, _ = w.Write(docs[i].PDF)
}

// signDossier is "Ký số": one signing request per dossier. The same forms again reuse the
// request while it can still be approved (a double submission, back then forward); forms
// that changed replace it, and the replaced request is cancelled (reason "superseded"), so
// the old approval link signs nothing.
func (p *Portal) signDossier(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r)
	sess, b, v, ok := p.validDraft(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil || !equal(r.PostForm.Get("csrf"), sess.CSRF) {
		p.fail(w, r, lang, http.StatusForbidden, "csrf", "")
		return
	}
	op, err := p.provider(r.Context())
	if err != nil {
		p.log.Warn("portal: discovery failed", "err", err)
		p.fail(w, r, lang, http.StatusServiceUnavailable, "sign_unavailable", "")
		return
	}
	docs, err := p.renderDossier(sess, b, v)
	if err != nil {
		p.log.Error("portal: rendering the dossier", "bundle", b.ID, "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := sha256.New()
	for _, d := range docs {
		h.Write(d.PDF)
	}
	docsHash := hex.EncodeToString(h.Sum(nil))
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	d := p.store.openDossier(sess.Citizen.Sub, b.ID)
	if d.RequestID != "" && d.DocsHash == docsHash {
		if cur, err := p.ownRequest(ctx, sess, d.RequestID, 0, 0); err == nil && (!cur.final() || cur.Status == "signed") {
			http.Redirect(w, r, "/ky-so/"+cur.ID, http.StatusSeeOther)
			return
		}
	}
	// The key names this dossier, these bytes and this attempt: a double submission gets
	// the same request from Motlan; a new attempt after a refusal gets a new one.
	key := sha256.Sum256([]byte(d.Key + "\x00" + docsHash + "\x00" + strconv.Itoa(d.Created)))
	base := strings.TrimSuffix(p.cfg.RedirectURL, p.callbackPath)
	req, err := op.sign.create(ctx, sess.Citizen.Sub, b.Reason, base+"/ho-so/"+b.ID+"/ky-so", "portal-"+hex.EncodeToString(key[:])[:40], docs)
	if err != nil {
		p.log.Warn("portal: creating the signing request failed", "bundle", b.ID, "err", err)
		p.signFail(w, r, lang, err)
		return
	}
	if old := p.store.setRequest(sess.Citizen.Sub, b.ID, d.Key, req.ID, docsHash, v); old != "" {
		p.supersede(ctx, old)
	}
	p.log.Info("portal: signing request created", "bundle", b.ID, "id", req.ID, "documents", len(docs))
	http.Redirect(w, r, "/ky-so/"+req.ID, http.StatusSeeOther)
}

// supersede cancels a replaced request; one already final needs nothing.
func (p *Portal) supersede(ctx context.Context, id string) {
	op, err := p.provider(ctx)
	if err == nil {
		_, err = op.sign.cancel(ctx, id, "superseded")
	}
	var ae *apiError
	if err != nil && !(errors.As(err, &ae) && (ae.Status == http.StatusConflict || ae.Status == http.StatusGone)) {
		p.log.Warn("portal: cancelling a replaced signing request failed", "id", id, "err", err)
	}
}

// currentRequest is the return_url the phone comes back to: the dossier's signing page,
// its receipt once submitted, or the form.
func (p *Portal) currentRequest(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.loggedIn(w, r)
	if !ok {
		return
	}
	b := bundleOfPath(r)
	if b == nil {
		http.NotFound(w, r)
		return
	}
	if d := p.store.openDossier(sess.Citizen.Sub, b.ID); d.RequestID != "" {
		http.Redirect(w, r, "/ky-so/"+d.RequestID, http.StatusSeeOther)
		return
	}
	if subs, _ := p.store.list(sess.Citizen.Sub); len(subs) > 0 {
		for _, d := range subs {
			if d.Bundle == b.ID {
				http.Redirect(w, r, "/ho-so-cua-toi/"+d.Number, http.StatusSeeOther)
				return
			}
		}
	}
	http.Redirect(w, r, "/ho-so/"+b.ID, http.StatusSeeOther)
}

// submitSigned files the dossier a signed request belongs to: it keeps the signed PDFs
// and their verification and numbers the dossier. It returns the number, or "" when the
// request is no open dossier's (made before a restart, say).
func (p *Portal) submitSigned(ctx context.Context, sess session, req signRequest) (string, error) {
	if d, ok := p.store.submitted(sess.Citizen.Sub, req.ID); ok {
		return d.Number, nil
	}
	d, ok := p.store.openFor(sess.Citizen.Sub, req.ID)
	if !ok {
		return "", nil
	}
	b := bundleByID(d.Bundle)
	op, err := p.provider(ctx)
	if err != nil || b == nil {
		return "", fmt.Errorf("portal: submitting: %w", err)
	}
	docs := make([]submittedDoc, 0, len(req.Documents))
	for i, doc := range req.Documents {
		pdf, err := op.sign.document(ctx, req.ID, i, maxSignedPDF)
		if err != nil {
			return "", err
		}
		rep, err := p.fetchReport(ctx, req.ID, i)
		if err != nil {
			return "", err
		}
		file := fmt.Sprintf("ho-so-%d-da-ky.pdf", i+1)
		if i < len(b.Forms) {
			file = strings.TrimSuffix(b.Forms[i].File, ".pdf") + "-da-ky.pdf"
		}
		docs = append(docs, submittedDoc{Title: doc.Title, File: file, PDF: pdf, Report: rep})
	}
	n, err := p.store.submit(sess.Citizen.Sub, req.ID, docs, p.now())
	if err == nil {
		p.log.Info("portal: dossier submitted", "bundle", b.ID, "number", n)
	}
	return n, err
}
