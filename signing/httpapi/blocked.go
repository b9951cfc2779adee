package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/motlan/motlan/internal/ratelimit"
	"github.com/motlan/motlan/signing"
)

// approvalBlocker is what the approval limits need of the service beyond Service: the
// citizen a request waits for, and recording that they are blocked (package signing
// implements it).
type approvalBlocker interface {
	ApprovalCitizen(ctx context.Context, id string) (string, error)
	Block(ctx context.Context, id string, until time.Time) (signing.Request, error)
}

var _ approvalBlocker = (*signing.Service)(nil)

// approvalOpenAllowed checks the approval limits when the link is opened, before the
// citizen is sent to the eID login: a citizen over the limit learns it now, not after a
// full login. The request's citizen is known from create; per IP counts in any case.
func (a *API) approvalOpenAllowed(w http.ResponseWriter, r *http.Request, lang, id string) bool {
	cid := ""
	if b, ok := a.svc.(approvalBlocker); ok {
		cid, _ = b.ApprovalCitizen(r.Context(), id) // an unknown request gets its 404 after login
	}
	l := a.limits
	err := l.Take(r.Context(), ratelimit.Approval, l.RequestIP(r), ratelimit.Citizen(cid))
	return a.approvalVerdict(w, r, lang, id, err)
}

// approvalVerdict answers a Take of the approval scope: true to go on; over a limit, the
// block recorded on the request (status and callback) and the 429 page with the time to
// come back; when the limits cannot be checked, the 503 page (the scope fails closed).
func (a *API) approvalVerdict(w http.ResponseWriter, r *http.Request, lang, id string, err error) bool {
	if err == nil {
		return true
	}
	e, ok := ratelimit.SetRetryAfter(w, err)
	if !ok {
		a.message(w, r, http.StatusServiceUnavailable, lang, "busy", "", "")
		return false
	}
	until := a.now().Add(time.Duration(e.RetryAfterSeconds()) * time.Second)
	if b, ok := a.svc.(approvalBlocker); ok && e.Kind == ratelimit.PerCitizen {
		if _, err := b.Block(r.Context(), id, until); err != nil {
			a.log.WarnContext(r.Context(), "recording an approval block", "request", id, "err", err)
		}
	}
	t := messages[lang]
	v := pageView{Heading: t["err.title"], Note: fmt.Sprintf(blockedNote[lang], formatTime(until, lang)),
		LinkURL: a.signPath(id) + "?lang=" + lang, LinkText: t["reopen"]}
	a.renderPage(w, r, http.StatusTooManyRequests, "message", lang, "", v)
	return false
}

// blockedNote tells a citizen over the approval limit when to come back.
var blockedNote = map[string]string{
	"vi": "Bạn đã mở hoặc ký quá nhiều yêu cầu trong thời gian ngắn. Vui lòng mở lại yêu cầu này sau %s. Yêu cầu vẫn chờ bạn ký.",
	"en": "You opened or signed too many requests in a short time. Please open this request again after %s. It still waits for your signature.",
}
