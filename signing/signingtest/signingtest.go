// Package signingtest is the conformance suite every signing.Store passes, in the manner
// of idp/store/storetest: RunTests for behaviour, RunConcurrencyTests for the atomicity
// guarantees the service relies on (one approval wins, one signed PDF per document).
package signingtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testsync"

	"github.com/motlan/motlan/signing"
)

// Clock is a controllable time source; pass its Now to the store.
type Clock = testsync.Clock

// NewClock returns a Clock showing t.
var NewClock = testsync.NewClock

// NewStore returns an empty store that reads time from clock; it registers its own
// cleanup with t.
type NewStore func(t *testing.T, clock *Clock) signing.Store

// Start is the suite's "now", at millisecond precision so round trips compare exactly.
var Start = time.Date(2026, 3, 1, 8, 30, 15, 123_000_000, time.UTC)

var ict = time.FixedZone("ICT", 7*3600)

type env struct {
	t     *testing.T
	ctx   context.Context
	s     signing.Store
	clock *Clock
}

func setup(t *testing.T, newStore NewStore) *env {
	clock := NewClock(Start)
	return &env{t: t, ctx: t.Context(), s: newStore(t, clock), clock: clock}
}

// RunTests checks a store's behaviour; each test gets a fresh store.
func RunTests(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		run  func(e *env)
	}{
		{"RoundTrip", testRoundTrip},
		{"DuplicateID", testDuplicateID},
		{"Idempotency", testIdempotency},
		{"Update", testUpdate},
		{"UpdateKeepsIdentity", testUpdateKeepsIdentity},
		{"UpdateFinal", testUpdateFinal},
		{"SignedPDFWriteOnce", testSignedWriteOnce},
		{"Expire", testExpire},
		{"List", testList},
		{"ListByStatus", testListByStatus},
		{"CitizenCert", testCitizenCert},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(setup(t, newStore)) })
	}
}

// Request returns a pending request of client for subject with n documents whose titles
// carry Vietnamese letters (ĩ and Ĩ among them); Documents and PDFs match.
func Request(id, client, subject string, n int, now time.Time) (signing.Request, [][]byte) {
	r := signing.Request{
		ID: id, ClientID: client, Subject: subject,
		Reason: "Ký hồ sơ đăng ký khai sinh (số 7)", Location: "Sầm Sơn, Thanh Hóa",
		Level: signing.LevelBT, Status: signing.StatusPending,
		CallbackURL: "https://portal.example.vn/cb?x=1",
		ReturnURL:   "https://portal.example.vn/ho-so/7?ký=1",
		Fingerprint: "fp-" + id,
		CreatedAt:   now, ExpiresAt: now.Add(15 * time.Minute),
	}
	var pdfs [][]byte
	for i := range n {
		pdf := fmt.Appendf(nil, "%%PDF-1.7\n%% document %d of %s\n%%%%EOF\n", i, id)
		pdf = append(pdf, 0, 0xff, 0x80) // binary bytes survive
		pdfs = append(pdfs, pdf)
		d := signing.Document{
			Index: i, Title: fmt.Sprintf("Tờ khai Ĩnh nghĩa vụ – bản %d", i+1), Pages: i + 1,
			Size: int64(len(pdf)), SHA256: fmt.Sprintf("%064x", i+1),
		}
		if i == 0 {
			d.Placement = &signing.Placement{Page: 1, Rect: [4]float64{300, 60, 560.5, 140}}
		}
		r.Documents = append(r.Documents, d)
	}
	return r, pdfs
}

// The suite's checks (testsync's, under short names).
var (
	equal   = testsync.Equal
	must    = testsync.Must
	wantErr = testsync.WantErr
)

func (e *env) create(r signing.Request, pdfs [][]byte) signing.Request {
	e.t.Helper()
	got, err := e.s.CreateSigningRequest(e.ctx, r, pdfs)
	must(e.t, "create "+r.ID, err)
	return got
}

