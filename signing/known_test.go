package signing_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/motlan/motlan/signing"
)

// TestRepollFromKnownVersion: a re-poll from the version a wait just ended with reads
// nothing, and still answers every change at once, whichever way it is learnt (made here,
// announced by another replica, or announcements possibly lost); a remembered request is
// never served to another client.
func TestRepollFromKnownVersion(t *testing.T) {
	w := newWorld(t)
	b := &bus{}
	storeA, storeB := &readCounter{Store: w.store}, &readCounter{Store: w.store}
	a := w.newServiceWith(w.vault, func(c *signing.ServiceConfig) { c.Store, c.Notifier = storeA, b.notifier() })
	var later atomic.Int64 // how far svc's clock runs ahead
	svc := w.newServiceWith(w.vault, func(c *signing.ServiceConfig) {
		c.Store, c.Notifier = storeB, b.notifier()
		now := c.Now
		c.Now = func() time.Time { return now().Add(time.Duration(later.Load())) }
	})
	ctx := context.Background()
	const short = 150 * time.Millisecond

	// wait long-polls r from since on svc; it reports the answer and the reads it cost.
	wait := func(id, client string, since int64) (signing.Request, int64, error) {
		n := storeB.reads.Load()
		r, err := svc.Wait(ctx, client, id, since, short)
		return r, storeB.reads.Load() - n, err
	}
	// repolled: a wait that ends at its deadline, and the re-poll from its answer.
	repolled := func(t *testing.T, id string) signing.Request {
		t.Helper()
		first, reads, err := wait(id, clientID, -1)
		if err != nil || reads != 1 || first.Status != signing.StatusPending {
			t.Fatalf("first wait: %s, %d reads, %v", first.Status, reads, err)
		}
		again, reads, err := wait(id, clientID, first.Version)
		if err != nil || reads != 0 || again.Version != first.Version {
			t.Fatalf("the re-poll from v%d: v%d with %d reads (%v), want v%d with none", first.Version, again.Version, reads, err, first.Version)
		}
		return again
	}

	t.Run("changed here", func(t *testing.T) {
		r := w.create(1, func(in *signing.CreateInput) { in.CallbackURL = "" })
		known := repolled(t, r.ID)
		if _, err := svc.Cancel(ctx, clientID, r.ID, ""); err != nil {
			t.Fatal(err)
		}
		got, reads, err := wait(r.ID, clientID, known.Version)
		if err != nil || got.Status != signing.StatusCanceled || reads == 0 {
			t.Fatalf("after a change here: %s with %d reads (%v), want canceled, read", got.Status, reads, err)
		}
	})
	t.Run("changed by another replica", func(t *testing.T) {
		r := w.create(1, func(in *signing.CreateInput) { in.CallbackURL = "" })
		known := repolled(t, r.ID)
		if _, err := a.Cancel(ctx, clientID, r.ID, ""); err != nil {
			t.Fatal(err)
		}
		// The announcement is asynchronous in general; the bus delivers it in Publish.
		start := time.Now()
		got, _, err := wait(r.ID, clientID, known.Version)
		if err != nil || got.Status != signing.StatusCanceled || time.Since(start) >= short {
			t.Fatalf("after another replica's change: %s after %v (%v), want canceled at once", got.Status, time.Since(start), err)
		}
	})
	t.Run("announcements possibly lost", func(t *testing.T) {
		r := w.create(1, func(in *signing.CreateInput) { in.CallbackURL = "" })
		known := repolled(t, r.ID)
		// A change that reaches svc by no announcement (the store changed under it), then
		// the notifier's reconnection, which reports "".
		if _, err := a.Cancel(ctx, clientID, r.ID, ""); err != nil {
			t.Fatal(err)
		}
		b.mu.Lock()
		for n, fn := range b.subs {
			_ = n
			fn("")
		}
		b.mu.Unlock()
		got, reads, err := wait(r.ID, clientID, known.Version)
		if err != nil || got.Status != signing.StatusCanceled || reads == 0 {
			t.Fatalf("after a reconnection: %s with %d reads (%v), want canceled, read", got.Status, reads, err)
		}
	})
	t.Run("too old", func(t *testing.T) {
		r := w.create(1, func(in *signing.CreateInput) { in.CallbackURL = "" })
		known := repolled(t, r.ID)
		// Past SafetyRecheck since its read, a remembered request is read again, so that a
		// lost announcement is not trusted for longer than a long wait's safety re-check.
		later.Store(int64(signing.SafetyRecheck))
		defer later.Store(0)
		got, reads, err := wait(r.ID, clientID, known.Version)
		if err != nil || reads != 1 || got.Version != known.Version {
			t.Fatalf("a re-poll %v after the read: v%d with %d reads (%v), want v%d read again", signing.SafetyRecheck, got.Version, reads, err, known.Version)
		}
	})
	t.Run("another client", func(t *testing.T) {
		r := w.create(1, func(in *signing.CreateInput) { in.CallbackURL = "" })
		known := repolled(t, r.ID)
		if _, reads, err := wait(r.ID, "other-client", known.Version); err == nil || reads != 1 {
			t.Fatalf("another client's wait from the known version: %v with %d reads, want not found after a read", err, reads)
		}
	})
}
