package authflow

import (
	"cmp"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/motlan/motlan/idp/internal/web"
	"github.com/motlan/motlan/idp/store"
)

// The login transaction (the client's request plus the broker's upstream state, nonce
// and PKCE verifier) rides to the eID and back in the browser's tx cookie, sealed with
// AES-256-GCM and bound to the cookie's name: on SQLite each commit costs more than the
// login's other work, and this saves two. The login stays single-use through a Once on
// the upstream state, recorded in the login's own transaction. A request too large for a
// cookie (a big claims request) is stored instead, and the cookie only names it.

// maxSealedTx keeps the cookie, with its name and attributes, under browsers' 4096 bytes.
const maxSealedTx = 3500

// onceUpstreamState is the namespace of used upstream states among the single-use records.
const onceUpstreamState = "motlan:upstream-state"

// sealedTx is the JSON form earlier builds sealed (see decodeTx): the claims request as
// text, so its bytes came back exactly (json.RawMessage would be compacted and HTML-escaped).
type sealedTx struct {
	store.AuthRequest
	RawClaims string `json:"raw_claims,omitempty"`
}

// sealTransaction returns the cookie value carrying ar, or "" when it does not fit.
func (f *Flow) sealTransaction(ar store.AuthRequest, name string) string {
	v := f.cfg.Seal.SealUntil(encodeTx(ar), name, ar.ExpiresAt)
	if len(v) > maxSealedTx {
		return ""
	}
	return v
}

// loginTransaction finds the transaction an upstream callback with this state belongs
// to, checks that this browser started it, and clears the cookie. A sealed transaction
// comes with the Once that makes it single-use; a stored one is deleted here instead.
func (f *Flow) loginTransaction(w http.ResponseWriter, r *http.Request, state string) (store.AuthRequest, *store.Once, *web.PageError) {
	name := txCookiePrefix + state[:min(12, len(state))]
	c, err := r.Cookie(name)
	if err != nil || c.Value == "" || len(c.Value) > 4096 {
		return store.AuthRequest{}, nil, &web.PageError{Status: http.StatusBadRequest, Key: "bad_callback", Detail: "this login was started in another browser, or has expired"}
	}
	http.SetCookie(w, f.cfg.Cookies.Cookie(name, "", -1, f.cfg.Base+PathCallback))
	f.pruneTransactions(w, r, name)
	if strings.Contains(c.Value, ".") {
		pt, err := f.cfg.Seal.Open(c.Value, name)
		if err != nil {
			return store.AuthRequest{}, nil, &web.PageError{Status: http.StatusBadRequest, Key: "expired_login", Detail: "unknown or expired login"}
		}
		ar, err := decodeTx(pt)
		if err != nil { // sealed by this provider's key, so a bug or a key shared with another program
			f.cfg.Logger.ErrorContext(r.Context(), "open login transaction", "err", err)
			return store.AuthRequest{}, nil, &web.PageError{Status: http.StatusBadRequest, Key: "expired_login", Detail: "unknown or expired login"}
		}
		if subtle.ConstantTimeCompare([]byte(ar.UpstreamState), []byte(state)) != 1 {
			return store.AuthRequest{}, nil, &web.PageError{Status: http.StatusBadRequest, Key: "bad_callback", Detail: "this login was started in another browser"}
		}
		// Open refuses the cookie from its expiry rounded down to the second, so the
		// record, kept until the exact expiry, outlives every copy of it.
		// The key leads with the expiry, so that marks made one after another sort together
		// (see web.HashID).
		return ar, &store.Once{Namespace: onceUpstreamState, Key: web.HashIDAt(ar.ExpiresAt, state), ExpiresAt: ar.ExpiresAt}, nil
	}

	ctx := r.Context()
	ar, err := f.cfg.Store.GetAuthRequestByUpstreamState(ctx, state)
	if errors.Is(err, store.ErrNotFound) {
		return store.AuthRequest{}, nil, &web.PageError{Status: http.StatusBadRequest, Key: "expired_login", Detail: "unknown or expired state"}
	} else if err != nil {
		f.cfg.Logger.ErrorContext(ctx, "read auth request", "err", err)
		return store.AuthRequest{}, nil, &web.PageError{Status: http.StatusServiceUnavailable, Key: "unavailable", Detail: ""}
	}
	if subtle.ConstantTimeCompare([]byte(c.Value), []byte(ar.ID)) != 1 {
		return store.AuthRequest{}, nil, &web.PageError{Status: http.StatusBadRequest, Key: "bad_callback", Detail: "this login was started in another browser"}
	}
	// The transaction is single-use from here on: a replayed callback finds nothing.
	if err := f.cfg.Store.DeleteAuthRequest(ctx, ar.ID); errors.Is(err, store.ErrNotFound) {
		return store.AuthRequest{}, nil, &web.PageError{Status: http.StatusBadRequest, Key: "expired_login", Detail: "this login was already completed"}
	} else if err != nil {
		f.cfg.Logger.ErrorContext(ctx, "delete auth request", "err", err)
		return store.AuthRequest{}, nil, &web.PageError{Status: http.StatusServiceUnavailable, Key: "unavailable", Detail: ""}
	}
	return ar, nil, nil
}

// keepTransactions is how many other logins' cookies a callback leaves in place: logins in
// other tabs go on, and abandoned ones (about 0.5 KB each, for AuthRequestTTL) cannot pile
// up into request headers that proxies refuse.
const keepTransactions = 3

// pruneTransactions clears all but the newest keepTransactions tx cookies other than
// this login's own.
func (f *Flow) pruneTransactions(w http.ResponseWriter, r *http.Request, own string) {
	type tx struct {
		name string
		exp  int64 // from the sealed value's clear prefix; 0 for a stored transaction's ID
	}
	var others []tx
	for _, c := range r.Cookies() {
		if c.Name == own || !strings.HasPrefix(c.Name, txCookiePrefix) {
			continue
		}
		exp, _, _ := strings.Cut(c.Value, ".")
		n, _ := strconv.ParseInt(exp, 10, 64)
		others = append(others, tx{c.Name, n})
	}
	if len(others) <= keepTransactions {
		return
	}
	slices.SortFunc(others, func(a, b tx) int { return cmp.Compare(b.exp, a.exp) })
	for _, o := range others[keepTransactions:] {
		http.SetCookie(w, f.cfg.Cookies.Cookie(o.name, "", -1, f.cfg.Base+PathCallback))
	}
}
