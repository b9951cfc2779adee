package signing_test

import (
	"context"
	"crypto"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/motlan/motlan/signing"
)

// readCounter is a signing.Store that counts request reads.
type readCounter struct {
	signing.Store
	reads atomic.Int64
}

func (c *readCounter) GetSigningRequest(ctx context.Context, id string) (signing.Request, error) {
	c.reads.Add(1)
	return c.Store.GetSigningRequest(ctx, id)
}

// bus is an in-memory Notifier shared by the services of one test: what one publishes,
// the others hear.
type bus struct {
	mu   sync.Mutex
	subs map[*busNotifier]func(string)
}

type busNotifier struct{ b *bus }

func (b *bus) notifier() *busNotifier { return &busNotifier{b} }

func (n *busNotifier) Publish(_ context.Context, id string) error {
	n.b.mu.Lock()
	defer n.b.mu.Unlock()
	for other, fn := range n.b.subs {
		if other != n {
			fn(id)
		}
	}
	return nil
}

func (n *busNotifier) Subscribe(ctx context.Context, fn func(string)) error {
	n.b.mu.Lock()
	if n.b.subs == nil {
		n.b.subs = map[*busNotifier]func(string){}
	}
	n.b.subs[n] = fn
	n.b.mu.Unlock()
	<-ctx.Done()
	n.b.mu.Lock()
	delete(n.b.subs, n)
	n.b.mu.Unlock()
	return nil
}

