package csc_test

import (
	"context"
	"crypto"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/csc"
	"github.com/motlan/motlan/internal/testrssp"
	"github.com/motlan/motlan/internal/testsync"
	"github.com/motlan/motlan/signing"
)

// A wrong or missing PIN or OTP is answered at the approval: the request stays pending,
// nothing is signed, and the right code then signs the dossier with one signHash.
func TestWrongCodeAsksAgain(t *testing.T) {
	tests := []struct {
		name, mode    string
		wrong, right  signing.Activation
		code          string
		challengeEach bool
	}{
		{"wrong PIN", "PIN", signing.Activation{PIN: "000000"}, signing.Activation{PIN: pin}, signing.FailureAuth, false},
		{"no PIN", "PIN", signing.Activation{}, signing.Activation{PIN: pin}, signing.FailureActivation, false},
		{"wrong OTP", "OTP", signing.Activation{OTP: "111111"}, signing.Activation{OTP: testrssp.SentOTP}, signing.FailureAuth, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.mode)
			r := w.create(2)
			if tc.challengeEach {
				if err := w.service.Challenge(t.Context(), citizenID); err != nil {
					t.Fatal(err)
				}
			}
			got, err := w.service.ApproveWith(t.Context(), r.ID, citizenID, subjectFor, hashesOf(r), tc.wrong)
			var be *signing.BackendError
			if !errors.As(err, &be) || be.Code != tc.code || got.Status != signing.StatusPending || got.Attempts != 1 {
				t.Fatalf("got %s (attempts %d), err %v; want pending and %s", got.Status, got.Attempts, err, tc.code)
			}
			if n := w.rssp.Count("signatures/signHash"); n != 0 {
				t.Fatalf("%d signHash calls after a wrong code", n)
			}
			if done := w.approve(r, tc.right); done.Status != signing.StatusSigned {
				t.Fatalf("with the right code: %s (%s)", done.Status, done.Failure)
			}
			if n := w.rssp.Count("signatures/signHash"); n != 1 {
				t.Fatalf("%d signHash calls, want 1", n)
			}
		})
	}
}

// Wrong codes count against the request's attempts: at signing.MaxAttempts it fails.
func TestWrongCodeLimit(t *testing.T) {
	w := newWorld(t, "PIN")
	r := w.create(1)
	for i := 1; i < signing.MaxAttempts; i++ {
		got, err := w.service.ApproveWith(t.Context(), r.ID, citizenID, subjectFor, hashesOf(r), signing.Activation{PIN: "000000"})
		if err == nil || got.Status != signing.StatusPending || got.Attempts != i {
			t.Fatalf("try %d: %s %v", i, got.Status, err)
		}
	}
	got, err := w.service.ApproveWith(t.Context(), r.ID, citizenID, subjectFor, hashesOf(r), signing.Activation{PIN: "000000"})
	if err != nil || got.Status != signing.StatusFailed || got.Failure != signing.FailureAuth {
		t.Fatalf("last try: %s (%s) %v, want failed (%s)", got.Status, got.Failure, err, signing.FailureAuth)
	}
	if _, err := w.service.ApproveWith(t.Context(), r.ID, citizenID, subjectFor, hashesOf(r), signing.Activation{PIN: pin}); !errors.Is(err, signing.ErrNotPending) {
		t.Fatalf("approving a failed request: %v", err)
	}
}

// flakyTSA fails the first run's time-stamp requests (one per document): the run stops
// after signHash, leaving the request signing for Resume with nothing stored.
func flakyTSA(docs int32) option {
	return func(_ *csc.Config, _ *citizens, sc *signing.ServiceConfig) {
		var calls atomic.Int32
		next := sc.Timestamp
		sc.Timestamp = func(ctx context.Context, d []byte, h crypto.Hash) ([]byte, error) {
			if calls.Add(1) <= docs {
				return nil, errors.New("TSA down")
			}
			return next(ctx, d, h)
		}
	}
}

// A run resumed after the SAD has run out fails with sad_expired, asking the provider
// nothing; one resumed in time with digests that no longer match what was authorised
// fails with digest_mismatch, never sending the other hashes.
func TestGrantAtResume(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(w *world, r signing.Request, clock *testsync.Clock)
		want   string
	}{
		{"SAD expired", func(_ *world, _ signing.Request, clock *testsync.Clock) { clock.Advance(10 * time.Minute) }, signing.FailureSADExpired},
		{"digests changed", func(w *world, r signing.Request, clock *testsync.Clock) {
			clock.Advance(3 * time.Minute) // past the lease, within the SAD's 5 minutes
			_, err := w.store.UpdateSigningRequest(context.Background(), r.ID, func(old signing.Request) (signing.Request, error) {
				old.SignTime = old.SignTime.Add(time.Second)
				return old, nil
			})
			if err != nil {
				w.t.Fatal(err)
			}
		}, signing.FailureDigestMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testsync.NewClock(time.Now())
			w := newWorld(t, "PIN", func(_ *csc.Config, _ *citizens, sc *signing.ServiceConfig) { sc.Now = clock.Now }, flakyTSA(2))
			r := w.create(2)
			got := w.approve(r, signing.Activation{PIN: pin})
			if got.Status != signing.StatusSigning || got.Grant == nil || len(got.AuthorizedDigests) != 2 || got.SignTime.IsZero() {
				t.Fatalf("after the TSA fault: %s, grant %t, %d digests", got.Status, got.Grant != nil, len(got.AuthorizedDigests))
			}
			tc.change(w, got, clock)
			before := w.rssp.Calls()
			if n, err := w.service.Resume(t.Context()); err != nil || n != 1 {
				t.Fatalf("Resume: %d %v", n, err)
			}
			done, err := w.store.GetSigningRequest(t.Context(), r.ID)
			if err != nil || done.Status != signing.StatusFailed || done.Failure != tc.want {
				t.Fatalf("after Resume: %s (%s) %v, want failed (%s)", done.Status, done.Failure, err, tc.want)
			}
			after := w.rssp.Calls()
			for m, n := range after {
				if n != before[m] {
					t.Errorf("Resume called %s %d times", m, n-before[m])
				}
			}
			for i := range 2 {
				if _, err := w.store.SignedPDF(t.Context(), r.ID, i); !errors.Is(err, signing.ErrNotFound) {
					t.Fatalf("document %d stored: %v", i, err)
				}
			}
		})
	}
}
