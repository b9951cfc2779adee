package signing

import (
	"context"
	"errors"
	"time"
)

// ApprovalCitizen is the citizen a request waits for (Motlan's id, known from create),
// so the approval limits can be checked before the eID login; "" when not known.
func (s *Service) ApprovalCitizen(ctx context.Context, id string) (string, error) {
	r, err := s.cfg.Store.GetSigningRequest(ctx, id)
	if err != nil {
		return "", err
	}
	return r.CitizenID, nil
}

// Block records that the pending request's citizen cannot approve before until (over the
// approval rate limit), so the portal sees it: in the request (BlockedUntil) and in a
// callback event. A later until extends it; an earlier one, or a request that no longer
// waits, changes nothing.
func (s *Service) Block(ctx context.Context, id string, until time.Time) (Request, error) {
	r, err := s.cfg.Store.UpdateSigningRequest(ctx, id, func(old Request) (Request, error) {
		if old.Status != StatusPending {
			return old, ErrNotPending
		}
		if !until.After(old.BlockedUntil) {
			return old, errUnchanged
		}
		old.BlockedUntil = until
		return old, nil
	})
	if errors.Is(err, errUnchanged) {
		return s.cfg.Store.GetSigningRequest(ctx, id)
	}
	if err != nil {
		return Request{}, err
	}
	s.log.InfoContext(ctx, "signing request blocked by the approval limit", "request", id, "until", until)
	s.notify(r.ID)
	s.deliverAsync(r)
	return r, nil
}
