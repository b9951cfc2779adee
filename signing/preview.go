package signing

import (
	"context"
	"time"
)

// Preview is what the approval link may say before any login: who asks, for how many
// documents, and whether the request still waits. It holds nothing personal (no titles,
// no subject), since whoever holds the link sees it.
type Preview struct {
	ClientID     string
	Documents    int
	Status       Status // StatusExpired for a pending request past its ExpiresAt
	CancelReason string
	ExpiresAt    time.Time
}

// Preview reads the request behind an approval link without checking the citizen, so an
// expired, answered, cancelled or superseded link says so before the eID login.
func (s *Service) Preview(ctx context.Context, id string) (Preview, error) {
	r, err := s.cfg.Store.GetSigningRequest(ctx, id)
	if err != nil {
		return Preview{}, err
	}
	p := Preview{ClientID: r.ClientID, Documents: len(r.Documents), Status: r.Status,
		CancelReason: r.CancelReason, ExpiresAt: r.ExpiresAt}
	if p.Status == StatusPending && !s.now().Before(r.ExpiresAt) {
		p.Status = StatusExpired // the sweeper has not marked it yet
	}
	return p, nil
}
