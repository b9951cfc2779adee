package signing_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/signing"
)

// TestBlock: a pending request whose citizen is over the approval limit records until
// when, in the store and in a callback event; a shorter block changes nothing, and a
// request that no longer waits is not blocked.
func TestBlock(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	r := w.create(1, func(in *signing.CreateInput) { in.CitizenID = "cit-hao" })
	if cid, err := w.service.ApprovalCitizen(ctx, r.ID); err != nil || cid != "cit-hao" {
		t.Fatalf("approval citizen %q %v", cid, err)
	}
	until := w.clock.Now().Add(90 * time.Second).UTC()
	got, err := w.service.Block(ctx, r.ID, until)
	if err != nil || !got.BlockedUntil.Equal(until) || got.Status != signing.StatusPending || got.Version != r.Version+1 {
		t.Fatalf("block: %+v %v", got, err)
	}
	ev := w.hook.wait(t)
	if want := `"blocked_until":"` + until.Format(time.RFC3339Nano) + `"`; !strings.Contains(ev, `"status":"pending"`) || !strings.Contains(ev, want) {
		t.Errorf("callback %s, want pending with %s", ev, want)
	}
	stored, err := w.store.GetSigningRequest(ctx, r.ID)
	if err != nil || !stored.BlockedUntil.Equal(until) {
		t.Fatalf("stored blocked_until %v %v", stored.BlockedUntil, err)
	}
	if again, err := w.service.Block(ctx, r.ID, until.Add(-time.Minute)); err != nil || again.Version != got.Version || !again.BlockedUntil.Equal(until) {
		t.Errorf("a shorter block changed the request: %+v %v", again, err)
	}
	if _, err := w.service.Cancel(ctx, clientID, r.ID, ""); err != nil {
		t.Fatal(err)
	}
	w.hook.wait(t)
	if _, err := w.service.Block(ctx, r.ID, until.Add(time.Hour)); !errors.Is(err, signing.ErrNotPending) && !errors.Is(err, signing.ErrFinal) {
		t.Errorf("blocking a canceled request: %v", err)
	}
	if _, err := w.service.ApprovalCitizen(ctx, "no-such-request"); !errors.Is(err, signing.ErrNotFound) {
		t.Errorf("unknown request: %v", err)
	}
}
