package signing

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Leases: a signing run holds its request under a short lease (ServiceConfig.Lease),
// renewed every third of it while the run lives, so another replica's Resume takes over
// soon after the run's process dies. A run's worker name says which replica and which
// life of that replica's process started it (ReplicaID|life|run): a replica restarted
// after a crash recognises the runs of its earlier life and takes them back at once,
// without waiting for their leases to run out. Two processes must therefore never share
// a ReplicaID; a wrong one costs at most a second signature that is never stored
// (PutSignedPDF is write-once and every write checks the lease).

// LeaseRenewer is a Store that can move a lease without a new version (adapters/sqlstore),
// so renewals wake no long-poll; without it the service renews through
// UpdateSigningRequest.
type LeaseRenewer interface {
	// RenewSigningLease sets LeaseUntil of the request worker holds (status signing);
	// ErrConflict when worker no longer holds it.
	RenewSigningLease(ctx context.Context, id, worker string, until time.Time) error
}

// newWorker names a new signing run of this process.
func (s *Service) newWorker() string {
	if s.cfg.ReplicaID == "" {
		return newID()
	}
	return s.cfg.ReplicaID + "|" + s.life + "|" + newID()
}

// earlierLife reports whether worker is a run of this replica's earlier process, which
// cannot be running any more.
func (s *Service) earlierLife(worker string) bool {
	if s.cfg.ReplicaID == "" {
		return false
	}
	own := s.cfg.ReplicaID + "|"
	return strings.HasPrefix(worker, own) && !strings.HasPrefix(worker, own+s.life+"|")
}

// keepLease renews worker's lease on id every third of the lease until stop is called. A
// lost lease cancels the returned context, so the run stops before its next write.
func (s *Service) keepLease(ctx context.Context, id, worker string) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(max(s.cfg.Lease/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := s.renewLease(ctx, id, worker)
			if errors.Is(err, errLeaseLost) || errors.Is(err, ErrFinal) {
				s.log.WarnContext(ctx, "signing: lease lost while signing", "request", id)
				cancel()
				return
			}
			if err != nil && ctx.Err() == nil {
				// The store is unreachable: the run's own next write fails too.
				s.log.WarnContext(ctx, "signing: renewing the lease", "request", id, "err", err)
			}
		}
	}()
	return ctx, func() {
		close(done)
		<-stopped
		cancel()
	}
}

func (s *Service) renewLease(ctx context.Context, id, worker string) error {
	until := s.now().Add(s.cfg.Lease)
	if lr, ok := s.cfg.Store.(LeaseRenewer); ok {
		err := lr.RenewSigningLease(ctx, id, worker, until)
		if errors.Is(err, ErrConflict) {
			return errLeaseLost
		}
		return err
	}
	_, err := s.holding(ctx, id, worker, func(old Request) Request {
		old.LeaseUntil = until
		return old
	})
	return err
}

// claimable reports whether Resume may take r over now: its lease has run out, or it was
// held by this replica's earlier life.
func (s *Service) claimable(r Request, now time.Time) bool {
	return r.Status == StatusSigning && (!now.Before(r.LeaseUntil) || s.earlierLife(r.Worker))
}
