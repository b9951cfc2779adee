package authflow

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/motlan/motlan/idp/claims"
	"github.com/motlan/motlan/idp/internal/web"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/session"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
)

// HandleConsent shows what a client asks for (GET) and records the citizen's answer (POST).
// The transaction must belong to this browser's session, and the form carries the
// transaction's CSRF token.
func (f *Flow) HandleConsent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !f.cfg.Pages.ReadForm(w, r, "unparsable form") {
		return
	}
	id := r.Form.Get("id")
	if id == "" || len(id) > 128 {
		f.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "expired_login", Detail: "missing id"})
		return
	}
	ar, err := f.cfg.Store.GetAuthRequest(ctx, id)
	if err != nil || !session.Same(r, ar.SessionID) {
		f.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "expired_login", Detail: "unknown, expired or foreign consent request"})
		return
	}
	client, ok := f.cfg.Clients.Get(ctx, ar.ClientID)
	if !ok {
		f.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "unknown_client", Detail: "client removed"})
		return
	}
	sess, err := f.cfg.Store.GetSession(ctx, ar.SessionID)
	if err != nil {
		f.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "expired_login", Detail: "session ended"})
		return
	}
	if r.Method == http.MethodGet {
		f.renderConsent(w, r, ar, client, sess)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(ar.CSRFToken)) != 1 {
		f.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusForbidden, Key: "bad_request", Detail: "CSRF token mismatch"})
		return
	}
	// Single use: whoever deletes it first answers; a double submit finds it gone.
	if err := f.cfg.Store.DeleteAuthRequest(ctx, ar.ID); err != nil {
		f.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "expired_login", Detail: "already answered"})
		return
	}
	switch r.PostForm.Get("action") {
	case "allow":
		// The consent and its audit record (pending, sealed into the chain later) are
		// stored in one transaction: no consent without its record.
		rec, err := f.cfg.Audit.Records(audit.Event{Kind: audit.KindConsent, Actor: audit.Citizen(sess.CitizenID), Details: map[string]any{"client": client.ID, "scopes": ar.Scopes}})
		if err == nil {
			err = f.cfg.Store.UpsertConsent(ctx, store.Consent{CitizenID: sess.CitizenID, ClientID: client.ID, Scopes: ar.Scopes, GrantedAt: f.cfg.Now()}, rec...)
		}
		if err != nil {
			f.cfg.Logger.ErrorContext(ctx, "store consent", "err", err)
			f.authorizeError(w, r, authErr(ar, oe.TemporarilyUnavailable, "the provider cannot store the consent right now"))
			return
		}
		f.issueCode(w, r, ar, sess)
	default:
		f.authorizeError(w, r, authErr(ar, oe.AccessDenied, "the citizen declined"))
	}
}

// consentItem is one line on the consent page: what the client will receive.
type consentItem struct {
	Label string
	Value string
}

func (f *Flow) renderConsent(w http.ResponseWriter, r *http.Request, ar store.AuthRequest, client store.Client, sess store.Session) {
	lang := web.PickLocale(ar.UILocales, r.URL.Query().Get("lang"))
	t := web.T(lang)
	cit, err := f.cfg.Store.GetCitizen(r.Context(), sess.CitizenID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		f.cfg.Pages.Error(w, r, &web.PageError{Status: http.StatusServiceUnavailable, Key: "unavailable", Detail: ""})
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
	f.cfg.Pages.Render(w, r, http.StatusOK, "consent", lang, map[string]any{
		"Client": client.Name, "Items": items, "ID": ar.ID, "CSRF": ar.CSRFToken,
		"Action": f.cfg.Base + PathConsent, "Switch": f.cfg.Base + PathConsent + "?id=" + ar.ID + "&lang=" + web.OtherLang(lang),
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
			if g, ok := web.T(lang)["gender."+s]; ok {
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
