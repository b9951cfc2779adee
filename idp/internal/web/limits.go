package web

import (
	"net/http"
	"strconv"

	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/internal/ratelimit"
)

// Limits answers requests over a rate limit: a page for the browser, a JSON error at the
// token-style endpoints. A nil Limiter limits nothing.
type Limits struct {
	Limiter *ratelimit.Limiter
	Pages   *Pages
}

// Page takes keys against the rate limits of scope; over a limit it answers with
// the 429 page (Retry-After set) and returns false. The limiter fails open for login, so
// a store error reaches here only as ratelimit.ErrUnavailable where configured closed.
func (l *Limits) Page(w http.ResponseWriter, r *http.Request, scope ratelimit.Scope, keys ...ratelimit.Key) bool {
	err := l.Limiter.Take(r.Context(), scope, keys...)
	if err == nil {
		return true
	}
	if e, ok := ratelimit.SetRetryAfter(w, err); ok {
		l.Pages.Error(w, r, &PageError{Status: http.StatusTooManyRequests, Key: "rate_limited", Detail: "too many requests per " + string(e.Kind)})
		return false
	}
	l.Pages.Error(w, r, &PageError{Status: http.StatusServiceUnavailable, Key: "unavailable"})
	return false
}

// Token is Page for the token endpoint: an RFC 6749 5.2 JSON error with
// status 429 and Retry-After over a limit, 503 when a fail-closed scope cannot count. RFC 6749 has no code for it; temporarily_unavailable says
// what a client should do (retry later), and the status and header say when.
func (l *Limits) Token(w http.ResponseWriter, r *http.Request, keys ...ratelimit.Key) bool {
	err := l.Limiter.Take(r.Context(), ratelimit.Token, keys...)
	if err == nil {
		return true
	}
	if e, ok := ratelimit.SetRetryAfter(w, err); ok {
		oe.WriteJSON(w, &oe.Error{Code: oe.TemporarilyUnavailable, Status: http.StatusTooManyRequests,
			Description: "too many requests per " + string(e.Kind) + "; retry after " + strconv.Itoa(e.RetryAfterSeconds()) + " s"}, false)
		return false
	}
	// A fail-closed scope whose store cannot count: an outage, so 503 (RFC 6749 5.2 names
	// temporarily_unavailable for it), without Retry-After, as nothing says when it ends.
	oe.WriteJSON(w, &oe.Error{Code: oe.TemporarilyUnavailable, Status: http.StatusServiceUnavailable,
		Description: "the provider cannot take requests right now"}, false)
	return false
}

// IP is the per-IP rate-limit key of r.
func (l *Limits) IP(r *http.Request) ratelimit.Key { return l.Limiter.RequestIP(r) }
