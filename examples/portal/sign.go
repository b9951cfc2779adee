package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

const (
	// statusWait is how long the status endpoint long-polls Motlan: below the usual 30 s
	// or 60 s idle timeouts of proxies between the browser and the portal.
	statusWait   = 25 * time.Second
	maxSignedPDF = 60 << 20
	apiTimeout   = 30 * time.Second
)

// signFail shows a failed call to the signing API as a page.
func (p *Portal) signFail(w http.ResponseWriter, r *http.Request, lang string, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		p.fail(w, r, lang, http.StatusNotFound, "sign_notfound", "")
	case errors.As(err, &ae) && ae.Status == http.StatusGone:
		p.fail(w, r, lang, http.StatusGone, "sign_expired", "")
	case errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden):
		// The portal's own credentials or scope: nothing the citizen can fix.
		p.fail(w, r, lang, http.StatusBadGateway, "sign_config", ae.Type)
	case errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500:
		p.fail(w, r, lang, http.StatusBadGateway, "sign_refused", ae.Type)
	default:
		p.fail(w, r, lang, http.StatusServiceUnavailable, "sign_unavailable", "")
	}
}

// ownRequest reads signing request id for the logged-in citizen; a request of someone
// else is "not found", as Motlan itself answers.
func (p *Portal) ownRequest(ctx context.Context, sess session, id string, wait time.Duration, since int64) (signRequest, error) {
	op, err := p.provider(ctx)
	if err != nil {
		return signRequest{}, &apiError{Err: err}
	}
	if id == "" || len(id) > 128 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
		return signRequest{}, &apiError{Status: http.StatusNotFound, Type: "not-found"}
	}
	req, err := op.sign.get(ctx, id, wait, since)
	if err != nil {
		return signRequest{}, err
	}
	if !equal(req.Subject, sess.Citizen.Sub) {
		return signRequest{}, &apiError{Status: http.StatusNotFound, Type: "not-found"}
	}
	return req, nil
}

// signedDoc is one document on the signing page.
type signedDoc struct {
	Index                   int
	Title, URL              string
	Indication, Text, Level string
	Signer, Time            string
	Passed                  bool
	Error                   string // the report could not be had
}

type signView struct {
	ID, Status, Bundle string
	ApprovalURL        string
	Version            int64
	Expires            string
	Docs               []signedDoc
	Message            string
	Final, Signed      bool
	RetryURL           string
}

// bundleOf finds the bundle whose forms a request carries (by their titles).
func bundleOf(req signRequest) *bundle {
	for _, b := range bundles {
		if len(b.Forms) != len(req.Documents) {
			continue
		}
		same := true
		for i, f := range b.Forms {
			same = same && f.DocTitle == req.Documents[i].Title
		}
		if same {
			return b
		}
	}
	return nil
}

// pathRequest reads the logged-in citizen's signing request named in the path; on failure
// it has answered.
func (p *Portal) pathRequest(w http.ResponseWriter, r *http.Request, lang string) (signRequest, bool) {
	sess, ok := p.loggedIn(w, r)
	if !ok {
		return signRequest{}, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	req, err := p.ownRequest(ctx, sess, r.PathValue("id"), 0, 0)
	if err != nil {
		p.log.Warn("portal: reading the signing request failed", "err", err)
		p.signFail(w, r, lang, err)
		return signRequest{}, false
	}
	return req, true
}

func (p *Portal) signPage(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r)
	req, ok := p.pathRequest(w, r, lang)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	t := messages[lang]
	v := signView{ID: req.ID, Status: req.Status, ApprovalURL: req.ApprovalURL, Version: req.Version,
		Expires: req.ExpiresAt.In(vietnam).Format("15:04"), Final: req.final(), Signed: req.Status == "signed",
		Message: t["sign_"+req.Status]}
	if v.Message == "" {
		v.Message = t["sign_failed"]
	}
	v.RetryURL = "/ho-so"
	if b := bundleOf(req); b != nil {
		v.Bundle = t[b.NameKey]
		v.RetryURL = "/ho-so/" + b.ID
	}
	for _, d := range req.Documents {
		v.Docs = append(v.Docs, signedDoc{Index: d.Index, Title: d.Title,
			URL: "/ky-so/" + req.ID + "/tai-lieu/" + strconv.Itoa(d.Index)})
	}
	if v.Signed {
		// Signed: the portal submits the dossier and shows its receipt.
		sess, _ := getSealed[session](p.seal, r, sessionCookie)
		n, err := p.submitSigned(ctx, sess, req)
		if err != nil {
			p.log.Warn("portal: submitting a signed dossier failed", "id", req.ID, "err", err)
		}
		if n != "" {
			http.Redirect(w, r, "/ho-so-cua-toi/"+n, http.StatusSeeOther)
			return
		}
		for i := range v.Docs {
			p.verifyDoc(ctx, lang, req, &v.Docs[i])
		}
	}
	p.render(w, r, lang, http.StatusOK, "sign", t["sign_title"], v)
}

