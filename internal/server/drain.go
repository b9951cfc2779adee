package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/motlan/motlan/internal/config"
)

// drainer is the signing service as a graceful stop uses it (signing/drain.go).
type drainer interface {
	BeginDrain()
	Drain(ctx context.Context) (handedBack int, err error)
}

// Shutdown stops Motlan gracefully, within shutdown_timeout: /readyz turns 503 at once;
// long-polls, open and new, are answered with the request as it is, while the listeners
// keep serving; signing runs in progress finish, or when four fifths of the time have
// passed are handed back (their lease released) for another replica's Resume or this
// one's after a restart; then the public listeners stop, waiting for the requests in
// progress (the handlers of handed-back approvals answer "signing"), then the admin
// listener, the background loops and, last, the store. A deadline reached is not an
// error: the work left was handed back.
func (r *Running) Shutdown() error {
	timeout := r.shutdownTimeout
	if timeout <= 0 {
		timeout = time.Duration(config.DefaultShutdownTimeout)
	}
	start := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(timeout))
	defer cancel()
	if r.ready != nil {
		r.ready.draining.Store(true)
	}
	if r.drainer != nil {
		runs, cancelRuns := context.WithDeadline(ctx, start.Add(timeout*4/5))
		handedBack, err := r.drainer.Drain(runs)
		cancelRuns()
		if handedBack > 0 || err != nil {
			r.log.Warn("shutdown: signing runs handed back for resume", "runs", handedBack, "shutdown_timeout", timeout, "err", err)
		}
	}
	errs := r.stopServers(ctx, false)
	errs = append(errs, r.stopServers(ctx, true)...) // the admin listener last
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i]())
	}
	r.log.Info("shutdown complete", "took", time.Since(start).Round(time.Millisecond))
	return errors.Join(errs...)
}

// stopServers shuts down the public servers (admin false) or the admin listener (true);
// one still busy at ctx's end is closed, cutting what is left (logged).
func (r *Running) stopServers(ctx context.Context, admin bool) []error {
	var errs []error
	for _, s := range r.servers {
		if (s == r.admin) != admin {
			continue
		}
		err := s.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			r.log.Warn("shutdown: requests still open at the deadline; closing their connections", "addr", s.Addr)
			err = s.Close()
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errs
}
