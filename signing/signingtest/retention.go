package signingtest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/motlan/motlan/signing"
)

// PurgeStore is a signing.Store that also purges by the retention policy.
type PurgeStore interface {
	signing.Store
	signing.PurgeStore
}

// NewPurgeStore returns an empty PurgeStore reading time from clock.
type NewPurgeStore func(t *testing.T, clock *Clock) PurgeStore

// RunRetentionTests checks what a purge deletes at which age, and what it keeps: pending
// and signing requests always, ended ones until their period has passed.
func RunRetentionTests(t *testing.T, newStore NewPurgeStore) {
	tests := []struct {
		name string
		run  func(r *retEnv)
	}{
		{"DocumentsByAge", testPurgeDocumentsByAge},
		{"Batches", testPurgeBatches},
		{"Requests", testPurgeRequests},
		{"NeverPendingOrSigning", testPurgeNeverLive},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := NewClock(Start)
			s := newStore(t, clock)
			tc.run(&retEnv{env: &env{t: t, ctx: t.Context(), s: s, clock: clock}, p: s})
		})
	}
}

type retEnv struct {
	*env
	p PurgeStore
}

// stored is what the store holds of one request's PDFs.
type stored struct {
	originals [][]byte
	signed    [][]byte
}

func (s stored) bytes() int64 {
	var n int64
	for _, b := range append(append([][]byte{}, s.originals...), s.signed...) {
		n += int64(len(b))
	}
	return n
}

// end creates a request with n documents now and ends it in status at the clock's time
// then; a signed request gets its signed copies first.
func (e *retEnv) end(id string, n int, status signing.Status) stored {
	e.t.Helper()
	r, pdfs := Request(id, "portal", "sub", n, e.clock.Now())
	e.create(r, pdfs)
	st := stored{originals: pdfs}
	if status == signing.StatusPending {
		return st
	}
	if status == signing.StatusSigned {
		for i := range n {
			b := append([]byte("%PDF-1.7 signed "), pdfs[i]...)
			must(e.t, "put signed "+id, e.s.PutSignedPDF(e.ctx, id, i, b))
			st.signed = append(st.signed, b)
		}
	}
	_, err := e.s.UpdateSigningRequest(e.ctx, id, func(old signing.Request) (signing.Request, error) {
		old.Status = status
		return old, nil
	})
	must(e.t, "end "+id, err)
	return st
}

func (e *retEnv) storedBytes() int64 {
	e.t.Helper()
	n, err := e.p.StoredDocumentBytes(e.ctx)
	must(e.t, "stored bytes", err)
	return n
}

// documentsKept checks that every PDF of id is still served as stored.
func (e *retEnv) documentsKept(id string, st stored) {
	e.t.Helper()
	for i, want := range st.originals {
		got, err := e.s.OriginalPDF(e.ctx, id, i)
		must(e.t, "original of "+id, err)
		if !bytes.Equal(got, want) {
			e.t.Fatalf("original %d of %s changed", i, id)
		}
	}
	for i, want := range st.signed {
		got, err := e.s.SignedPDF(e.ctx, id, i)
		must(e.t, "signed copy of "+id, err)
		if !bytes.Equal(got, want) {
			e.t.Fatalf("signed copy %d of %s changed", i, id)
		}
	}
}

// documentsPurged checks that id is still known but its PDFs answer ErrPurged.
func (e *retEnv) documentsPurged(id string, n int) {
	e.t.Helper()
	r, err := e.s.GetSigningRequest(e.ctx, id)
	must(e.t, "get purged "+id, err)
	if len(r.Documents) != n {
		e.t.Fatalf("%s lost its document list: %d", id, len(r.Documents))
	}
	for i := range n {
		_, err := e.s.OriginalPDF(e.ctx, id, i)
		wantErr(e.t, "original of purged "+id, err, signing.ErrPurged)
		_, err = e.s.SignedPDF(e.ctx, id, i)
		wantErr(e.t, "signed copy of purged "+id, err, signing.ErrPurged)
	}
}

const day = 24 * time.Hour

