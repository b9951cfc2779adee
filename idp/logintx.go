package idp

import (
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

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

// sealedTx is the sealed form: the claims request as text, so its bytes come back exactly
// (json.RawMessage would be compacted and HTML-escaped).
type sealedTx struct {
	store.AuthRequest
	RawClaims string `json:"raw_claims,omitempty"`
}

// sealTransaction returns the cookie value carrying ar, or "" when it does not fit.
func (p *Provider) sealTransaction(ar store.AuthRequest, name string) (string, error) {
	rec := sealedTx{AuthRequest: ar, RawClaims: string(ar.Claims)}
	rec.Claims = nil
	v, err := p.sealJSONUntil(rec, name, ar.ExpiresAt)
	if err != nil || len(v) > maxSealedTx {
		return "", err
	}
	return v, nil
}

// loginTransaction finds the transaction an upstream callback with this state belongs
// to, checks that this browser started it, and clears the cookie. A sealed transaction
// comes with the Once that makes it single-use; a stored one is deleted here instead.
func (p *Provider) loginTransaction(w http.ResponseWriter, r *http.Request, state string) (store.AuthRequest, *store.Once, *pageError) {
	name := txCookiePrefix + state[:min(12, len(state))]
	c, err := r.Cookie(name)
	if err != nil || c.Value == "" || len(c.Value) > 4096 {
		return store.AuthRequest{}, nil, &pageError{http.StatusBadRequest, "bad_callback", "this login was started in another browser, or has expired"}
	}
	http.SetCookie(w, p.cookie(name, "", -1, p.base+PathCallback))
	p.pruneTransactions(w, r, name)
	if strings.Contains(c.Value, ".") {
		var rec sealedTx
		if err := p.openJSON(c.Value, name, &rec); err != nil {
			return store.AuthRequest{}, nil, &pageError{http.StatusBadRequest, "expired_login", "unknown or expired login"}
		}
		if subtle.ConstantTimeCompare([]byte(rec.UpstreamState), []byte(state)) != 1 {
			return store.AuthRequest{}, nil, &pageError{http.StatusBadRequest, "bad_callback", "this login was started in another browser"}
		}
		ar := rec.AuthRequest
		if rec.RawClaims != "" {
			ar.Claims = json.RawMessage(rec.RawClaims)
		}
		// openJSON refuses the cookie from its expiry rounded down to the second, so the
		// record, kept until the exact expiry, outlives every copy of it.
		return ar, &store.Once{Namespace: onceUpstreamState, Key: hashID(state), ExpiresAt: ar.ExpiresAt}, nil
	}

	ctx := r.Context()
	ar, err := p.store.GetAuthRequestByUpstreamState(ctx, state)
	if errors.Is(err, store.ErrNotFound) {
		return store.AuthRequest{}, nil, &pageError{http.StatusBadRequest, "expired_login", "unknown or expired state"}
	} else if err != nil {
		p.log.ErrorContext(ctx, "read auth request", "err", err)
		return store.AuthRequest{}, nil, &pageError{http.StatusServiceUnavailable, "unavailable", ""}
	}
	if subtle.ConstantTimeCompare([]byte(c.Value), []byte(ar.ID)) != 1 {
		return store.AuthRequest{}, nil, &pageError{http.StatusBadRequest, "bad_callback", "this login was started in another browser"}
	}
	// The transaction is single-use from here on: a replayed callback finds nothing.
	if err := p.store.DeleteAuthRequest(ctx, ar.ID); errors.Is(err, store.ErrNotFound) {
		return store.AuthRequest{}, nil, &pageError{http.StatusBadRequest, "expired_login", "this login was already completed"}
	} else if err != nil {
		p.log.ErrorContext(ctx, "delete auth request", "err", err)
		return store.AuthRequest{}, nil, &pageError{http.StatusServiceUnavailable, "unavailable", ""}
	}
	return ar, nil, nil
}

// keepTransactions is how many other logins' cookies a callback leaves in place: logins in
// other tabs go on, and abandoned ones (about 1 KB each, for AuthRequestTTL) cannot pile
// up into request headers that proxies refuse.
const keepTransactions = 3

// pruneTransactions clears all but the newest keepTransactions tx cookies other than
// this login's own.
func (p *Provider) pruneTransactions(w http.ResponseWriter, r *http.Request, own string) {
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
		http.SetCookie(w, p.cookie(o.name, "", -1, p.base+PathCallback))
	}
}
