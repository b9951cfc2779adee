package portal

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Serve serves the portal on addr until ctx ends, then shuts it down gracefully.
func (p *Portal) Serve(ctx context.Context, addr string, log *slog.Logger) error {
	// WriteTimeout above the status endpoint's long poll (25 s).
	srv := &http.Server{Addr: addr, Handler: p, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 90 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("demo portal listening", "addr", addr, "issuer", p.cfg.Issuer)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
