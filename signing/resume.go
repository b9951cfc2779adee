package signing

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Resume finishes requests left signing whose lease has run out (a crashed replica, a
// passing fault) or that this replica's earlier process held (a restart), and reports how
// many it ran; up to SignParallel requests at once. Safe to call on every replica at
// once: each request is taken by one run.
func (s *Service) Resume(ctx context.Context) (int, error) {
	rs, err := s.cfg.Store.ListSigningRequestsByStatus(ctx, StatusSigning, 100)
	if err != nil {
		return 0, err
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		n      int
		failed error
	)
	sem := make(chan struct{}, s.cfg.SignParallel)
	for _, r := range rs {
		if !s.claimable(r, s.now()) {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || s.draining.Load() {
			break
		}
		claimed, worker, err := s.claim(ctx, r.ID)
		if err != nil || claimed.Status != StatusSigning {
			<-sem
			if err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
				break
			}
			continue
		}
		s.log.InfoContext(ctx, "signing resumed", "request", r.ID, "attempt", claimed.Attempts)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// No activation: a backend that needs the citizen's PIN or OTP fails the request.
			_, err := s.sign(ctx, claimed, worker, Activation{})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = err
			} else {
				n++
			}
		}()
	}
	wg.Wait()
	if failed == nil {
		failed = ctx.Err()
	}
	return n, failed
}

// claim takes request id over for a new run of this service when it is still claimable;
// the request comes back failed once it has had MaxAttempts runs, and with status
// signing when this run holds it. Another run's claim is no error: the request comes
// back unchanged, not signing for this worker (status "").
func (s *Service) claim(ctx context.Context, id string) (Request, string, error) {
	now := s.now()
	worker := s.newWorker()
	claimed, err := s.cfg.Store.UpdateSigningRequest(ctx, id, func(old Request) (Request, error) {
		if !s.claimable(old, now) {
			return old, errUnchanged
		}
		if old.Attempts >= MaxAttempts {
			old.Status, old.Failure = StatusFailed, reasonIncomplete
			old.Worker, old.LeaseUntil = "", time.Time{}
			return old, nil
		}
		old.Worker, old.LeaseUntil, old.Attempts = worker, now.Add(s.cfg.Lease), old.Attempts+1
		return old, nil
	})
	switch {
	case errors.Is(err, errUnchanged), errors.Is(err, ErrFinal):
		return Request{}, "", nil
	case err != nil:
		return Request{}, "", err
	case claimed.Status == StatusFailed:
		s.log.WarnContext(ctx, "signing gave up", "request", id, "attempts", claimed.Attempts)
		s.ended(claimed)
	}
	return claimed, worker, nil
}