func testRoundTrip(e *env) {
	r, pdfs := Request("req-1", "portal", "sub-1", 2, Start.In(ict))
	r.IdempotencyKey = "key-1"
	created := e.create(r, pdfs)
	if created.Version != 1 {
		e.t.Fatalf("version %d after create, want 1", created.Version)
	}
	got, err := e.s.GetSigningRequest(e.ctx, "req-1")
	must(e.t, "get", err)
	want := r
	want.Version = 1
	want.CreatedAt, want.ExpiresAt, want.UpdatedAt = Start, Start.Add(15*time.Minute), Start
	equal(e.t, "get after create", got, want)
	equal(e.t, "create's answer", created, want)
	if got.CreatedAt.Location() != time.UTC {
		e.t.Fatalf("CreatedAt in %v, want UTC", got.CreatedAt.Location())
	}
	for i, pdf := range pdfs {
		b, err := e.s.OriginalPDF(e.ctx, "req-1", i)
		must(e.t, "original", err)
		if !bytes.Equal(b, pdf) {
			e.t.Fatalf("original %d differs", i)
		}
		_, err = e.s.SignedPDF(e.ctx, "req-1", i)
		wantErr(e.t, "signed before signing", err, signing.ErrNotFound)
	}
	_, err = e.s.OriginalPDF(e.ctx, "req-1", 2)
	wantErr(e.t, "original out of range", err, signing.ErrNotFound)
	_, err = e.s.GetSigningRequest(e.ctx, "nope")
	wantErr(e.t, "get unknown", err, signing.ErrNotFound)
}

func testDuplicateID(e *env) {
	r, pdfs := Request("dup", "portal", "sub", 1, Start)
	e.create(r, pdfs)
	_, err := e.s.CreateSigningRequest(e.ctx, r, pdfs)
	wantErr(e.t, "second create with the same id", err, signing.ErrConflict)
}

func testIdempotency(e *env) {
	r, pdfs := Request("idem-1", "portal", "sub", 1, Start)
	r.IdempotencyKey = "K"
	first := e.create(r, pdfs)

	retry, pdfs2 := Request("idem-2", "portal", "sub", 1, Start)
	retry.IdempotencyKey, retry.Fingerprint = "K", r.Fingerprint
	got, err := e.s.CreateSigningRequest(e.ctx, retry, pdfs2)
	must(e.t, "retry with the same content", err)
	equal(e.t, "retry answers the first request", got, first)
	_, err = e.s.GetSigningRequest(e.ctx, "idem-2")
	wantErr(e.t, "the retry stored nothing", err, signing.ErrNotFound)

	other, pdfs3 := Request("idem-3", "portal", "sub", 1, Start)
	other.IdempotencyKey = "K" // other fingerprint
	got, err = e.s.CreateSigningRequest(e.ctx, other, pdfs3)
	wantErr(e.t, "same key, other content", err, signing.ErrConflict)
	if got.ID != "idem-1" {
		e.t.Fatalf("conflict returned %q, want the existing request", got.ID)
	}

	// Keys are per client; no key never collides.
	otherClient, pdfs4 := Request("idem-4", "other-portal", "sub", 1, Start)
	otherClient.IdempotencyKey = "K"
	e.create(otherClient, pdfs4)
	for _, id := range []string{"nokey-1", "nokey-2"} {
		n, p := Request(id, "portal", "sub", 1, Start)
		e.create(n, p)
	}
}

