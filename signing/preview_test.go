package signing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/motlan/motlan/signing"
)

// TestPreviewAndSupersede: the link's preview says who asks for how many documents and
// whether the request still waits; a request cancelled as superseded keeps that reason
// and cannot be approved; a return URL given at create is kept.
func TestPreviewAndSupersede(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	r := w.create(2, func(in *signing.CreateInput) { in.ReturnURL = "https://portal.example.vn/ho-so/1" })
	if r.ReturnURL != "https://portal.example.vn/ho-so/1" {
		t.Fatalf("return URL %q not kept", r.ReturnURL)
	}
	p, err := w.service.Preview(ctx, r.ID)
	if err != nil || p.ClientID != clientID || p.Documents != 2 || p.Status != signing.StatusPending {
		t.Fatalf("preview %+v %v", p, err)
	}
	for _, bad := range []string{"Superseded", "x y", "<script>", "a_very_long_reason_that_goes_past_32"} {
		if _, err := w.service.Cancel(ctx, clientID, r.ID, bad); err == nil {
			t.Errorf("cancel reason %q accepted", bad)
		}
	}
	got, err := w.service.Cancel(ctx, clientID, r.ID, signing.CancelSuperseded)
	if err != nil || got.Status != signing.StatusCanceled || got.CancelReason != signing.CancelSuperseded {
		t.Fatalf("cancel superseded: %+v %v", got, err)
	}
	if _, err := w.service.Approve(ctx, r.ID, citizenID, subjectFor, hashes(r)); !errors.Is(err, signing.ErrNotPending) && !errors.Is(err, signing.ErrFinal) {
		t.Errorf("approving a superseded request: %v", err)
	}
	if p, err := w.service.Preview(ctx, r.ID); err != nil || p.Status != signing.StatusCanceled || p.CancelReason != signing.CancelSuperseded {
		t.Errorf("preview of the superseded request %+v %v", p, err)
	}

	late := w.create(1, nil)
	w.clock.Advance(16 * time.Minute)
	if p, err := w.service.Preview(ctx, late.ID); err != nil || p.Status != signing.StatusExpired {
		t.Errorf("preview past expiry %+v %v, want expired", p, err)
	}
	if _, err := w.service.Preview(ctx, "no-such"); !errors.Is(err, signing.ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
}
