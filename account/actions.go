package account

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/signing"
)

// post checks what every action needs: a parsable form, a logged-in citizen (with a fresh
// level-2 login when fresh), and the CSRF token bound to them. It answers the refusal.
func (p *Page) post(w http.ResponseWriter, r *http.Request, fresh bool) (cid, lang string, ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	perr := r.ParseForm()
	lang = pickLang(r)
	if perr != nil {
		p.message(w, r, http.StatusBadRequest, lang, "bad_request", "")
		return "", lang, false
	}
	cid, logged := p.citizen(r, false)
	if !logged {
		p.message(w, r, http.StatusForbidden, lang, "login", p.cfg.Provider.StepUpURL("/me?lang="+lang, lang))
		return "", lang, false
	}
	if !p.checkCSRF(r.PostForm.Get("csrf"), cid) {
		p.message(w, r, http.StatusForbidden, lang, "csrf", "")
		return "", lang, false
	}
	if fresh {
		if _, ok := p.citizen(r, true); !ok {
			// A page with a link rather than a redirect: form-action 'self' would block the
			// redirect chain to the eID.
			p.message(w, r, http.StatusForbidden, lang, "stepup", p.cfg.Provider.StepUpURL("/me?lang="+lang, lang))
			return "", lang, false
		}
	}
	return cid, lang, true
}

func (p *Page) done(w http.ResponseWriter, r *http.Request, lang, what, anchor string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/me?lang="+lang+"&done="+what+"#"+anchor, http.StatusSeeOther)
}

// POST /me/consents/{client}/withdraw: the consent goes, and with it every refresh and
// access token the client holds for the citizen; a client with a back-channel logout URI
// is told for each session it was given tokens in.
func (p *Page) handleWithdraw(w http.ResponseWriter, r *http.Request) {
	cid, lang, ok := p.post(w, r, false)
	if !ok {
		return
	}
	client := r.PathValue("client")
	// The withdrawal and its audit record are one transaction.
	rec, err := p.records(KindConsentWithdraw, cid, map[string]any{"client": client})
	if err == nil {
		err = p.cfg.Store.DeleteConsent(r.Context(), cid, client, rec...)
	}
	if err != nil {
		p.fail(w, r, lang, err)
		return
	}
	p.kick()
	if err := p.endClient(r.Context(), cid, client); err != nil {
		p.fail(w, r, lang, err)
		return
	}
	p.done(w, r, lang, "withdrawn", "consents")
}

// endClient revokes what client was given for the citizen and tells it through the back
// channel.
func (p *Page) endClient(ctx context.Context, cid, client string) error {
	fams, sessions, err := p.cfg.Store.ClientGrants(ctx, cid, client)
	if err != nil {
		return err
	}
	if _, err := p.cfg.Store.RevokeClientRefreshTokens(ctx, cid, client); err != nil {
		return err
	}
	if err := p.cfg.Provider.DenyAccessTokens(ctx, fams); err != nil {
		return fmt.Errorf("deny access tokens: %w", err)
	}
	for _, s := range sessions {
		p.cfg.Provider.NotifyLogout(ctx, cid, s, client)
	}
	return nil
}

// POST /me/sessions/{handle}/end: the session ends, and every client it was used for is
// told through the back channel (its online refresh tokens die with it).
func (p *Page) handleEndSession(w http.ResponseWriter, r *http.Request) {
	cid, lang, ok := p.post(w, r, false)
	if !ok {
		return
	}
	ctx := r.Context()
	ss, err := p.cfg.Store.ListCitizenSessions(ctx, cid)
	if err != nil {
		p.fail(w, r, lang, err)
		return
	}
	handle := r.PathValue("handle")
	for _, s := range ss {
		if p.sessionHandle(s.ID) != handle {
			continue
		}
		// The session's end and its audit record are one transaction.
		rec, err := p.records(KindSessionEnd, cid, map[string]any{"via": "me"})
		if err == nil {
			err = p.cfg.Store.DeleteSession(ctx, s.ID, rec...)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			p.fail(w, r, lang, err)
			return
		}
		p.kick()
		p.cfg.Provider.NotifyLogout(ctx, cid, s.ID)
		p.done(w, r, lang, "session_ended", "sessions")
		return
	}
	p.fail(w, r, lang, errNotYours)
}