func testUpdate(e *env) {
	r, pdfs := Request("upd", "portal", "sub", 2, Start)
	e.create(r, pdfs)
	e.clock.Advance(time.Second)
	signedAt := Start.Add(2 * time.Second).In(ict)
	got, err := e.s.UpdateSigningRequest(e.ctx, "upd", func(old signing.Request) (signing.Request, error) {
		if old.Status != signing.StatusPending || old.Version != 1 {
			return old, fmt.Errorf("fn saw %s v%d", old.Status, old.Version)
		}
		old.Status, old.CitizenID = signing.StatusSigning, "citizen-9"
		old.ApprovedHashes = []string{old.Documents[0].SHA256, old.Documents[1].SHA256}
		old.Worker, old.LeaseUntil, old.Attempts = "w1", Start.Add(time.Minute), 1
		old.BlockedUntil = Start.Add(90 * time.Second).In(ict)
		old.Documents[1].SignedAt, old.Documents[1].SignedSHA = signedAt, "abc"
		old.SignTime, old.AuthorizedDigests = Start.Add(-time.Second), []string{"d0", "d1"}
		old.Grant, old.GrantExpires = []byte{1, 0, 2}, Start.Add(5*time.Minute)
		return old, nil
	})
	must(e.t, "update", err)
	if got.Version != 2 || !got.UpdatedAt.Equal(Start.Add(time.Second)) {
		e.t.Fatalf("version %d updated %v, want 2 and the store's now", got.Version, got.UpdatedAt)
	}
	read, err := e.s.GetSigningRequest(e.ctx, "upd")
	must(e.t, "get", err)
	equal(e.t, "get after update", read, got)
	if !read.Documents[1].SignedAt.Equal(signedAt) || read.Worker != "w1" || read.Attempts != 1 || len(read.ApprovedHashes) != 2 ||
		!read.SignTime.Equal(Start.Add(-time.Second)) || len(read.AuthorizedDigests) != 2 || !bytes.Equal(read.Grant, []byte{1, 0, 2}) ||
		!read.GrantExpires.Equal(Start.Add(5*time.Minute)) || !read.BlockedUntil.Equal(Start.Add(90*time.Second)) {
		e.t.Fatalf("update lost fields: %+v", read)
	}

	boom := errors.New("boom")
	_, err = e.s.UpdateSigningRequest(e.ctx, "upd", func(old signing.Request) (signing.Request, error) {
		old.Status = signing.StatusFailed
		return old, boom
	})
	wantErr(e.t, "fn error", err, boom)
	again, _ := e.s.GetSigningRequest(e.ctx, "upd")
	equal(e.t, "a failed fn changes nothing", again, read)

	_, err = e.s.UpdateSigningRequest(e.ctx, "nope", func(old signing.Request) (signing.Request, error) { return old, nil })
	wantErr(e.t, "update unknown", err, signing.ErrNotFound)
}

func testUpdateKeepsIdentity(e *env) {
	r, pdfs := Request("ident", "portal", "sub", 1, Start)
	r.IdempotencyKey = "k"
	e.create(r, pdfs)
	got, err := e.s.UpdateSigningRequest(e.ctx, "ident", func(old signing.Request) (signing.Request, error) {
		old.ID, old.ClientID, old.Subject, old.IdempotencyKey, old.Fingerprint = "x", "x", "x", "x", "x"
		old.CreatedAt = Start.Add(time.Hour)
		old.Documents[0].SHA256, old.Documents[0].Title = "evil", "evil"
		old.Version = 99
		return old, nil
	})
	must(e.t, "update", err)
	if got.ID != "ident" || got.ClientID != "portal" || got.Subject != "sub" || got.IdempotencyKey != "k" ||
		got.Fingerprint != r.Fingerprint || !got.CreatedAt.Equal(Start) || got.Documents[0].SHA256 != r.Documents[0].SHA256 ||
		got.Documents[0].Title != r.Documents[0].Title || got.Version != 2 {
		e.t.Fatalf("identity changed: %+v", got)
	}
	_, err = e.s.UpdateSigningRequest(e.ctx, "ident", func(old signing.Request) (signing.Request, error) {
		old.Documents = append(old.Documents, old.Documents[0])
		return old, nil
	})
	if err == nil {
		e.t.Fatal("adding a document was accepted")
	}
}

