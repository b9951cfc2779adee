package signing

import (
	"context"
	"math/rand/v2"
	"time"
)

// Long-poll wake-ups. A waiter reads its request once when it starts and then sleeps
// until the request changes: a change made by this process wakes it at once (notify), a
// change made by another replica through the Notifier. Waking costs one store read per
// woken waiter; waiting costs none, whatever the number of waiters.

// Notifier carries "request id changed" between the replicas that share a store, so that
// a long-poll held by one replica wakes when another changes its request.
// adapters/sqlstore implements it with PostgreSQL LISTEN/NOTIFY; without one (SQLite, a
// single process) only this process's changes wake waiters.
type Notifier interface {
	// Publish announces that request id changed. The Service calls it after the change
	// is committed. Best effort: a lost announcement delays a remote waiter to its
	// safety re-check (SafetyRecheck) or the end of its wait.
	Publish(ctx context.Context, id string) error
	// Subscribe calls fn with the id of each request other processes announce, and
	// with "" when announcements may have been lost (the listening connection was
	// re-established): every waiter then re-reads once. It runs until ctx ends.
	Subscribe(ctx context.Context, fn func(id string)) error
}

// SafetyRecheck bounds how long a waiter trusts that no announcement was lost: a wait
// longer than this re-reads its request once per period (jittered down by up to a third,
// so that many waiters spread their reads). It is longer than the HTTP API's long-poll
// cap (60 s), whose waits therefore end first and cost no re-read: 10,000 phones re-read
// every 30 s would be 333 store queries a second.
const SafetyRecheck = 90 * time.Second

// publishTimeout bounds an announcement, so that a slow Notifier cannot hold up a change.
const publishTimeout = 2 * time.Second

// waiter is one request's wake-up: ch is closed at the next change. n counts the waits
// using it; the last to leave deletes it, so the map holds only requests being waited on.
type waiter struct {
	ch chan struct{}
	n  int
}

// watch registers a wait on id and returns its wake-up channel and the function that
// ends the wait.
func (s *Service) watch(id string) (<-chan struct{}, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.waiters[id]
	if !ok {
		w = &waiter{ch: make(chan struct{})}
		s.waiters[id] = w
	}
	w.n++
	return w.ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		w.n--
		if w.n == 0 && s.waiters[id] == w {
			delete(s.waiters, id)
		}
	}
}

// Waiting is the number of requests with a wait in progress (the size of the waiter
// map, for tests and metrics).
func (s *Service) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiters)
}

// wake wakes the waits on id; "" wakes every wait. The entry is removed: the woken
// waits re-register if they wait on.
func (s *Service) wake(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.known.forget(id)
	if id == "" {
		for k, w := range s.waiters {
			close(w.ch)
			delete(s.waiters, k)
		}
		return
	}
	if w, ok := s.waiters[id]; ok {
		close(w.ch)
		delete(s.waiters, id)
	}
}

// notify wakes this process's waits on id and announces the change to other replicas.
func (s *Service) notify(id string) {
	s.wake(id)
	if s.cfg.Notifier == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if err := s.cfg.Notifier.Publish(ctx, id); err != nil {
		s.log.Warn("signing: announcing a change to other replicas failed; their waiters see it at their next read", "request", id, "err", err)
	}
}

// subscribe feeds other replicas' announcements to wake until the Service closes.
func (s *Service) subscribe() {
	if s.cfg.Notifier == nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.cfg.Notifier.Subscribe(s.bg, s.wake); err != nil && s.bg.Err() == nil {
			s.log.Error("signing: change notifications stopped; long-polls see other replicas' changes only at their safety re-check", "err", err)
		}
	}()
}

// Wait long-polls: it returns as soon as the request's Version exceeds sinceVersion (a
// negative sinceVersion: the version Wait reads first, so a caller need not read the
// request before waiting), at once for an ended request, or after max with the request
// as it is then. It reads the store when it starts (unless the request is known at
// sinceVersion, known.go) and when the request changes (see Notifier), not while nothing
// happens. While the Service drains (BeginDrain) it answers
// at once with the request as it is.
func (s *Service) Wait(ctx context.Context, clientID, id string, sinceVersion int64, max time.Duration) (Request, error) {
	deadline := time.NewTimer(max)
	defer deadline.Stop()
	// The safety re-check fires no earlier than SafetyRecheck less a third, so a wait
	// no longer than that (every wait of the HTTP API, capped at 60 s) gets no re-check
	// timer: it could never fire, and each live timer lengthens the runtime's timer heap,
	// which the runtime scans whole at times (10,000 long-polls, 10,000 timers fewer).
	var recheck *time.Timer
	var recheckC <-chan time.Time // nil: never ready
	if max > SafetyRecheck-SafetyRecheck/3 {
		recheck = time.NewTimer(jittered(SafetyRecheck))
		defer recheck.Stop()
		recheckC = recheck.C
	}
	trust := true // false after a safety re-check: that one reads the store
	for {
		ch, done := s.watch(id)
		r, readAt, err := s.current(ctx, clientID, id, sinceVersion, trust)
		if err == nil && sinceVersion < 0 {
			sinceVersion = r.Version
		}
		if err != nil || r.Version > sinceVersion || r.Status.Final() || max <= 0 || s.draining.Load() {
			done()
			return r, err
		}
		select {
		case <-ch:
		case <-recheckC:
			recheck.Reset(jittered(SafetyRecheck))
			trust = false
		case <-deadline.C:
			// No change was announced since r was read (or it would be closed): r is
			// current, but for expiry, which is a matter of time, not of a change. The
			// client's re-poll may start from it (known.go).
			changed := !s.rememberUnlessChanged(r, readAt, ch)
			done()
			if changed { // a change raced the deadline
				return s.Get(ctx, clientID, id)
			}
			return s.expireIfDue(ctx, r)
		case <-ctx.Done():
			done()
			return r, ctx.Err()
		}
		done()
	}
}

// jittered is d less up to a third, at random.
func jittered(d time.Duration) time.Duration {
	return d - rand.N(d/3)
}
