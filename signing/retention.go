package signing

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Retention defaults: what motlan serve keeps when the configuration says nothing.
const (
	DefaultDocumentRetention         = 30 * 24 * time.Hour
	DefaultUnsignedDocumentRetention = 7 * 24 * time.Hour
	DefaultRequestRetention          = 365 * 24 * time.Hour
)

// ErrPurged: the request's documents were deleted under the retention policy; the
// request itself is still known (its status, titles and hashes).
var ErrPurged = errors.New("signing: documents deleted under the retention policy")

// Retention is how long ended requests and their PDFs are kept. Every period counts from
// the request's end (the time it reached a final status, its UpdatedAt, since an ended
// request never changes again). Pending and signing requests are never purged.
type Retention struct {
	// Documents: the originals and signed copies of signed requests.
	Documents time.Duration
	// UnsignedDocuments: the originals (and any signed copy of a part) of requests that
	// ended unsigned: rejected, canceled, expired or failed.
	UnsignedDocuments time.Duration
	// Requests: the ended request rows themselves; at least the longer of the two above.
	Requests time.Duration
}

// WithDefaults fills the zero periods with the defaults.
func (p Retention) WithDefaults() Retention {
	if p.Documents == 0 {
		p.Documents = DefaultDocumentRetention
	}
	if p.UnsignedDocuments == 0 {
		p.UnsignedDocuments = DefaultUnsignedDocumentRetention
	}
	if p.Requests == 0 {
		p.Requests = DefaultRequestRetention
	}
	return p
}

// Validate refuses negative periods and request rows that would go before their PDFs.
func (p Retention) Validate() error {
	switch {
	case p.Documents < 0 || p.UnsignedDocuments < 0 || p.Requests < 0:
		return errors.New("signing: a retention period is negative")
	case p.Requests < max(p.Documents, p.UnsignedDocuments):
		return fmt.Errorf("signing: requests are kept %v, shorter than their documents (%v, unsigned %v)",
			p.Requests, p.Documents, p.UnsignedDocuments)
	}
	return nil
}

// DocumentsFor is how long after its end r's PDFs are kept.
func (p Retention) DocumentsFor(r Request) time.Duration {
	if r.Status == StatusSigned {
		return p.Documents
	}
	return p.UnsignedDocuments
}

// KeptUntil is when r's PDFs (originals and signed copies) are deleted; zero while r has
// not ended (nothing is deleted before then).
func (p Retention) KeptUntil(r Request) time.Time {
	if !r.Status.Final() {
		return time.Time{}
	}
	return r.UpdatedAt.Add(p.DocumentsFor(r))
}

// RequestKeptUntil is when r itself is deleted; zero while it has not ended.
func (p Retention) RequestKeptUntil(r Request) time.Time {
	if !r.Status.Final() {
		return time.Time{}
	}
	return r.UpdatedAt.Add(p.Requests)
}

// EndedUnsigned are the final statuses whose documents follow UnsignedDocuments.
var EndedUnsigned = []Status{StatusRejected, StatusCanceled, StatusExpired, StatusFailed}

// Purged counts what one purge removed: requests whose documents went (or, for rows,
// requests deleted), the document rows and their stored bytes.
type Purged struct {
	Requests  int
	Documents int
	Bytes     int64
}

// Add sums two counts.
func (p Purged) Add(q Purged) Purged {
	return Purged{Requests: p.Requests + q.Requests, Documents: p.Documents + q.Documents, Bytes: p.Bytes + q.Bytes}
}

// PurgeStore deletes what the retention policy no longer keeps; adapters/sqlstore
// implements it (signingtest checks it on every store). Each call is one short
// transaction over at most limit requests, so a purge never holds a long lock.
type PurgeStore interface {
	// PurgeSigningDocuments deletes the PDFs of up to limit requests in one of statuses
	// (final statuses only; others are ignored) that ended before endedBefore and still
	// have them. The requests stay; their downloads then fail with ErrPurged.
	PurgeSigningDocuments(ctx context.Context, statuses []Status, endedBefore time.Time, limit int) (Purged, error)
	// PurgeSigningRequests deletes up to limit ended requests that ended before
	// endedBefore, with any PDFs they still have.
	PurgeSigningRequests(ctx context.Context, endedBefore time.Time, limit int) (Purged, error)
	// StoredDocumentBytes is the size of every stored PDF, originals and signed copies.
	StoredDocumentBytes(ctx context.Context) (int64, error)
}

// KeptUntil is when r's PDFs are deleted under the service's retention policy (zero
// while r has not ended): what a citizen's or a portal's page shows.
func (s *Service) KeptUntil(r Request) time.Time { return s.cfg.Retention.KeptUntil(r) }

// Retention is the service's policy, defaults filled in.
func (s *Service) Retention() Retention { return s.cfg.Retention }
