package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/metrics"
	"github.com/motlan/motlan/internal/retention"
	"github.com/motlan/motlan/signing"
)

// retentionPolicy maps the configuration to the signing service's policy (zero: defaults).
func retentionPolicy(c config.Retention) signing.Retention {
	return signing.Retention{Documents: time.Duration(c.Documents),
		UnsignedDocuments: time.Duration(c.UnsignedDocuments), Requests: time.Duration(c.Requests)}
}

// startRetention runs the purge job on every replica (the store's job lock lets one purge
// at a time); it stops, and waits for a run in progress, before the store closes.
func (r *Running) startRetention(c config.Retention, st *sqlstore.Store, auditLog *audit.Logger, m *metrics.Metrics, log *slog.Logger) error {
	job, err := retention.New(retention.Config{Store: st, Policy: retentionPolicy(c), Interval: time.Duration(c.Interval),
		Audit: auditLog, Metrics: m, Logger: log})
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { job.Run(ctx); close(done) }()
	r.closers = append(r.closers, func() error { stop(); <-done; return nil })
	return nil
}
