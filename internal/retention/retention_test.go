package retention_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/retention"
	"github.com/motlan/motlan/internal/testpg"
	"github.com/motlan/motlan/internal/testsync"
	"github.com/motlan/motlan/signing"
	"github.com/motlan/motlan/signing/signingtest"
)

const day = 24 * time.Hour

// recorder is the job's Metrics, kept in memory.
type recorder struct {
	mu     sync.Mutex
	bytes  int64
	purged map[string]int
}

func (r *recorder) StoredDocumentBytes(n int64) { r.mu.Lock(); r.bytes = n; r.mu.Unlock() }
func (r *recorder) RetentionPurged(what string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.purged == nil {
		r.purged = map[string]int{}
	}
	r.purged[what] += n
}

var stores = []struct {
	name string
	open func(t *testing.T, now func() time.Time) (*sqlstore.Store, *sqlstore.Store) // two replicas on one database
}{
	{"sqlite", func(t *testing.T, now func() time.Time) (*sqlstore.Store, *sqlstore.Store) {
		s := open(t, sqlstore.DriverSQLite, filepath.Join(t.TempDir(), "motlan.db"), now)
		return s, s // SQLite serves one process
	}},
	{"postgres", func(t *testing.T, now func() time.Time) (*sqlstore.Store, *sqlstore.Store) {
		dsn := testpg.DSN(t)
		return open(t, sqlstore.DriverPostgres, dsn, now), open(t, sqlstore.DriverPostgres, dsn, now)
	}},
}

func open(t *testing.T, driver, dsn string, now func() time.Time) *sqlstore.Store {
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{Driver: driver, DSN: dsn, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// endRequest stores a request with one PDF and ends it in status at the clock's time.
func endRequest(t *testing.T, st signing.Store, clock *testsync.Clock, id string, status signing.Status) {
	t.Helper()
	r, pdfs := signingtest.Request(id, "portal", "sub", 1, clock.Now())
	if _, err := st.CreateSigningRequest(t.Context(), r, pdfs); err != nil {
		t.Fatal(err)
	}
	if status == signing.StatusSigned {
		if err := st.PutSignedPDF(t.Context(), id, 0, []byte("%PDF-1.7 signed")); err != nil {
			t.Fatal(err)
		}
	}
	if status == signing.StatusPending {
		return
	}
	if _, err := st.UpdateSigningRequest(t.Context(), id, func(old signing.Request) (signing.Request, error) {
		old.Status = status
		return old, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestJob moves the clock through a request's life after its end: unsigned originals go
// after a week, signed copies after a month, the rows after a year, pending requests
// never; each run is audited with counts only and reported to the metrics; a replica that
// finds the lock held purges nothing.
func TestJob(t *testing.T) {
	for _, b := range stores {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			start := signingtest.Start
			clock := testsync.NewClock(start)
			st, other := b.open(t, clock.Now)
			auditLog, err := audit.New(audit.Config{Store: st, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			m := &recorder{}
			job, err := retention.New(retention.Config{Store: st, Audit: auditLog, Metrics: m, Now: clock.Now, Batch: 2})
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"signed-1", "signed-2"} {
				endRequest(t, st, clock, id, signing.StatusSigned)
			}
			for _, id := range []string{"rejected", "expired", "canceled", "failed"} {
				endRequest(t, st, clock, id, signing.Status(id))
			}
			endRequest(t, st, clock, "pending", signing.StatusPending)
			before, err := job.Measure(ctx)
			if err != nil || before <= 0 || m.bytes != before {
				t.Fatalf("measure: %d (metric %d), %v", before, m.bytes, err)
			}

			// Another replica holds the lock: this one purges nothing.
			clock.Set(start.Add(8 * day))
			release, ok, err := other.TryJobLock(ctx, retention.LockName)
			if err != nil || !ok {
				t.Fatalf("lock: %v %v", ok, err)
			}
			if res, err := job.RunOnce(ctx); err != nil || res.Ran {
				t.Fatalf("ran beside the lock holder: %+v %v", res, err)
			}
			release()

			res, err := job.RunOnce(ctx)
			if err != nil || !res.Ran || res.Documents.Requests != 4 || res.Documents.Documents != 4 || res.Requests.Requests != 0 {
				t.Fatalf("after 8 days: %+v %v", res, err)
			}
			for _, id := range []string{"rejected", "expired", "canceled", "failed"} {
				if _, err := st.OriginalPDF(ctx, id, 0); !errors.Is(err, signing.ErrPurged) {
					t.Errorf("%s original after 8 days: %v", id, err)
				}
			}
			for _, id := range []string{"signed-1", "signed-2"} {
				if _, err := st.SignedPDF(ctx, id, 0); err != nil {
					t.Errorf("%s signed copy after 8 days: %v", id, err)
				}
			}
			after, _ := job.Measure(ctx)
			if after != before-res.Documents.Bytes || m.bytes != after {
				t.Errorf("stored bytes %d after freeing %d of %d (metric %d)", after, res.Documents.Bytes, before, m.bytes)
			}
			recs, err := st.ListAudit(ctx, 0, 10)
			if err != nil || len(recs) != 1 || recs[0].Kind != retention.KindPurge || recs[0].Actor != retention.Actor {
				t.Fatalf("audit: %+v %v", recs, err)
			}
			var details map[string]int64
			if err := json.Unmarshal(recs[0].Details, &details); err != nil {
				t.Fatalf("audit details %s: %v", recs[0].Details, err)
			}
			want := map[string]int64{"documents_of_requests": 4, "documents": 4, "bytes": res.Documents.Bytes, "requests": 0}
			testsync.Equal(t, "audit details (counts only)", details, want)

			clock.Set(start.Add(31 * day)) // the signed copies go, in batches of 2
			if res, err := job.RunOnce(ctx); err != nil || res.Documents.Requests != 2 || res.Documents.Documents != 2 {
				t.Fatalf("after 31 days: %+v %v", res, err)
			}
			if _, err := st.SignedPDF(ctx, "signed-1", 0); !errors.Is(err, signing.ErrPurged) {
				t.Errorf("signed copy after 31 days: %v", err)
			}
			if res, err := job.RunOnce(ctx); err != nil || res.Documents.Requests != 0 {
				t.Fatalf("a second run purged again: %+v %v", res, err)
			}

			clock.Set(start.Add(366 * day)) // the rows go; the pending request stays
			if res, err := job.RunOnce(ctx); err != nil || res.Requests.Requests != 6 {
				t.Fatalf("after 366 days: %+v %v", res, err)
			}
			if _, err := st.GetSigningRequest(ctx, "signed-1"); !errors.Is(err, signing.ErrNotFound) {
				t.Errorf("row after a year: %v", err)
			}
			if _, err := st.OriginalPDF(ctx, "pending", 0); err != nil {
				t.Errorf("pending request's original: %v", err)
			}
			if m.purged["documents"] != 6 || m.purged["requests"] != 6 {
				t.Errorf("purged counters %v", m.purged)
			}
			if n, err := audit.Verify(ctx, st); err != nil || n != 3 {
				t.Errorf("audit chain: %d records, %v", n, err)
			}
		})
	}
}

func TestNewRefusesShortRequestRetention(t *testing.T) {
	_, err := retention.New(retention.Config{Store: nil})
	if err == nil {
		t.Fatal("no store accepted")
	}
	tests := []signing.Retention{
		{Documents: 40 * day, Requests: 30 * day},
		{UnsignedDocuments: 400 * day},
		{Documents: -day},
	}
	for _, p := range tests {
		if err := p.WithDefaults().Validate(); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	if err := (signing.Retention{}).WithDefaults().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