func testUpdateFinal(e *env) {
	r, pdfs := Request("fin", "portal", "sub", 1, Start)
	e.create(r, pdfs)
	_, err := e.s.UpdateSigningRequest(e.ctx, "fin", func(old signing.Request) (signing.Request, error) {
		old.Status, old.CancelReason = signing.StatusCanceled, signing.CancelSuperseded
		old.ReturnURL = "https://elsewhere.example/" // identity: an update cannot change it
		return old, nil
	})
	must(e.t, "cancel", err)
	if got, err := e.s.GetSigningRequest(e.ctx, "fin"); err != nil || got.CancelReason != signing.CancelSuperseded ||
		got.ReturnURL != "https://portal.example.vn/ho-so/7?ký=1" {
		e.t.Fatalf("after cancel: reason %q return %q (%v), want %q and the return URL given at create",
			got.CancelReason, got.ReturnURL, err, signing.CancelSuperseded)
	}
	called := false
	_, err = e.s.UpdateSigningRequest(e.ctx, "fin", func(old signing.Request) (signing.Request, error) {
		called = true
		old.Status = signing.StatusSigning
		return old, nil
	})
	wantErr(e.t, "update of a final request", err, signing.ErrFinal)
	if called {
		e.t.Fatal("fn ran on a final request")
	}
}

func testSignedWriteOnce(e *env) {
	r, pdfs := Request("once", "portal", "sub", 2, Start)
	e.create(r, pdfs)
	first := []byte("%PDF-1.7 signed, first")
	must(e.t, "put", e.s.PutSignedPDF(e.ctx, "once", 1, first))
	err := e.s.PutSignedPDF(e.ctx, "once", 1, []byte("%PDF-1.7 signed, second"))
	wantErr(e.t, "second put", err, signing.ErrConflict)
	got, err := e.s.SignedPDF(e.ctx, "once", 1)
	must(e.t, "signed", err)
	if !bytes.Equal(got, first) {
		e.t.Fatal("the first signed PDF was not kept")
	}
	_, err = e.s.SignedPDF(e.ctx, "once", 0)
	wantErr(e.t, "other document unsigned", err, signing.ErrNotFound)
	wantErr(e.t, "put out of range", e.s.PutSignedPDF(e.ctx, "once", 5, first), signing.ErrNotFound)
	wantErr(e.t, "put unknown request", e.s.PutSignedPDF(e.ctx, "nope", 0, first), signing.ErrNotFound)
	orig, err := e.s.OriginalPDF(e.ctx, "once", 1)
	must(e.t, "original", err)
	if !bytes.Equal(orig, pdfs[1]) {
		e.t.Fatal("the original changed")
	}
}

func testExpire(e *env) {
	due, p1 := Request("due", "portal", "sub", 1, Start)
	e.create(due, p1)
	later, p2 := Request("later", "portal", "sub", 1, Start)
	later.ExpiresAt = Start.Add(time.Hour)
	e.create(later, p2)
	busy, p3 := Request("busy", "portal", "sub", 1, Start)
	busy.Status = signing.StatusSigning
	e.create(busy, p3)

	ids, err := e.s.ExpireSigningRequests(e.ctx, Start.Add(15*time.Minute-time.Millisecond))
	must(e.t, "expire early", err)
	if len(ids) != 0 {
		e.t.Fatalf("expired %v before time", ids)
	}
	e.clock.Advance(20 * time.Minute)
	ids, err = e.s.ExpireSigningRequests(e.ctx, e.clock.Now())
	must(e.t, "expire", err)
	equal(e.t, "expired ids", ids, []string{"due"})
	got, _ := e.s.GetSigningRequest(e.ctx, "due")
	if got.Status != signing.StatusExpired || got.Version != 2 || !got.UpdatedAt.Equal(e.clock.Now()) {
		e.t.Fatalf("after expiry: %s v%d at %v", got.Status, got.Version, got.UpdatedAt)
	}
	for _, id := range []string{"later", "busy"} {
		if g, _ := e.s.GetSigningRequest(e.ctx, id); g.Status.Final() {
			e.t.Fatalf("%s expired", id)
		}
	}
	ids, _ = e.s.ExpireSigningRequests(e.ctx, e.clock.Now())
	if len(ids) != 0 {
		e.t.Fatalf("expired again: %v", ids)
	}
}