func testPurgeDocumentsByAge(e *retEnv) {
	ctx := context.Background()
	signed := e.end("signed", 2, signing.StatusSigned)
	unsigned := map[string]stored{}
	for _, st := range signing.EndedUnsigned {
		unsigned[string(st)] = e.end(string(st), 1, st)
	}
	e.clock.Advance(time.Hour)
	young := e.end("young-rejected", 1, signing.StatusRejected) // ended an hour later
	total := signed.bytes() + young.bytes()
	for _, st := range unsigned {
		total += st.bytes()
	}
	equal(e.t, "stored bytes", e.storedBytes(), total)

	// Ended exactly 7 days ago is not "before" the cutoff: kept.
	e.clock.Set(Start.Add(7 * day))
	got, err := e.p.PurgeSigningDocuments(ctx, signing.EndedUnsigned, e.clock.Now().Add(-7*day), 100)
	must(e.t, "purge at 7 days", err)
	equal(e.t, "purged at exactly 7 days", got, signing.Purged{})

	e.clock.Set(Start.Add(7*day + time.Minute))
	got, err = e.p.PurgeSigningDocuments(ctx, signing.EndedUnsigned, e.clock.Now().Add(-7*day), 100)
	must(e.t, "purge unsigned", err)
	var freed int64
	for _, st := range unsigned {
		freed += st.bytes()
	}
	equal(e.t, "purged unsigned", got, signing.Purged{Requests: 4, Documents: 4, Bytes: freed})
	for id := range unsigned {
		e.documentsPurged(id, 1)
	}
	e.documentsKept("signed", signed)
	e.documentsKept("young-rejected", young)
	equal(e.t, "stored bytes after the unsigned purge", e.storedBytes(), total-freed)

	// A second purge at the same time finds nothing more.
	got, err = e.p.PurgeSigningDocuments(ctx, signing.EndedUnsigned, e.clock.Now().Add(-7*day), 100)
	must(e.t, "purge again", err)
	equal(e.t, "purged again", got, signing.Purged{})

	// Signed documents follow their own, longer period.
	got, err = e.p.PurgeSigningDocuments(ctx, []signing.Status{signing.StatusSigned}, e.clock.Now().Add(-30*day), 100)
	must(e.t, "purge signed early", err)
	equal(e.t, "signed purged early", got, signing.Purged{})
	e.clock.Set(Start.Add(30*day + time.Minute))
	got, err = e.p.PurgeSigningDocuments(ctx, []signing.Status{signing.StatusSigned}, e.clock.Now().Add(-30*day), 100)
	must(e.t, "purge signed", err)
	equal(e.t, "purged signed", got, signing.Purged{Requests: 1, Documents: 2, Bytes: signed.bytes()})
	e.documentsPurged("signed", 2)
	e.documentsKept("young-rejected", young) // its own purge was not asked for
	equal(e.t, "stored bytes at the end", e.storedBytes(), young.bytes())
	_, err = e.s.SignedPDF(ctx, "no-such-request", 0)
	wantErr(e.t, "unknown request", err, signing.ErrNotFound)
}

func testPurgeBatches(e *retEnv) {
	ctx := context.Background()
	for _, id := range []string{"b1", "b2", "b3"} {
		e.end(id, 1, signing.StatusExpired)
		e.clock.Advance(time.Minute)
	}
	e.clock.Set(Start.Add(10 * day))
	for i, want := range []string{"b1", "b2", "b3"} { // oldest first, one per call
		got, err := e.p.PurgeSigningDocuments(ctx, signing.EndedUnsigned, e.clock.Now().Add(-7*day), 1)
		must(e.t, "batch", err)
		if got.Requests != 1 {
			e.t.Fatalf("batch %d purged %+v, want one request", i, got)
		}
		e.documentsPurged(want, 1)
		for _, later := range []string{"b1", "b2", "b3"}[i+1:] {
			if _, err := e.s.OriginalPDF(ctx, later, 0); err != nil {
				e.t.Fatalf("batch %d purged %s too: %v", i, later, err)
			}
		}
	}
	got, err := e.p.PurgeSigningDocuments(ctx, signing.EndedUnsigned, e.clock.Now().Add(-7*day), 1)
	must(e.t, "last batch", err)
	equal(e.t, "nothing left", got, signing.Purged{})
}

func testPurgeRequests(e *retEnv) {
	ctx := context.Background()
	old := e.end("old-signed", 2, signing.StatusSigned) // documents still stored: they go with it
	e.end("old-canceled", 1, signing.StatusCanceled)
	_, err := e.p.PurgeSigningDocuments(ctx, signing.EndedUnsigned, Start.Add(time.Millisecond), 10)
	must(e.t, "purge the canceled one's documents", err)
	e.clock.Set(Start.Add(300 * day))
	recent := e.end("recent", 1, signing.StatusSigned)
	pending := e.end("pending", 1, signing.StatusPending)

	e.clock.Set(Start.Add(365*day + time.Minute))
	got, err := e.p.PurgeSigningRequests(ctx, e.clock.Now().Add(-365*day), 100)
	must(e.t, "purge requests", err)
	equal(e.t, "purged requests", got, signing.Purged{Requests: 2, Documents: 2, Bytes: old.bytes()})
	for _, id := range []string{"old-signed", "old-canceled"} {
		_, err := e.s.GetSigningRequest(ctx, id)
		wantErr(e.t, "get deleted "+id, err, signing.ErrNotFound)
		_, err = e.s.SignedPDF(ctx, id, 0)
		wantErr(e.t, "signed copy of deleted "+id, err, signing.ErrNotFound)
	}
	e.documentsKept("recent", recent)
	e.documentsKept("pending", pending)
	equal(e.t, "stored bytes", e.storedBytes(), recent.bytes()+pending.bytes())
	// The idempotency key of a deleted request no longer binds; the client may reuse it.
	r, pdfs := Request("old-signed", "portal", "sub", 1, e.clock.Now())
	e.create(r, pdfs)
}

func testPurgeNeverLive(e *retEnv) {
	ctx := context.Background()
	pending := e.end("p", 1, signing.StatusPending)
	r, pdfs := Request("s", "portal", "sub", 1, Start)
	r.Status = signing.StatusSigning
	e.create(r, pdfs)
	signingDocs := stored{originals: pdfs}
	e.clock.Set(Start.Add(3650 * day))
	far := e.clock.Now()
	all := []signing.Status{signing.StatusPending, signing.StatusSigning, signing.StatusSigned, signing.StatusFailed}
	got, err := e.p.PurgeSigningDocuments(ctx, all, far, 100)
	must(e.t, "purge documents", err)
	equal(e.t, "live documents purged", got, signing.Purged{})
	got, err = e.p.PurgeSigningRequests(ctx, far, 100)
	must(e.t, "purge requests", err)
	equal(e.t, "live requests purged", got, signing.Purged{})
	e.documentsKept("p", pending)
	e.documentsKept("s", signingDocs)
}