// docReport is the verification of one signed document, cached by its hash.
type docReport struct {
	Indication, SubIndication, Level, Signer string
	Time                                     time.Time
}

// reportCache keeps verification reports of signed documents: they never change, and
// a reload should not download and verify three PDFs again.
type reportCache struct {
	mu sync.Mutex
	m  map[string]docReport
}

func (c *reportCache) get(k string) (docReport, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[k]
	return r, ok
}

func (c *reportCache) put(k string, r docReport) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= 1024 {
		c.m = map[string]docReport{} // a demo's bound: forget everything rather than grow
	}
	c.m[k] = r
}

// verifyDoc downloads signed document d and asks Motlan's verifier about it.
func (p *Portal) verifyDoc(ctx context.Context, lang string, req signRequest, d *signedDoc) {
	t := messages[lang]
	key := req.ID + "/" + strconv.Itoa(d.Index) + "/" + req.Documents[d.Index].SignedSHA
	rep, ok := p.reports.get(key)
	if !ok {
		var err error
		rep, err = p.fetchReport(ctx, req.ID, d.Index)
		if err != nil {
			p.log.Warn("portal: verifying a signed document failed", "id", req.ID, "index", d.Index, "err", err)
			d.Error = t["verify_unavailable"]
			return
		}
		p.reports.put(key, rep)
	}
	applyReport(t, rep, d)
}

// applyReport shows a verification in the citizen's words ("Chữ ký hợp lệ", who, when);
// the indication and the PAdES level are the details behind "chi tiết".
func applyReport(t map[string]string, rep docReport, d *signedDoc) {
	d.Indication, d.Level, d.Signer = rep.Indication, rep.Level, rep.Signer
	if strings.HasPrefix(d.Level, "B-") {
		d.Level = "PAdES " + d.Level // "PAdES B-T": the baseline level, as ETSI names it
	}
	d.Passed = rep.Indication == "TOTAL_PASSED"
	switch rep.Indication {
	case "TOTAL_PASSED":
		d.Text = t["ind_passed"]
	case "TOTAL_FAILED":
		d.Text = t["ind_failed"]
	default:
		d.Text = t["ind_indeterminate"]
	}
	if rep.SubIndication != "" {
		d.Text += " (" + rep.SubIndication + ")"
	}
	if !rep.Time.IsZero() {
		d.Time = rep.Time.In(vietnam).Format("15:04:05 02/01/2006") + " (GMT+7)"
	}
}

func (p *Portal) fetchReport(ctx context.Context, id string, i int) (docReport, error) {
	op, err := p.provider(ctx)
	if err != nil {
		return docReport{}, err
	}
	pdf, err := op.sign.document(ctx, id, i, maxSignedPDF)
	if err != nil {
		return docReport{}, err
	}
	rep, err := op.sign.verify(ctx, pdf)
	if err != nil {
		return docReport{}, err
	}
	// The citizen's is the last signature of the dossier's form.
	if len(rep.Signatures) == 0 {
		return docReport{Indication: "NO_SIGNATURE"}, nil
	}
	s := rep.Signatures[len(rep.Signatures)-1]
	out := docReport{Indication: s.Indication, SubIndication: s.SubIndication, Level: s.Level}
	if s.Signer != nil {
		out.Signer = s.Signer.Name
	}
	switch {
	case s.Timestamp != nil:
		out.Time = s.Timestamp.Time
	case s.ClaimedTime != nil:
		out.Time = *s.ClaimedTime
	}
	return out, nil
}