func testList(e *env) {
	for i, c := range []struct{ id, client, sub string }{
		{"l1", "portal", "alice"}, {"l2", "portal", "bob"}, {"l3", "portal", "alice"},
		{"l4", "other", "alice"}, {"l5", "portal", "alice"},
	} {
		r, p := Request(c.id, c.client, c.sub, 1, Start.Add(time.Duration(i)*time.Second))
		e.create(r, p)
	}
	ids := func(rs []signing.Request) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	got, err := e.s.ListSigningRequests(e.ctx, "portal", "alice", 10)
	must(e.t, "list", err)
	equal(e.t, "alice at portal, newest first", ids(got), []string{"l5", "l3", "l1"})
	got, _ = e.s.ListSigningRequests(e.ctx, "portal", "alice", 2)
	equal(e.t, "limit", ids(got), []string{"l5", "l3"})
	got, _ = e.s.ListSigningRequests(e.ctx, "portal", "", 10)
	equal(e.t, "every subject", ids(got), []string{"l5", "l3", "l2", "l1"})
	got, _ = e.s.ListSigningRequests(e.ctx, "nobody", "alice", 10)
	if len(got) != 0 {
		e.t.Fatalf("unknown client listed %v", ids(got))
	}
	full, _ := e.s.ListSigningRequests(e.ctx, "other", "alice", 10)
	want, _ := e.s.GetSigningRequest(e.ctx, "l4")
	equal(e.t, "a listed request is whole", full, []signing.Request{want})
}

func testListByStatus(e *env) {
	for i, st := range []signing.Status{signing.StatusSigning, signing.StatusPending, signing.StatusSigning} {
		r, p := Request(fmt.Sprintf("s%d", i), "portal", "sub", 1, Start)
		r.Status = st
		e.create(r, p)
	}
	got, err := e.s.ListSigningRequestsByStatus(e.ctx, signing.StatusSigning, 10)
	must(e.t, "list by status", err)
	if len(got) != 2 || got[0].Status != signing.StatusSigning || got[1].Status != signing.StatusSigning {
		e.t.Fatalf("got %d requests", len(got))
	}
	got, _ = e.s.ListSigningRequestsByStatus(e.ctx, signing.StatusSigning, 1)
	if len(got) != 1 {
		e.t.Fatalf("limit 1 gave %d", len(got))
	}
}

func testCitizenCert(e *env) {
	_, err := e.s.CitizenCert(e.ctx, "c1")
	wantErr(e.t, "no cert yet", err, signing.ErrNotFound)
	c := signing.CitizenCert{
		CitizenID: "c1", Serial: "0a1b", Certificate: []byte{0x30, 1, 2, 0xff},
		Chain: [][]byte{{0x30, 3}, {0x30, 4, 0}}, NotAfter: Start.Add(48 * time.Hour), CreatedAt: Start,
	}
	must(e.t, "put first", e.s.PutCitizenCert(e.ctx, c, ""))
	got, err := e.s.CitizenCert(e.ctx, "c1")
	must(e.t, "get", err)
	equal(e.t, "round trip", got, c)

	racer := c
	racer.Serial = "ffff"
	wantErr(e.t, "a second first put", e.s.PutCitizenCert(e.ctx, racer, ""), signing.ErrConflict)
	wantErr(e.t, "replace with a stale serial", e.s.PutCitizenCert(e.ctx, racer, "9999"), signing.ErrConflict)
	got, _ = e.s.CitizenCert(e.ctx, "c1")
	equal(e.t, "unchanged after conflicts", got, c)

	next := c
	next.Serial, next.Chain, next.NotAfter = "0c", nil, Start.Add(96*time.Hour)
	must(e.t, "replace", e.s.PutCitizenCert(e.ctx, next, "0a1b"))
	got, _ = e.s.CitizenCert(e.ctx, "c1")
	equal(e.t, "after replace", got, next)
}

// Racers is how many goroutines race for one record.
const Racers = 32

