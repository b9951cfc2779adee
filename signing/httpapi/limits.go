package httpapi

import (
	"net/http"

	"github.com/motlan/motlan/internal/ratelimit"
)

// approvalAllowed takes the citizen's approval against the rate limits (per IP, per
// citizen); over a limit it shows the 429 page with Retry-After. The approval scope fails
// closed: when the limits cannot be checked, the citizen is asked to retry (503).
func (a *API) approvalAllowed(w http.ResponseWriter, r *http.Request, lang, citizenID string) bool {
	l := a.limits
	err := l.Take(r.Context(), ratelimit.Approval, l.RequestIP(r), ratelimit.Citizen(citizenID))
	if err == nil {
		return true
	}
	if _, ok := ratelimit.SetRetryAfter(w, err); ok {
		a.message(w, r, http.StatusTooManyRequests, lang, "rate_limited", "", "")
		return false
	}
	a.message(w, r, http.StatusServiceUnavailable, lang, "busy", "", "")
	return false
}