// POST /me/signing/{id}/reject: the citizen declines a pending request from here.
func (p *Page) handleReject(w http.ResponseWriter, r *http.Request) {
	cid, lang, ok := p.post(w, r, false)
	if !ok {
		return
	}
	if _, err := p.cfg.Signing.Reject(r.Context(), r.PathValue("id"), cid, p.subjectFor(cid)); err != nil {
		p.fail(w, r, lang, err)
		return
	}
	p.done(w, r, lang, "rejected", "signatures")
}

// POST /me/certificate/revoke: "mất điện thoại". The certificate is revoked as
// keyCompromise at the CA (OCSP and the CRL say so at once), the certificate record is
// dropped and the key moves to its next epoch, so the next signing, after its own fresh
// level-2 login, creates a new key and certificate.
func (p *Page) handleRevoke(w http.ResponseWriter, r *http.Request) {
	cid, lang, ok := p.post(w, r, true)
	if !ok {
		return
	}
	if p.cfg.Revoker == nil {
		p.message(w, r, http.StatusServiceUnavailable, lang, "server", "")
		return
	}
	if err := p.revokeCert(r.Context(), cid, ca.ReasonKeyCompromise); err != nil {
		p.fail(w, r, lang, err)
		return
	}
	p.done(w, r, lang, "revoked", "certificate")
}

func (p *Page) revokeCert(ctx context.Context, cid string, reason int) error {
	c, err := p.cfg.Store.CitizenCert(ctx, cid)
	if errors.Is(err, signing.ErrNotFound) {
		return errNotYours
	}
	if err != nil {
		return err
	}
	serial, err := ca.ParseSerial(c.Serial)
	if err != nil {
		return err
	}
	_, rev, err := p.cfg.Revoker.RevokeCertificate(ctx, serial, reason, time.Time{})
	if err != nil && !errors.Is(err, ca.ErrAlreadyRevoked) {
		return err
	}
	if err == nil {
		p.audit(ctx, audit.KindRevoke, cid, map[string]any{"serial": c.Serial, "reason": ca.ReasonName(rev.Reason), "via": "me"})
	}
	return p.cfg.Store.ForgetCitizenKey(ctx, cid, c.Serial)
}

// POST /me/delete: the deletion request. Every client's tokens are revoked and each is
// told through the back channel; the certificate is revoked; then the record, its
// attributes, consents, releases and sessions are removed (DeleteCitizen). Audit records
// (pseudonymous ids) and signed documents stay as the law and the retention configuration
// say. The request is audited before anything is removed.
func (p *Page) handleDelete(w http.ResponseWriter, r *http.Request) {
	cid, lang, ok := p.post(w, r, true)
	if !ok {
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		p.message(w, r, http.StatusBadRequest, lang, "confirm", "")
		return
	}
	ctx := r.Context()
	if p.cfg.Audit != nil {
		if _, err := p.cfg.Audit.Append(ctx, audit.Event{Kind: KindDelete, Actor: audit.Citizen(cid), Details: map[string]any{"via": "me"}}); err != nil {
			p.fail(w, r, lang, err)
			return
		}
	}
	if err := p.erase(ctx, cid); err != nil {
		p.fail(w, r, lang, err)
		return
	}
	p.message(w, r, http.StatusOK, lang, "deleted", "")
}

func (p *Page) erase(ctx context.Context, cid string) error {
	rels, err := p.cfg.Store.ListReleases(ctx, cid)
	if err != nil {
		return err
	}
	cs, err := p.cfg.Store.ListConsents(ctx, cid)
	if err != nil {
		return err
	}
	for _, client := range knownClients(rels, cs) {
		if err := p.endClient(ctx, cid, client); err != nil {
			return err
		}
	}
	// The sessions go with the record: endClient told each client already, for every
	// session it had tokens in.
	if p.cfg.Revoker != nil {
		if err := p.revokeCert(ctx, cid, ca.ReasonCessationOfOperation); err != nil && !errors.Is(err, errNotYours) {
			return err
		}
	}
	return p.cfg.Store.DeleteCitizen(ctx, cid)
}
