package signing_test

import (
	"context"
	"crypto"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/keys/tsa"
	"github.com/motlan/motlan/signing"
)

// gatedTSA is the world's TSA behind a gate: each call waits until the gate opens, and the
// most calls in flight at once are counted.
type gatedTSA struct {
	url            string
	mu             sync.Mutex
	open           chan struct{}
	inFlight, most int
	calls          atomic.Int32
	arrived        chan struct{}
	closeOnce      sync.Once
}

func newGatedTSA(t *testing.T, url string) *gatedTSA {
	g := &gatedTSA{url: url, open: make(chan struct{}), arrived: make(chan struct{}, 100)}
	t.Cleanup(g.release)
	return g
}

func (g *gatedTSA) release() { g.closeOnce.Do(func() { close(g.open) }) }

func (g *gatedTSA) stamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	g.calls.Add(1)
	g.mu.Lock()
	g.inFlight++
	g.most = max(g.most, g.inFlight)
	g.mu.Unlock()
	defer func() { g.mu.Lock(); g.inFlight--; g.mu.Unlock() }()
	g.arrived <- struct{}{}
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return tsa.Request(ctx, nil, g.url, digest, h)
}

func (g *gatedTSA) mostInFlight() int { g.mu.Lock(); defer g.mu.Unlock(); return g.most }

// replica is one replica's service over the world's store, with its identity and timing.
func (w *world) replica(id string, mod func(*signing.ServiceConfig)) *signing.Service {
	w.t.Helper()
	cfg := signing.ServiceConfig{
		Store: w.store, Vault: w.vault, CA: w.ca, Citizens: citizens{},
		Timestamp: func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
			return tsa.Request(ctx, nil, w.tsaURL, digest, h)
		},
		Font: w.font, Now: w.clock.Now, ReplicaID: id,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := signing.NewService(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { s.Close() })
	return s
}

func (g *gatedTSA) waitArrivals(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-g.arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("fewer than %d time-stamp calls arrived", n)
		}
	}
}

// The approval answers within ApprovalWait with the request signing while the run goes
// on; the run signs at most SignParallel documents at once, keeps its lease alive while
// it is held up (another replica's Resume does not take it over, even after the lease's
// length has passed), and its own replica's Resume leaves it alone. Each document is
// signed once.
func TestApprovalAnswersWhileSigningInParallel(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	gate := newGatedTSA(t, w.tsaURL)
	const lease = 300 * time.Millisecond
	a := w.replica("A", func(c *signing.ServiceConfig) {
		c.Timestamp, c.SignParallel, c.ApprovalWait, c.Lease = gate.stamp, 2, 200*time.Millisecond, lease
	})
	b := w.replica("B", func(c *signing.ServiceConfig) { c.Lease = lease })
	r := w.create(4, nil)

	start := time.Now()
	got, err := a.Approve(ctx, r.ID, citizenID, subjectFor, hashes(r))
	if err != nil || got.Status != signing.StatusSigning {
		t.Fatalf("approval: %v, status %s, want signing", err, got.Status)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the approval answered after %v", d)
	}
	gate.waitArrivals(t, 2)
	// The lease's length passes on the service clock; the run renews it in real time.
	w.clock.Advance(10 * lease)
	time.Sleep(2 * lease)
	for name, s := range map[string]*signing.Service{"A (its own run)": a, "B": b} {
		if n, err := s.Resume(ctx); n != 0 || err != nil {
			t.Fatalf("%s resumed %d (%v) a request whose run is alive", name, n, err)
		}
	}
	if most := gate.mostInFlight(); most != 2 {
		t.Fatalf("%d documents were signed at once, want SignParallel = 2", most)
	}
	gate.release()
	var done signing.Request
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if done, err = a.Get(ctx, clientID, r.ID); err == nil && done.Status.Final() {
			break
		}
	}
	if done.Status != signing.StatusSigned || done.Attempts != 1 {
		t.Fatalf("after the gate opened: %s (%s), attempts %d", done.Status, done.Failure, done.Attempts)
	}
	if c, g := w.vault.calls.Load(), gate.calls.Load(); c != 4 || g != 4 {
		t.Fatalf("%d vault signatures and %d time-stamps for 4 documents", c, g)
	}
	db := testpki.NSSDB(t, w.devCA.Root())
	for i := range 4 {
		pdf, err := a.SignedPDF(ctx, clientID, r.ID, i)
		if err != nil {
			t.Fatal(err)
		}
		if _, s := testpki.Pdfsig(t, db, pdf); len(s) != 1 || !s[0].Valid {
			t.Fatalf("document %d: %+v", i, s)
		}
	}
}

// A replica restarted after a crash takes back the runs its earlier process held at once,
// while their lease still runs; another replica waits for the lease.
func TestRestartedReplicaResumesItsOwnRunsAtOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	r := w.create(2, nil)
	// Replica A's earlier process approved and died before signing anything.
	if _, err := w.store.UpdateSigningRequest(ctx, r.ID, func(old signing.Request) (signing.Request, error) {
		old.Status, old.CitizenID, old.ApprovedHashes = signing.StatusSigning, citizenID, hashes(r)
		old.Worker, old.LeaseUntil, old.Attempts = "A|earlier-life|run", w.clock.Now().Add(time.Minute), 1
		return old, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{"B", "AB", ""} {
		if n, err := w.replica(other, nil).Resume(ctx); n != 0 || err != nil {
			t.Fatalf("replica %q took over a held lease: %d %v", other, n, err)
		}
	}
	if n, err := w.replica("A", nil).Resume(ctx); n != 1 || err != nil {
		t.Fatalf("restarted replica A: resumed %d, %v", n, err)
	}
	done, _ := w.service.Get(ctx, clientID, r.ID)
	if done.Status != signing.StatusSigned || done.Attempts != 2 || w.vault.calls.Load() != 2 {
		t.Fatalf("after A's restart: %s, attempts %d, %d signatures", done.Status, done.Attempts, w.vault.calls.Load())
	}
}

func TestReplicaIDWithBar(t *testing.T) {
	w := newWorld(t)
	if _, err := signing.NewService(signing.ServiceConfig{Store: w.store, Vault: w.vault, CA: w.ca, Citizens: citizens{}, ReplicaID: "a|b"}); err == nil {
		t.Fatal("a replica id with | was accepted")
	}
}
