package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/testpg"
)

// TestBatchedTransactions holds the writer in one transaction while others queue, then
// checks that the queued ones ran as one batch in which each kept its own all-or-nothing:
// a job that fails (by its own error or a constraint) leaves no row, the others commit.
func TestBatchedTransactions(t *testing.T) {
	ctx := context.Background()
	s := openSQLiteFile(t, Config{})
	exp := ms(time.Now().Add(time.Hour))
	insert := func(tx *txn, jti string) error {
		_, err := tx.exec(qInsertAssertion, "batch", jti, exp)
		return err
	}

	release := holdWriter(s, func(tx *txn) error { return insert(tx, "holder") })

	errBoom := errors.New("boom")
	const n = 9
	want := make([]error, n) // nil: the job's row must be stored
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		jti := fmt.Sprintf("job-%d", i)
		var fn func(*txn) error
		switch i % 3 {
		case 0: // writes, then fails: its write must be undone
			want[i] = errBoom
			fn = func(tx *txn) error {
				if err := insert(tx, jti); err != nil {
					return err
				}
				return errBoom
			}
		case 1: // writes its own row and then one the holder already wrote: a conflict
			want[i] = store.ErrConflict
			fn = func(tx *txn) error {
				if err := insert(tx, jti); err != nil {
					return err
				}
				return wrapWrite("insert", insert(tx, "holder"))
			}
		default:
			fn = func(tx *txn) error { return insert(tx, jti) }
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.inTx(ctx, fn)
		}()
	}
	waitFor(t, "the jobs queued behind the holder", func() bool {
		s.batch.mu.Lock()
		defer s.batch.mu.Unlock()
		return len(s.batch.pending) == n
	})
	if err := release(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	wg.Wait()

	for i := range n {
		if !errors.Is(errs[i], want[i]) || (want[i] == nil) != (errs[i] == nil) {
			t.Errorf("job %d: %v, want %v", i, errs[i], want[i])
		}
		// A stored row makes the assertion used; a rolled-back one leaves it free.
		got := s.UseAssertion(ctx, "batch", fmt.Sprintf("job-%d", i), time.Now().Add(time.Hour))
		if stored := errors.Is(got, store.ErrAlreadyUsed); stored != (want[i] == nil) {
			t.Errorf("job %d: row stored %v, want %v (%v)", i, stored, want[i] == nil, got)
		}
	}
	s.batch.mu.Lock()
	commits, jobs, busy := s.batch.commits, s.batch.jobs, s.batch.busy
	s.batch.mu.Unlock()
	// Open's migrations ran before as batches of one each; count from the holder on.
	if jobs-commits != n-1 || busy {
		t.Errorf("%d jobs in %d transactions (busy %v): the %d queued jobs did not share one", jobs, commits, busy, n)
	}
}