// statusJSON is what the signing page's script reads.
type statusJSON struct {
	Status  string `json:"status"`
	Version int64  `json:"version"`
	Final   bool   `json:"final"`
	Message string `json:"message"`
}

// signStatus long-polls Motlan for a change of the request after version ?since and
// answers its status as JSON. The page's script calls it in a loop and reloads the page
// when the request is final.
func (p *Portal) signStatus(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r)
	t := messages[lang]
	sess, err := getSealed[session](p.seal, r, sessionCookie)
	if err != nil {
		writeStatusJSON(w, http.StatusUnauthorized, statusJSON{Status: "error", Message: t["err_state"]})
		return
	}
	wait := statusWait
	since, perr := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
	if perr != nil || since < 0 {
		wait, since = 0, 0 // no version known: answer at once with the current one
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait+apiTimeout)
	defer cancel()
	req, err := p.ownRequest(ctx, sess, r.PathValue("id"), wait, since)
	var ae *apiError
	switch {
	case err == nil:
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		writeStatusJSON(w, http.StatusNotFound, statusJSON{Status: "error", Final: true, Message: t["err_sign_notfound"]})
		return
	case errors.As(err, &ae) && ae.Status == http.StatusGone:
		writeStatusJSON(w, http.StatusOK, statusJSON{Status: "expired", Final: true, Message: t["sign_expired"]})
		return
	default:
		if r.Context().Err() == nil {
			p.log.Warn("portal: signing status failed", "err", err)
		}
		writeStatusJSON(w, http.StatusServiceUnavailable, statusJSON{Status: "error", Message: t["err_sign_unavailable"]})
		return
	}
	msg := t["sign_"+req.Status]
	if msg == "" {
		msg = t["sign_failed"]
	}
	writeStatusJSON(w, http.StatusOK, statusJSON{Status: req.Status, Version: req.Version, Final: req.final(), Message: msg})
}

func writeStatusJSON(w http.ResponseWriter, status int, v statusJSON) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// signQR draws the approval URL as a QR code for the phone's camera.
func (p *Portal) signQR(w http.ResponseWriter, r *http.Request) {
	sess, err := getSealed[session](p.seal, r, sessionCookie)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	req, err := p.ownRequest(ctx, sess, r.PathValue("id"), 0, 0)
	if err != nil || req.ApprovalURL == "" {
		http.Error(w, http.StatusText(http.StatusNotFound), http.StatusNotFound)
		return
	}
	q, err := qrcode.New(req.ApprovalURL, qrcode.Medium)
	var png []byte
	if err == nil {
		png, err = q.PNG(288)
	}
	if err != nil {
		p.log.Error("portal: drawing the QR code", "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=900")
	_, _ = w.Write(png)
}

// signedDocument hands the citizen a signed PDF from Motlan.
func (p *Portal) signedDocument(w http.ResponseWriter, r *http.Request) {
	lang := p.lang(w, r)
	req, ok := p.pathRequest(w, r, lang)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	i, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || i < 0 || i >= len(req.Documents) {
		p.fail(w, r, lang, http.StatusNotFound, "sign_notfound", "")
		return
	}
	if req.Status != "signed" {
		p.fail(w, r, lang, http.StatusConflict, "sign_not_signed", "")
		return
	}
	op, err := p.provider(ctx)
	if err != nil {
		p.signFail(w, r, lang, &apiError{Err: err})
		return
	}
	pdf, err := op.sign.document(ctx, req.ID, i, maxSignedPDF)
	if err != nil {
		p.signFail(w, r, lang, err)
		return
	}
	name := fmt.Sprintf("ho-so-%d-da-ky.pdf", i+1)
	if b := bundleOf(req); b != nil {
		name = strings.TrimSuffix(b.Forms[i].File, ".pdf") + "-da-ky.pdf"
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Content-Length", strconv.Itoa(len(pdf)))
	_, _ = w.Write(pdf)
}
