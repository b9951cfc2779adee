package config

import (
	"fmt"
	"time"
)

// Retention is how long ended signing requests and their PDFs are kept, counted from the
// request's end; internal/retention purges on a schedule, one replica at a time.
type Retention struct {
	// Documents: originals and signed copies of signed requests (default 720h, 30 days).
	Documents Duration `yaml:"documents"`
	// UnsignedDocuments: originals of requests that ended unsigned (rejected, canceled,
	// expired, failed) (default 168h, 7 days).
	UnsignedDocuments Duration `yaml:"unsigned_documents"`
	// Requests: the ended request rows (status, titles, hashes) (default 8760h, 365
	// days); never shorter than either period above.
	Requests Duration `yaml:"requests"`
	// Interval between purges (default 1h).
	Interval Duration `yaml:"interval"`
}

// Retention defaults, in the units the file uses.
const (
	DefaultRetentionDocuments         = Duration(30 * 24 * time.Hour)
	DefaultRetentionUnsignedDocuments = Duration(7 * 24 * time.Hour)
	DefaultRetentionRequests          = Duration(365 * 24 * time.Hour)
	DefaultRetentionInterval          = Duration(time.Hour)
)

func (r *Retention) applyDefaults() {
	for _, f := range []struct {
		d   *Duration
		def Duration
	}{
		{&r.Documents, DefaultRetentionDocuments}, {&r.UnsignedDocuments, DefaultRetentionUnsignedDocuments},
		{&r.Requests, DefaultRetentionRequests}, {&r.Interval, DefaultRetentionInterval},
	} {
		if *f.d == 0 {
			*f.d = f.def
		}
	}
}

func (r Retention) validate() []error {
	var errs []error
	// A portal needs time to fetch the signed PDFs after the request ends.
	for name, d := range map[string]Duration{"retention.documents": r.Documents, "retention.unsigned_documents": r.UnsignedDocuments} {
		if d < Duration(time.Hour) {
			errs = append(errs, fmt.Errorf("%s: %v is shorter than 1h", name, time.Duration(d)))
		}
	}
	if r.Requests < max(r.Documents, r.UnsignedDocuments) {
		errs = append(errs, fmt.Errorf("retention.requests: %v is shorter than the documents' retention (%v)",
			time.Duration(r.Requests), time.Duration(max(r.Documents, r.UnsignedDocuments))))
	}
	if r.Interval < Duration(time.Minute) || r.Interval > Duration(24*time.Hour) {
		errs = append(errs, fmt.Errorf("retention.interval: %v is not between 1m and 24h", time.Duration(r.Interval)))
	}
	return errs
}