// TestBatchHeldOpenWhileContended: lone writes never wait; once a batch has run several
// jobs, the next one is held open until as many are pending as that batch ran (two), so
// that they share one commit (gather).
func TestBatchHeldOpenWhileContended(t *testing.T) {
	ctx := context.Background()
	s := openSQLiteFile(t, Config{})
	exp := ms(time.Now().Add(time.Hour))
	insert := func(jti string) func(*txn) error {
		return func(tx *txn) error {
			_, err := tx.exec(qInsertAssertion, "window", jti, exp)
			return err
		}
	}
	counts := func() (commits, jobs, waits int64) {
		s.batch.mu.Lock()
		defer s.batch.mu.Unlock()
		return s.batch.commits, s.batch.jobs, s.batch.waits
	}
	setWindow := func(d time.Duration) {
		s.batch.mu.Lock()
		s.batch.window = d
		s.batch.mu.Unlock()
	}
	// A window long enough that only a full batch releases it within the test's deadline;
	// back to the default before any other write.
	setWindow(time.Hour)
	t.Cleanup(func() { setWindow(0) })

	for i := range 3 {
		if err := s.inTx(ctx, insert(fmt.Sprintf("lone-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, waits := counts(); waits != 0 {
		t.Fatalf("lone writes held %d batches open, want none", waits)
	}

	// Two jobs queued behind a holder run as one batch: the writer is now contended.
	release := holdWriter(s, insert("holder"))
	queued := make(chan error, 2)
	for i := range 2 {
		go func() { queued <- s.inTx(ctx, insert(fmt.Sprintf("queued-%d", i))) }()
	}
	waitFor(t, "two jobs queued behind the holder", func() bool {
		s.batch.mu.Lock()
		defer s.batch.mu.Unlock()
		return len(s.batch.pending) == 2
	})
	if err := release(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	for range 2 {
		if err := <-queued; err != nil {
			t.Fatal(err)
		}
	}

	// The next job holds its batch open; a second one fills it, and both commit together.
	commits0, jobs0, waits0 := counts()
	done := make(chan error, 2)
	go func() { done <- s.inTx(ctx, insert("first")) }()
	waitFor(t, "the next batch held open", func() bool { _, _, w := counts(); return w == waits0+1 })
	go func() { done <- s.inTx(ctx, insert("second")) }()
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the held batch was not released when full")
		}
	}
	commits, jobs, _ := counts()
	if commits-commits0 != 1 || jobs-jobs0 != 2 {
		t.Errorf("%d jobs in %d transactions, want 2 in 1", jobs-jobs0, commits-commits0)
	}
	setWindow(0)
	for _, jti := range []string{"first", "second"} {
		if err := s.UseAssertion(ctx, "window", jti, time.Now().Add(time.Hour)); !errors.Is(err, store.ErrAlreadyUsed) {
			t.Errorf("%s: %v, want its row stored", jti, err)
		}
	}
}

// holdWriter runs a write transaction that holds SQLite's writer, with fn its last step,
// until the returned release is called; release returns the transaction's outcome.
func holdWriter(s *Store, fn func(*txn) error) (release func() error) {
	started, held := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.inTx(context.Background(), func(tx *txn) error {
			close(started)
			<-held
			return fn(tx)
		})
	}()
	<-started
	return func() error { close(held); return <-done }
}

// openSQLiteFile opens a store on a new SQLite file with cfg, closed when t ends.
func openSQLiteFile(t *testing.T, cfg Config) *Store {
	t.Helper()
	cfg.Driver, cfg.DSN = DriverSQLite, filepath.Join(t.TempDir(), "motlan.db")
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitFor polls cond every millisecond for up to 10 s, failing the test with what.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestPanicInTransaction: a transaction whose function panics fails alone, on every
// driver, and the writer goes on serving the next ones (alone and in a batch).
func TestPanicInTransaction(t *testing.T) {
	ctx := context.Background()
	onEachDriver(t, Config{}, func(t *testing.T, s *Store) {
		exp := ms(time.Now().Add(time.Hour))
		// On SQLite a holder keeps the writer busy until all eight are queued, so the
		// panicking jobs provably share one transaction with the others.
		var release func() error
		if !s.pg {
			release = holdWriter(s, func(*txn) error { return nil })
		}
		errs := make([]error, 8)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.inTx(ctx, func(tx *txn) error {
					if _, err := tx.exec(qInsertAssertion, "panic", fmt.Sprintf("jti-%d", i), exp); err != nil {
						return err
					}
					if i%2 == 0 {
						panic("a bug in a store callback")
					}
					return nil
				})
			}()
		}
		if release != nil {
			waitFor(t, "the jobs queued behind the holder", func() bool {
				s.batch.mu.Lock()
				defer s.batch.mu.Unlock()
				return len(s.batch.pending) == len(errs)
			})
			s.batch.mu.Lock()
			jobs, commits := s.batch.jobs, s.batch.commits
			s.batch.mu.Unlock()
			if err := release(); err != nil {
				t.Fatalf("holder: %v", err)
			}
			wg.Wait()
			s.batch.mu.Lock()
			if got := (s.batch.jobs - jobs) - (s.batch.commits - commits); got != int64(len(errs)-1) {
				t.Errorf("the %d jobs ran in %d transactions, want one", len(errs), s.batch.commits-commits-1)
			}
			s.batch.mu.Unlock()
		}
		wg.Wait()
		for i, err := range errs {
			if (i%2 == 0) != (err != nil) {
				t.Errorf("job %d: %v", i, err)
			}
			got := s.UseAssertion(ctx, "panic", fmt.Sprintf("jti-%d", i), time.Now().Add(time.Hour))
			if stored := errors.Is(got, store.ErrAlreadyUsed); stored != (i%2 == 1) {
				t.Errorf("job %d: row stored %v (%v)", i, stored, got)
			}
		}
		done := make(chan error, 1)
		go func() { done <- s.inTx(ctx, func(tx *txn) error { return nil }) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("a write after the panics: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the writer is stuck after a panic")
		}
	})
}

// Under constant writes beside constant reads, SQLite would never start the WAL over by
// itself (each commit leaves frames the next write reads through), so it grew until the
// checkpointer truncated it, holding the writer meanwhile. Once it has grown, a write
// batch now copies what is left of it back and starts it over.
func TestWALStartsOverUnderConstantWrites(t *testing.T) {
	ctx := context.Background()
	frames := make(chan int, 1024)
	s := openSQLiteFile(t, Config{restartFrames: 64, checkpointed: func(n int) {
		select {
		case frames <- n:
		default:
		}
	}})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(2)
		go func() { // a writer
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c, err := s.UpsertCitizen(ctx, store.Citizen{Issuer: "https://eid.example.vn", Subject: fmt.Sprintf("w%d-%d", w, i)})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := s.GetCitizen(ctx, c.ID); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() { // a reader
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.GetCitizen(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
					t.Error(err)
					return
				}
			}
		}()
	}
	// The WAL starts over when a pass finds it smaller than the one before, while the
	// writers go on.
	restarts, prev, peak := 0, 0, 0
	deadline := time.After(20 * time.Second)
	for restarts < 5 {
		select {
		case n := <-frames:
			if n < prev {
				restarts++
			}
			prev, peak = n, max(peak, n)
		case <-deadline:
			close(stop)
			wg.Wait()
			t.Fatalf("the WAL started over %d times in 20 s (peak %d frames), want 5", restarts, peak)
		}
	}
	close(stop)
	wg.Wait()
	if peak >= 16384 {
		t.Errorf("the WAL reached %d frames, where the checkpointer truncates it", peak)
	}
}

// onEachDriver runs fn as a subtest on a new store of each driver, opened with cfg (its
// Driver and DSN set here): SQLite in a temporary file, PostgreSQL in a fresh schema.
func onEachDriver(t *testing.T, cfg Config, fn func(t *testing.T, s *Store)) {
	for _, driver := range []string{DriverSQLite, DriverPostgres} {
		t.Run(driver, func(t *testing.T) {
			cfg.Driver, cfg.DSN = driver, filepath.Join(t.TempDir(), "motlan.db")
			if driver == DriverPostgres {
				cfg.DSN = testpg.DSN(t)
			}
			s, err := Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			fn(t, s)
		})
	}
}
