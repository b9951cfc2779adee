package httpapi

import (
	"net/http"
	"strconv"

	"github.com/motlan/motlan/internal/ratelimit"
)

// approvalAllowed takes the citizen's approval of request id against the rate limits
// (per IP, per citizen); over a limit it records the block on the request and shows the
// 429 page saying when to try again. The approval scope fails closed: when the limits
// cannot be checked, the citizen is asked to retry (503).
func (a *API) approvalAllowed(w http.ResponseWriter, r *http.Request, lang, id, citizenID string) bool {
	l := a.limits
	err := l.Take(r.Context(), ratelimit.Approval, l.RequestIP(r), ratelimit.Citizen(citizenID))
	return a.approvalVerdict(w, r, lang, id, err)
}

// ProblemTooManyRequests is the problem type of a caller over a rate limit (429, with
// Retry-After).
const ProblemTooManyRequests = ProblemBase + "too-many-requests"

// createAllowed takes a signing request's creation against the rate limits; over a limit
// it sets Retry-After and returns the 429 problem. The scope fails open: creating a
// request signs nothing, the approval (which fails closed) does.
func (a *API) createAllowed(w http.ResponseWriter, r *http.Request, key ratelimit.Key) *Problem {
	return a.signingAllowed(w, r, "signing requests", key)
}

// extendAllowed takes an extension (POST /signing/v1/extend) against the client's
// signing allowance, the same counter as the requests it creates: each call may make
// dozens of downloads and spend a timestamp, so no client may call it unbounded.
func (a *API) extendAllowed(w http.ResponseWriter, r *http.Request, clientID string) *Problem {
	return a.signingAllowed(w, r, "signing requests and extensions", ratelimit.Client(clientID))
}

// verifyAllowed takes a verification against the client's verify allowance: a hostile
// PDF may cost seconds of CPU.
func (a *API) verifyAllowed(w http.ResponseWriter, r *http.Request, clientID string) *Problem {
	return a.allowed(w, r, ratelimit.Verify, "verifications", ratelimit.Client(clientID))
}

// signingAllowed takes one call of what against key in the signing scope.
func (a *API) signingAllowed(w http.ResponseWriter, r *http.Request, what string, key ratelimit.Key) *Problem {
	return a.allowed(w, r, ratelimit.Signing, what, key)
}

// allowed takes one call of what against key in scope; it fails open when the counters
// cannot be read (the 503 is for a limiter that refuses to guess).
func (a *API) allowed(w http.ResponseWriter, r *http.Request, scope ratelimit.Scope, what string, key ratelimit.Key) *Problem {
	err := a.limits.Take(r.Context(), scope, key)
	if e, ok := ratelimit.SetRetryAfter(w, err); ok {
		return problem(http.StatusTooManyRequests, ProblemTooManyRequests, "Too many requests",
			"too many "+what+" per "+string(e.Kind)+"; retry after "+strconv.Itoa(e.RetryAfterSeconds())+" s")
	}
	if err != nil {
		return problem(http.StatusServiceUnavailable, ProblemUnavailable, "Service unavailable", "try again later")
	}
	return nil
}
