package audit

import (
	"context"
	"fmt"
	"time"
)

// Sealing pending records. Acts that must never happen without their record (a login)
// write it in their own transaction as a pending record; Run seals pending records into
// the chain in batches, so that those acts never wait for the log's lock. Every replica
// runs it: the store's lock on the head serializes them.

// Default pacing of Run.
const (
	// SealEvery is how often Run looks for pending records when nothing kicks it.
	SealEvery = time.Second
	// sealGap is the least time between two seals: a kick during it is served after it,
	// with everything that arrived meanwhile, in one transaction.
	sealGap = 50 * time.Millisecond
)

// SealPending seals every pending record, maxBatch at a time, and returns how many.
func (l *Logger) SealPending(ctx context.Context) (int, error) {
	if l == nil {
		return 0, nil
	}
	total := 0
	for {
		out, err := l.st.SealPendingAudit(ctx, maxBatch, Seal)
		total += len(out)
		if err != nil {
			return total, fmt.Errorf("audit: seal pending records: %w", err)
		}
		if len(out) < maxBatch {
			return total, nil
		}
	}
}

// Kick asks Run to seal soon: an act wrote pending records. It never blocks.
func (l *Logger) Kick() {
	if l == nil {
		return
	}
	select {
	case l.kick <- struct{}{}:
	default: // a kick is already waiting
	}
}

// Run seals pending records when kicked and every every (zero: SealEvery) until ctx ends,
// then once more, so records of acts that finished before a drain are sealed.
func (l *Logger) Run(ctx context.Context, every time.Duration) {
	if l == nil {
		return
	}
	if every <= 0 {
		every = SealEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := l.SealPending(ctx); err != nil && ctx.Err() == nil {
			l.log.ErrorContext(ctx, "audit seal failed; the records stay pending", "err", err)
		}
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if _, err := l.SealPending(fctx); err != nil {
				l.log.ErrorContext(fctx, "audit seal at shutdown failed; the records stay pending", "err", err)
			}
			return
		case <-l.kick:
		case <-t.C:
		}
		select {
		case <-ctx.Done():
		case <-time.After(sealGap):
		}
	}
}