// eventually fails t unless cond holds within 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestWaiterMapBounded: the waiter map holds only requests being waited on, whichever
// way each wait ends (a change, its deadline, its caller leaving), and several waits on
// one request share an entry.
func TestWaiterMapBounded(t *testing.T) {
	w := newWorld(t)
	svc := w.service
	const perWay = 8
	type way int
	const (
		changed way = iota
		timedOut
		left
	)
	reqs := map[way][]signing.Request{}
	for _, k := range []way{changed, timedOut, left} {
		for range perWay {
			reqs[k] = append(reqs[k], w.create(1, func(in *signing.CreateInput) { in.CallbackURL = "" }))
		}
	}
	ctx, leave := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 4*perWay)
	start := func(c context.Context, r signing.Request, max time.Duration) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.Wait(c, clientID, r.ID, r.Version, max)
			if err != nil && c.Err() == nil {
				errs <- err
			}
		}()
	}
	for _, r := range reqs[changed] {
		start(context.Background(), r, time.Minute)
		start(context.Background(), r, time.Minute) // two waits, one entry
	}
	for _, r := range reqs[timedOut] {
		start(context.Background(), r, 300*time.Millisecond)
	}
	for _, r := range reqs[left] {
		start(ctx, r, time.Minute)
	}
	eventually(t, "every wait registered", func() bool { return svc.Waiting() == 3*perWay })
	for _, r := range reqs[changed] {
		if _, err := svc.Cancel(context.Background(), clientID, r.ID, ""); err != nil {
			t.Fatal(err)
		}
	}
	leave()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("wait: %v", err)
	}
	if n := svc.Waiting(); n != 0 {
		t.Fatalf("%d waiter entries left after every wait ended", n)
	}
	for range 50 { // many short waits one after another leave nothing behind either
		r := reqs[timedOut][0]
		if _, err := svc.Wait(context.Background(), clientID, r.ID, r.Version, time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if n := svc.Waiting(); n != 0 {
		t.Fatalf("%d waiter entries left after sequential waits", n)
	}
}

// TestWaitReadsPerChangeNotPerTick: waiting costs no store read while nothing changes,
// however many wait; a change made by another replica (through the Notifier) costs one
// read per woken wait.
func TestWaitReadsPerChangeNotPerTick(t *testing.T) {
	w := newWorld(t)
	b := &bus{}
	storeA, storeB := &readCounter{Store: w.store}, &readCounter{Store: w.store}
	a := w.newServiceWith(w.vault, func(c *signing.ServiceConfig) { c.Store, c.Notifier = storeA, b.notifier() })
	bsvc := w.newServiceWith(w.vault, func(c *signing.ServiceConfig) { c.Store, c.Notifier = storeB, b.notifier() })
	const n = 40
	var reqs []signing.Request
	for range n {
		reqs = append(reqs, w.create(1, func(in *signing.CreateInput) { in.CallbackURL = "" }))
	}
	results := make(chan signing.Request, n)
	for _, r := range reqs {
		go func() {
			got, err := bsvc.Wait(context.Background(), clientID, r.ID, r.Version, 1500*time.Millisecond)
			if err != nil {
				t.Errorf("wait: %v", err)
			}
			results <- got
		}()
	}
	// A wait registers before its first read: wait for both.
	eventually(t, "every wait registered and read", func() bool { return bsvc.Waiting() == n && storeB.reads.Load() >= n })
	if got := storeB.reads.Load(); got != n {
		t.Fatalf("%d waits started with %d reads, want one each", n, got)
	}
	time.Sleep(500 * time.Millisecond) // idle: the old code read 4 times a second per wait
	if got := storeB.reads.Load(); got != n {
		t.Fatalf("idle waits read the store %d times", got-n)
	}
	if _, err := a.Cancel(context.Background(), clientID, reqs[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	if got := <-results; got.ID != reqs[0].ID || got.Status != signing.StatusCanceled {
		t.Fatalf("first answer: %s %s, want %s canceled", got.ID, got.Status, reqs[0].ID)
	}
	if got := storeB.reads.Load(); got != n+1 {
		t.Fatalf("a change woke %d reads, want 1", got-n)
	}
	for range n - 1 {
		if got := <-results; got.Status != signing.StatusPending {
			t.Fatalf("unchanged request answered %s", got.Status)
		}
	}
	if got := storeB.reads.Load(); got != n+1 {
		t.Fatalf("waits ending at their deadline read the store %d times", got-n-1)
	}
	if bsvc.Waiting() != 0 {
		t.Fatalf("%d waiter entries left", bsvc.Waiting())
	}
}

// TestDrainAnswersWaitsAndFinishesRuns: BeginDrain answers open and new long-polls at
// once; Drain lets a signing run finish when there is time, and hands it back (lease
// released, still signing) when there is not.
func TestDrainAnswersWaitsAndFinishesRuns(t *testing.T) {
	w := newWorld(t)
	r := w.create(1, nil)
	got := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		_, _ = w.service.Wait(context.Background(), clientID, r.ID, r.Version, time.Minute)
		got <- time.Since(start)
	}()
	eventually(t, "wait registered", func() bool { return w.service.Waiting() == 1 })
	w.service.BeginDrain()
	select {
	case d := <-got:
		t.Logf("open long-poll answered %v after it began", d)
	case <-time.After(2 * time.Second):
		t.Fatal("an open long-poll was not answered on drain")
	}
	start := time.Now()
	if now, err := w.service.Wait(context.Background(), clientID, r.ID, r.Version, time.Minute); err != nil || now.ID != r.ID || time.Since(start) > time.Second {
		t.Fatalf("a new long-poll while draining: %v after %v", err, time.Since(start))
	}
	if n, err := w.service.Drain(context.Background()); n != 0 || err != nil {
		t.Fatalf("drain with nothing running: %d handed back, %v", n, err)
	}
}

// stallingVault signs only once release is closed, or fails when its caller gives up.
type stallingVault struct {
	*countingVault
	entered chan struct{}
	release chan struct{}
}

func (v *stallingVault) Sign(ctx context.Context, label string, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	select {
	case v.entered <- struct{}{}:
	default:
	}
	select {
	case <-v.release:
		return v.countingVault.Sign(ctx, label, digest, opts)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestDrainHandsBackOrFinishes: a run that finishes within Drain's deadline signs; one
// that does not is stopped and handed back (still signing, lease released), and another
// replica's Resume then signs it, once.
func TestDrainHandsBackOrFinishes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline time.Duration
		release  bool // the vault answers during the drain
		want     signing.Status
	}{
		{"finishes", 10 * time.Second, true, signing.StatusSigned},
		{"handed back", 300 * time.Millisecond, false, signing.StatusSigning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			v := &stallingVault{countingVault: w.vault, entered: make(chan struct{}, 1), release: make(chan struct{})}
			svc := w.newService(v)
			r := w.create(1, func(in *signing.CreateInput) { in.CallbackURL = "" })
			approved := make(chan signing.Request, 1)
			go func() {
				got, err := svc.Approve(context.Background(), r.ID, citizenID, subjectFor, hashes(r))
				if err != nil {
					t.Errorf("approve: %v", err)
				}
				approved <- got
			}()
			select {
			case <-v.entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the signing run never reached the vault")
			}
			if tc.release {
				time.AfterFunc(100*time.Millisecond, func() { close(v.release) })
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			defer cancel()
			handed, err := svc.Drain(ctx)
			if err != nil {
				t.Fatalf("drain: %v", err)
			}
			got := <-approved
			stored, err := w.store.GetSigningRequest(context.Background(), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.want || stored.Status != tc.want {
				t.Fatalf("after drain: approval answered %s, stored %s; want %s", got.Status, stored.Status, tc.want)
			}
			if tc.want == signing.StatusSigned {
				if handed != 0 {
					t.Fatalf("%d runs handed back, want 0", handed)
				}
				return
			}
			if handed != 1 || stored.Worker != "" || !stored.LeaseUntil.IsZero() {
				t.Fatalf("handed back %d; lease %q until %v, want released", handed, stored.Worker, stored.LeaseUntil)
			}
			other := w.newService(w.vault)
			if n, err := other.Resume(context.Background()); err != nil || n != 1 {
				t.Fatalf("resume on another replica: %d, %v", n, err)
			}
			if done, _ := w.store.GetSigningRequest(context.Background(), r.ID); done.Status != signing.StatusSigned {
				t.Fatalf("after resume: %s", done.Status)
			}
		})
	}
}

// TestWaitFromFirstRead: a negative since waits from the version Wait reads first (the
// HTTP long-poll reads the request only there), and an ended request answers at once.
func TestWaitFromFirstRead(t *testing.T) {
	w := newWorld(t)
	counted := &readCounter{Store: w.store}
	svc := w.newServiceWith(w.vault, func(c *signing.ServiceConfig) { c.Store = counted })
	r := w.create(1, func(in *signing.CreateInput) { in.CallbackURL = "" })
	got := make(chan signing.Request, 1)
	go func() {
		out, err := svc.Wait(context.Background(), clientID, r.ID, -1, 5*time.Second)
		if err != nil {
			t.Errorf("wait: %v", err)
		}
		got <- out
	}()
	// A wait registers before its first read: wait for both.
	eventually(t, "the wait registered and read", func() bool { return svc.Waiting() == 1 && counted.reads.Load() >= 1 })
	if n := counted.reads.Load(); n != 1 {
		t.Fatalf("the wait began with %d reads, want 1", n)
	}
	select {
	case out := <-got:
		t.Fatalf("a wait from now answered before any change: %s v%d", out.Status, out.Version)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := svc.Cancel(context.Background(), clientID, r.ID, ""); err != nil {
		t.Fatal(err)
	}
	out := <-got
	if out.Status != signing.StatusCanceled || out.Version <= r.Version {
		t.Fatalf("answered %s v%d, want canceled after v%d", out.Status, out.Version, r.Version)
	}
	start := time.Now()
	ended, err := svc.Wait(context.Background(), clientID, r.ID, -1, 5*time.Second)
	if err != nil || ended.Status != signing.StatusCanceled || time.Since(start) > 2*time.Second {
		t.Fatalf("an ended request: %s after %v (%v), want canceled at once", ended.Status, time.Since(start), err)
	}
}
