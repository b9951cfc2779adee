// Package retention is the purge job: on a schedule, one replica at a time deletes the
// PDFs and then the rows of ended signing requests that the policy (signing.Retention)
// no longer keeps, in short batches, audits what it removed (counts only) and reports
// the stored PDF bytes.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/signing"
)

// Defaults of Config.
const (
	DefaultInterval        = time.Hour
	DefaultMeasureInterval = 5 * time.Minute
	DefaultBatch           = 100
	// maxBatchesPerRun bounds one run, so a backlog is worked off over several runs
	// rather than by one replica holding the lock for long.
	maxBatchesPerRun = 1000
)

// KindPurge is the audit record of a purge that removed something.
const KindPurge = "retention.purge"

// Actor names the job in audit records.
const Actor = "system:retention"

// LockName is the job lock's name.
const LockName = "retention"

// Store is what the job needs of the store.
type Store interface {
	signing.PurgeStore
	// TryJobLock takes a lock one replica at a time holds; ok false: another holds it.
	TryJobLock(ctx context.Context, name string) (release func(), ok bool, err error)
}

// Metrics receives the job's figures; nil records nothing.
type Metrics interface {
	StoredDocumentBytes(n int64)
	RetentionPurged(what string, n int) // what: "documents" or "requests"
}

// Config configures New.
type Config struct {
	Store  Store
	Policy signing.Retention // zero periods: the defaults
	// Interval between purges (default 1h); MeasureInterval between measures of the
	// stored bytes (default 5m; also after each purge).
	Interval, MeasureInterval time.Duration
	Batch                     int // requests per transaction (default 100)
	Audit                     *audit.Logger
	Metrics                   Metrics
	Now                       func() time.Time
	Logger                    *slog.Logger
}

// Job purges by the policy. It is safe to run on every replica.
type Job struct {
	cfg Config
	log *slog.Logger
}

// New checks cfg and returns the job.
func New(cfg Config) (*Job, error) {
	if cfg.Store == nil {
		return nil, errors.New("retention: Config.Store is required")
	}
	cfg.Policy = cfg.Policy.WithDefaults()
	if err := cfg.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MeasureInterval <= 0 {
		cfg.MeasureInterval = DefaultMeasureInterval
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Job{cfg: cfg, log: cfg.Logger.With("component", "retention")}, nil
}

// Result is what one run did.
type Result struct {
	Ran       bool           // false: another replica held the lock
	Documents signing.Purged // requests whose PDFs went, those PDFs and their bytes
	Requests  signing.Purged // request rows deleted (with any PDFs they still had)
}

// RunOnce purges what is due now, if no other replica is purging.
func (j *Job) RunOnce(ctx context.Context) (Result, error) {
	release, ok, err := j.cfg.Store.TryJobLock(ctx, LockName)
	if err != nil || !ok {
		return Result{}, err
	}
	defer release()
	res := Result{Ran: true}
	now, p := j.cfg.Now(), j.cfg.Policy
	steps := []struct {
		what  string
		purge func(limit int) (signing.Purged, error)
		into  *signing.Purged
	}{
		{"signed documents", func(n int) (signing.Purged, error) {
			return j.cfg.Store.PurgeSigningDocuments(ctx, []signing.Status{signing.StatusSigned}, now.Add(-p.Documents), n)
		}, &res.Documents},
		{"unsigned documents", func(n int) (signing.Purged, error) {
			return j.cfg.Store.PurgeSigningDocuments(ctx, signing.EndedUnsigned, now.Add(-p.UnsignedDocuments), n)
		}, &res.Documents},
		{"requests", func(n int) (signing.Purged, error) {
			return j.cfg.Store.PurgeSigningRequests(ctx, now.Add(-p.Requests), n)
		}, &res.Requests},
	}
	for _, s := range steps {
		err = j.batches(ctx, s.purge, s.into)
		if err != nil {
			err = fmt.Errorf("retention: purge %s: %w", s.what, err)
			break
		}
	}
	j.record(ctx, res) // what was deleted is recorded even when a later batch failed
	return res, err
}

// batches calls purge until a batch comes back short (nothing more is due), ctx ends or
// the run's bound is reached.
func (j *Job) batches(ctx context.Context, purge func(limit int) (signing.Purged, error), into *signing.Purged) error {
	for range maxBatchesPerRun {
		if err := ctx.Err(); err != nil {
			return err
		}
		got, err := purge(j.cfg.Batch)
		*into = into.Add(got)
		if err != nil {
			return err
		}
		if got.Requests < j.cfg.Batch {
			return nil
		}
	}
	return nil
}

// record audits and counts a run that removed something: counts only, no ids.
func (j *Job) record(ctx context.Context, res Result) {
	if res.Documents.Requests == 0 && res.Requests.Requests == 0 {
		return
	}
	if m := j.cfg.Metrics; m != nil {
		m.RetentionPurged("documents", res.Documents.Documents)
		m.RetentionPurged("requests", res.Requests.Requests)
	}
	j.cfg.Audit.Log(ctx, audit.Event{Kind: KindPurge, Actor: Actor, Details: map[string]any{
		"documents_of_requests": res.Documents.Requests,
		"documents":             res.Documents.Documents + res.Requests.Documents,
		"bytes":                 res.Documents.Bytes + res.Requests.Bytes,
		"requests":              res.Requests.Requests,
	}})
	j.log.InfoContext(ctx, "retention purge", "requests_cleared", res.Documents.Requests,
		"documents", res.Documents.Documents+res.Requests.Documents, "requests_deleted", res.Requests.Requests)
}

// Measure reads the stored PDF bytes into the metrics.
func (j *Job) Measure(ctx context.Context) (int64, error) {
	n, err := j.cfg.Store.StoredDocumentBytes(ctx)
	if err != nil {
		return 0, fmt.Errorf("retention: measure: %w", err)
	}
	if j.cfg.Metrics != nil {
		j.cfg.Metrics.StoredDocumentBytes(n)
	}
	return n, nil
}

// Run purges at once and then every Interval, and measures every MeasureInterval and
// after each purge, until ctx ends.
func (j *Job) Run(ctx context.Context) {
	purge := time.NewTicker(j.cfg.Interval)
	defer purge.Stop()
	measure := time.NewTicker(j.cfg.MeasureInterval)
	defer measure.Stop()
	for {
		if _, err := j.RunOnce(ctx); err != nil && ctx.Err() == nil {
			j.log.WarnContext(ctx, "retention purge", "err", err)
		}
		for done := false; !done; {
			if _, err := j.Measure(ctx); err != nil && ctx.Err() == nil {
				j.log.WarnContext(ctx, "retention measure", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-measure.C:
			case <-purge.C:
				done = true
			}
		}
	}
}