// RunConcurrencyTests checks the atomicity guarantees under real contention.
func RunConcurrencyTests(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		run  func(e *env)
	}{
		{"ApproveOnce", testConcurrentApprove},
		{"PutSignedPDFOnce", testConcurrentPut},
		{"IdempotentCreate", testConcurrentIdempotent},
		{"UpdatesLoseNothing", testConcurrentUpdates},
		{"FirstCertWins", testConcurrentCert},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(setup(t, newStore)) })
	}
}

// allSucceed fails the test on any racer's error.
func allSucceed(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("racer %d: %v", i, err)
		}
	}
}

// testConcurrentApprove is the service's approval CAS: pending → signing, once.
func testConcurrentApprove(e *env) {
	r, p := Request("race", "portal", "sub", 2, Start)
	e.create(r, p)
	errs := testsync.Race(Racers, func(i int) error {
		_, err := e.s.UpdateSigningRequest(e.ctx, "race", func(old signing.Request) (signing.Request, error) {
			if old.Status != signing.StatusPending {
				return old, signing.ErrNotPending
			}
			old.Status, old.Worker = signing.StatusSigning, fmt.Sprint("w", i)
			return old, nil
		})
		return err
	})
	testsync.OneWinner(e.t, "approve one request", errs, signing.ErrNotPending)
	got, _ := e.s.GetSigningRequest(e.ctx, "race")
	if got.Version != 2 || got.Status != signing.StatusSigning {
		e.t.Fatalf("after the race: %s v%d", got.Status, got.Version)
	}
}

func testConcurrentPut(e *env) {
	r, p := Request("put", "portal", "sub", 1, Start)
	e.create(r, p)
	errs := testsync.Race(Racers, func(i int) error {
		return e.s.PutSignedPDF(e.ctx, "put", 0, fmt.Appendf(nil, "%%PDF signed by racer %d", i))
	})
	testsync.OneWinner(e.t, "put one signed PDF", errs, signing.ErrConflict)
}

func testConcurrentIdempotent(e *env) {
	got := make([]signing.Request, Racers)
	errs := testsync.Race(Racers, func(i int) error {
		r, p := Request(fmt.Sprint("idem-", i), "portal", "sub", 1, Start)
		r.IdempotencyKey, r.Fingerprint = "same-key", "same-content"
		var err error
		got[i], err = e.s.CreateSigningRequest(e.ctx, r, p)
		return err
	})
	allSucceed(e.t, errs)
	for i := range got {
		if got[i].ID != got[0].ID {
			e.t.Fatalf("racer %d got %q, racer 0 %q", i, got[i].ID, got[0].ID)
		}
	}
	all, _ := e.s.ListSigningRequests(e.ctx, "portal", "sub", 100)
	if len(all) != 1 {
		e.t.Fatalf("%d requests stored, want 1", len(all))
	}
}

func testConcurrentUpdates(e *env) {
	r, p := Request("many", "portal", "sub", 1, Start)
	e.create(r, p)
	errs := testsync.Race(Racers, func(i int) error {
		_, err := e.s.UpdateSigningRequest(e.ctx, "many", func(old signing.Request) (signing.Request, error) {
			old.Attempts++
			return old, nil
		})
		return err
	})
	allSucceed(e.t, errs)
	got, _ := e.s.GetSigningRequest(e.ctx, "many")
	if got.Attempts != Racers || got.Version != Racers+1 {
		e.t.Fatalf("attempts %d version %d, want %d and %d", got.Attempts, got.Version, Racers, Racers+1)
	}
}

func testConcurrentCert(e *env) {
	errs := testsync.Race(Racers, func(i int) error {
		return e.s.PutCitizenCert(e.ctx, signing.CitizenCert{
			CitizenID: "c", Serial: fmt.Sprintf("%x", i+1), Certificate: []byte{0x30, byte(i)}, NotAfter: Start.Add(time.Hour),
		}, "")
	})
	testsync.OneWinner(e.t, "store the first certificate", errs, signing.ErrConflict)
}
