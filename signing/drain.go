package signing

import (
	"context"
	"sync"
	"time"
)

// Draining, for a replica's graceful stop: long-polls are answered at once with the
// request as it is, signing runs in progress may finish until the caller's deadline, and
// those still running then are handed back (stopped, their lease released) so that
// another replica's Resume, or this one's after a restart, finishes them at once.

// handBackGrace bounds how long Drain waits for stopped runs to record their hand-back.
const handBackGrace = 10 * time.Second

// runTracker counts the signing runs in progress and can stop them all.
type runTracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed while no run is in progress
	// stopAll ends every run's context, present and future (Drain's hand-back).
	stopCtx context.Context
	stopAll context.CancelFunc
}

func (t *runTracker) init() {
	t.idle = make(chan struct{})
	close(t.idle)
	t.stopCtx, t.stopAll = context.WithCancel(context.Background())
}

// start registers a run; its context ends with ctx or when the runs are handed back.
func (t *runTracker) start(ctx context.Context) (context.Context, func()) {
	t.mu.Lock()
	if t.n == 0 {
		t.idle = make(chan struct{})
	}
	t.n++
	t.mu.Unlock()
	rctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(t.stopCtx, cancel)
	return rctx, func() {
		stop()
		cancel()
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.n--; t.n == 0 {
			close(t.idle)
		}
	}
}

func (t *runTracker) done() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.idle
}

// BeginDrain answers every long-poll in progress, and every later one at once, with the
// request as it is, and stops Resume from taking up more requests. It returns at once.
func (s *Service) BeginDrain() {
	s.draining.Store(true)
	s.wake("")
}

// Drain is BeginDrain, then waits until the signing runs in progress have finished or
// ctx ends; runs still going then are stopped and release their requests for Resume
// (handedBack is how many were stopped). Call it before closing the store.
func (s *Service) Drain(ctx context.Context) (handedBack int, err error) {
	s.BeginDrain()
	select {
	case <-s.runs.done():
		return 0, nil
	case <-ctx.Done():
	}
	s.runs.mu.Lock()
	handedBack = s.runs.n
	s.runs.mu.Unlock()
	s.runs.stopAll()
	t := time.NewTimer(handBackGrace)
	defer t.Stop()
	select {
	case <-s.runs.done():
		return handedBack, nil
	case <-t.C:
		return handedBack, context.DeadlineExceeded
	}
}

// Draining reports whether BeginDrain was called.
func (s *Service) Draining() bool { return s.draining.Load() }
