package authflow

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/clientauth"
	"github.com/motlan/motlan/idp/dpop"
	"github.com/motlan/motlan/idp/internal/web"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
)

// PathPAR is the pushed authorization request endpoint (RFC 9126).
const PathPAR = "/par"

// requestURIPrefix starts every request_uri /par hands out (RFC 9126 2.2).
const requestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// parLifetime is how long a pushed request may be redeemed; short, as RFC 9126 2.2 asks.
const parLifetime = 60 * time.Second

// HandlePAR takes a pushed authorization request (RFC 9126 2): the client authenticates
// as at the token endpoint, the parameters are validated exactly as /authorize validates
// them, and the validated request is stored once under a fresh request_uri.
func (f *Flow) HandlePAR(w http.ResponseWriter, r *http.Request) {
	if e := clientauth.ParseForm(r); e != nil {
		if e.Status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "POST")
			e = &oe.Error{Code: oe.InvalidRequest, Description: "the PAR endpoint takes POST", Status: e.Status}
		}
		oe.WriteJSON(w, e, false)
		return
	}
	ctx := r.Context()
	client, basic, e := f.cfg.ClientAuth.Authenticate(ctx, r)
	if e != nil {
		oe.WriteJSON(w, e, basic)
		return
	}
	// A DPoP proof at /par binds the code to its key, as dpop_jkt does (RFC 9449 10.1).
	f.cfg.DPoP.OfferNonce(w, r)
	jkt, e := f.cfg.DPoP.Endpoint(r, f.cfg.Issuer+PathPAR, false)
	if e != nil {
		oe.WriteJSON(w, e, basic)
		return
	}
	ar, _, err := f.checkAuthorize(ctx, r.PostForm, &client)
	if err != nil {
		oe.WriteJSON(w, parError(err), basic)
		return
	}
	if jkt != "" && ar.DPoPJKT != "" && ar.DPoPJKT != jkt {
		oe.WriteJSON(w, oe.New(dpop.ErrCodeInvalidProof, "dpop_jkt does not match the key of the DPoP proof"), basic)
		return
	} else if jkt != "" {
		ar.DPoPJKT = jkt
	}
	now := f.cfg.Now()
	ar.CreatedAt, ar.ExpiresAt = now, now.Add(parLifetime)
	id := rand.Text() + rand.Text()
	if err := f.cfg.Store.CreatePushedRequest(ctx, id, ar, ar.ExpiresAt); err != nil {
		f.cfg.Logger.ErrorContext(ctx, "par", "client_id", client.ID, "err", err)
		oe.WriteJSON(w, oe.As(err), basic)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(struct {
		RequestURI string `json:"request_uri"`
		ExpiresIn  int    `json:"expires_in"`
	}{requestURIPrefix + id, int(parLifetime / time.Second)})
}

// parError turns checkAuthorize's error into the JSON error /par answers with (RFC 9126
// 2.3): a redirect error keeps its code; a page error, which at /authorize is shown rather
// than redirected, becomes invalid_request.
func parError(err error) *oe.Error {
	var re *redirectError
	if errors.As(err, &re) {
		return re.err
	}
	var pe *web.PageError
	if errors.As(err, &pe) {
		return oe.New(oe.InvalidRequest, "%s", pe.Detail)
	}
	return oe.As(err)
}

// redeemPushed answers /authorize with a request_uri from /par (RFC 9126 4): the pushed
// request is consumed for the client named by client_id and used as it was validated; the
// request's other parameters are ignored. A request_uri that cannot be redeemed is shown
// as a page: its redirect URI is unknown, so nothing can be sent to the client.
func (f *Flow) redeemPushed(ctx context.Context, form url.Values) (store.AuthRequest, store.Client, error) {
	if len(form["client_id"]) > 1 {
		return store.AuthRequest{}, store.Client{}, &web.PageError{Status: http.StatusBadRequest, Key: "bad_request", Detail: "client_id repeated"}
	}
	clientID := form.Get("client_id")
	client, ok := f.cfg.Clients.Get(ctx, clientID)
	if clientID == "" || !ok {
		return store.AuthRequest{}, store.Client{}, &web.PageError{Status: http.StatusBadRequest, Key: "unknown_client", Detail: "unknown client_id"}
	}
	id := strings.TrimPrefix(form.Get("request_uri"), requestURIPrefix)
	ar, err := f.cfg.Store.ConsumePushedRequest(ctx, id, client.ID)
	if errors.Is(err, store.ErrNotFound) {
		return ar, client, &web.PageError{Status: http.StatusBadRequest, Key: "bad_request", Detail: "invalid_request_uri: request_uri is unknown, used, expired or not this client's"}
	}
	if err != nil {
		return store.AuthRequest{}, client, err
	}
	// The client's registration may have changed since the push.
	if !f.redirectAllowed(client, ar.RedirectURI) {
		return store.AuthRequest{}, client, &web.PageError{Status: http.StatusBadRequest, Key: "bad_redirect", Detail: "redirect_uri is not registered for this client"}
	}
	// Fresh handles for this login transaction.
	ar.ID, ar.CSRFToken = rand.Text()+rand.Text(), rand.Text()
	return ar, client, nil
}
