package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/motlan/motlan/signing"
)

// Activator is a Service whose signing backend may need the citizen's own step at the
// provider: a PIN or a one-time code (package signing implements it). A Service without
// it never asks.
type Activator interface {
	// ActivationFor says what to ask the citizen; a citizen with no credential at the
	// provider gets a *signing.BackendError with signing.FailureNoCredential.
	ActivationFor(ctx context.Context, citizenID string) (signing.ActivationMode, error)
	// Challenge has the provider send the citizen a one-time code.
	Challenge(ctx context.Context, citizenID string) error
	ApproveWith(ctx context.Context, id, citizenID string, subjectForClient func(string) string, hashes []string, act signing.Activation) (signing.Request, error)
}

// Longest PIN or OTP accepted from the form.
const maxActivation = 64

// activation fills what the approval page asks for the provider's step, sending the OTP
// when the credential uses one. It renders the failure page and returns false when the
// citizen cannot sign at all (no credential, the provider down).
func (a *API) activation(w http.ResponseWriter, r *http.Request, lang, id, cid string, v *pageView) bool {
	act, ok := a.svc.(Activator)
	if !ok {
		return true
	}
	mode, err := act.ActivationFor(r.Context(), cid)
	if err == nil && mode == signing.ActivationOTP {
		err = act.Challenge(r.Context(), cid)
	}
	if err != nil {
		a.pageError(w, r, lang, id, err)
		return false
	}
	v.Activation = string(mode)
	return true
}

// approve passes the PIN or OTP the citizen typed on to the backend, for this one run.
func (a *API) approve(r *http.Request, id, cid string, hashes []string) (signing.Request, error) {
	act, ok := a.svc.(Activator)
	if !ok {
		return a.svc.Approve(r.Context(), id, cid, a.subjectFor(cid), hashes)
	}
	in := signing.Activation{PIN: r.PostForm.Get("pin"), OTP: r.PostForm.Get("otp")}
	if len(in.PIN) > maxActivation || len(in.OTP) > maxActivation {
		return signing.Request{}, errBadActivation
	}
	return act.ApproveWith(r.Context(), id, cid, a.subjectFor(cid), hashes, in)
}

var errBadActivation = errors.New("httpapi: PIN or OTP too long")

// backendFailure renders the page for a provider's refusal before or while signing.
func (a *API) backendFailure(w http.ResponseWriter, r *http.Request, lang string, be *signing.BackendError) {
	t := messages[lang]
	note := t["failed."+be.Code]
	if note == "" {
		note = t["failed_note"]
	}
	a.log.WarnContext(r.Context(), "approval page: signing provider refused", "code", be.Code)
	a.renderPage(w, r, http.StatusConflict, "message", lang, "", pageView{Heading: t["failed"], Note: note})
}

// failureNote is the explanation of a failed request's reason code, if there is one.
func failureNote(lang string, req signing.Request) string {
	if req.Status != signing.StatusFailed {
		return ""
	}
	return messages[lang]["failed."+req.Failure]
}

// askAgain shows the approval form again, saying the code was wrong, when the provider
// refused the PIN or OTP and the request still waits (signing.Service.ApproveWith). An
// OTP credential is sent a new code, as when the page is first shown.
func (a *API) askAgain(w http.ResponseWriter, r *http.Request, lang, cid string, req signing.Request, err error) bool {
	var be *signing.BackendError
	if !errors.As(err, &be) || (be.Code != signing.FailureAuth && be.Code != signing.FailureActivation) || req.Status != signing.StatusPending {
		return false
	}
	v := a.view(req, lang)
	if !a.activation(w, r, lang, req.ID, cid, &v) {
		return true
	}
	v.Error = messages[lang]["wrong_code"]
	v.CSRF = a.csrfToken(req.ID, cid, a.now(), csrfOpened(r.PostForm.Get("csrf")))
	a.bindView(&v, req.ID, a.ticket(req.ID, csrfOpened(r.PostForm.Get("csrf"))))
	a.renderPage(w, r, http.StatusUnprocessableEntity, "approve", lang, a.signPath(req.ID)+"?lang="+otherLang(lang), v)
	return true
}
