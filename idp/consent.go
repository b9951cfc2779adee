package idp

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/motlan/motlan/idp/claims"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
)

// handleConsent shows what a client asks for (GET) and records the citizen's answer (POST).
// The transaction must belong to this browser's session, and the form carries the
// transaction's CSRF token.
func (p *Provider) handleConsent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxParamBytes)
	if err := r.ParseForm(); err != nil {
		p.renderError(w, r, &pageError{http.StatusBadRequest, "bad_request", "unparsable form"})
		return
	}
	id := r.Form.Get("id")
	if id == "" || len(id) > 128 {
		p.renderError(w, r, &pageError{http.StatusBadRequest, "expired_login", "missing id"})
		return
	}
	ar, err := p.store.GetAuthRequest(ctx, id)
	if err != nil || !sameSession(r, ar.SessionID) {
		p.renderError(w, r, &pageError{http.StatusBadRequest, "expired_login", "unknown, expired or foreign consent request"})
		return
	}
	client, ok := p.client(ctx, ar.ClientID)
	if !ok {
		p.renderError(w, r, &pageError{http.StatusBadRequest, "unknown_client", "client removed"})
		return
	}
	sess, err := p.store.GetSession(ctx, ar.SessionID)
	if err != nil {
		p.renderError(w, r, &pageError{http.StatusBadRequest, "expired_login", "session ended"})
		return
	}
	if r.Method == http.MethodGet {
		p.renderConsent(w, r, ar, client, sess)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(ar.CSRFToken)) != 1 {
		p.renderError(w, r, &pageError{http.StatusForbidden, "bad_request", "CSRF token mismatch"})
		return
	}
	// Single use: whoever deletes it first answers; a double submit finds it gone.
	if err := p.store.DeleteAuthRequest(ctx, ar.ID); err != nil {
		p.renderError(w, r, &pageError{http.StatusBadRequest, "expired_login", "already answered"})
		return
	}
	switch r.PostForm.Get("action") {
	case "allow":
		if err := p.store.UpsertConsent(ctx, store.Consent{CitizenID: sess.CitizenID, ClientID: client.ID, Scopes: ar.Scopes, GrantedAt: p.now()}); err != nil {
			p.log.ErrorContext(ctx, "store consent", "err", err)
			p.authorizeError(w, r, authErr(ar, oe.TemporarilyUnavailable, "the provider cannot store the consent right now"))
			return
		}
		p.cfg.Audit.Log(ctx, audit.Event{Kind: audit.KindConsent, Actor: audit.Citizen(sess.CitizenID), Details: map[string]any{"client": client.ID, "scopes": ar.Scopes}})
		p.issueCode(w, r, ar, sess)
	default:
		p.authorizeError(w, r, authErr(ar, oe.AccessDenied, "the citizen declined"))
	}
}

// consentItem is one line on the consent page: what the client will receive.
type consentItem struct {
	Label string
	Value string
}

func (p *Provider) renderConsent(w http.ResponseWriter, r *http.Request, ar store.AuthRequest, client store.Client, sess store.Session) {
	lang := pickLocale(ar.UILocales, r.URL.Query().Get("lang"))
	t := messages[lang]
	cit, err := p.store.GetCitizen(r.Context(), sess.CitizenID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.renderError(w, r, &pageError{http.StatusServiceUnavailable, "unavailable", ""})
		return
	}
	var items []consentItem
	granted := claims.Select(ar.Scopes, client.AllowedScopes, claims.Request{}, claims.UserInfo)
	for _, c := range consentOrder {
		if !slices.Contains(granted, c) {
			continue
		}
		v := displayValue(c, cit.Attributes[c].Value, lang)
		if v == "" {
			continue // nothing of this kind is on record, so nothing is shared
		}
		items = append(items, consentItem{Label: t["claim."+c], Value: v})
	}
	if slices.Contains(ar.Scopes, "offline_access") {
		items = append(items, consentItem{Label: t["claim.offline_access"]})
	}
	p.renderPage(w, r, http.StatusOK, "consent", lang, map[string]any{
		"Client": client.Name, "Items": items, "ID": ar.ID, "CSRF": ar.CSRFToken,
		"Action": p.base + PathConsent, "Switch": p.base + PathConsent + "?id=" + ar.ID + "&lang=" + otherLang(lang),
	})
}

// consentOrder is how a person reads their own record: the full name stands for its parts
// (family, middle and given names are released with it but not listed separately).
var consentOrder = []string{"name", "birthdate", "gender", "cccd", "nationality", "place_of_origin", "address", "phone_number"}

// displayValue renders an attribute for the person: dates as dd/mm/yyyy, sex in words,
// an address by its formatted line.
func displayValue(claim string, raw json.RawMessage, lang string) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch claim {
		case "birthdate":
			if d, err := time.Parse("2006-01-02", s); err == nil {
				return d.Format("02/01/2006")
			}
		case "gender":
			if g, ok := messages[lang]["gender."+s]; ok {
				return g
			}
		}
		return s
	}
	var addr struct {
		Formatted string `json:"formatted"`
	}
	if json.Unmarshal(raw, &addr) == nil && addr.Formatted != "" {
		return addr.Formatted
	}
	return string(raw)
}
