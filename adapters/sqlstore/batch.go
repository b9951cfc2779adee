package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// On SQLite a commit costs more than the statements in it (each dirty page becomes a WAL
// frame, written by a syscall of its own), and the single writer runs transactions one
// after another anyway. So write transactions that arrive while one runs are gathered
// and run together in one transaction, each inside a savepoint of its own: a failing one
// rolls back only its own writes, and every caller sees the same all-or-nothing it would
// alone. The caller whose job is first in a batch runs it (group commit without a
// goroutine of its own); the next batch goes to the first caller still waiting.
//
// While the writer is contended (the last batch ran more than one job), a new batch is
// held open for up to batchWindow, or until as many jobs are pending as the last batch ran
// (at most fullBatch): the pages every login writes (each table's and index's newest leaf)
// then go to the WAL once for more logins. Writes that come one at a time never wait, and
// when every writer is already waiting the batch runs at once.

// writeJob is one caller's transaction.
type writeJob struct {
	ctx  context.Context
	fn   func(*txn) error
	err  error
	wake chan struct{} // one send: the job ran, or (lead set) its caller runs the next batch
	lead bool
}

// batchWindow is how long a batch is held open for more jobs while the writer is
// contended, and fullBatch the most pending jobs it waits for. At 32 concurrent logins
// batches grew from about 3 jobs to 6: where writes were slow, a login's CPU fell by about
// 5 % and its p99 with it; where they were cheap, neither moved (README, "Load"). The
// millisecond is small beside a login's 30 ms median under that load.
const (
	batchWindow = time.Millisecond
	fullBatch   = 64
)

// batcher queues write jobs; busy while some caller runs a batch.
type batcher struct {
	mu      sync.Mutex
	pending []*writeJob
	busy    bool
	// window is batchWindow (tests lengthen it); last is how many jobs the previous batch
	// ran; gathering, while a batch is held open, is closed once target jobs are pending.
	window    time.Duration
	last      int
	gathering chan struct{}
	// commits and jobs count transactions committed or rolled back, and jobs run, and
	// waits the batches held open: a test's window onto batching.
	commits, jobs, waits int64
}

// inBatch runs fn as part of a batched transaction and returns its outcome.
func (s *Store) inBatch(ctx context.Context, fn func(*txn) error) error {
	b := &s.batch
	j := &writeJob{ctx: ctx, fn: fn, wake: make(chan struct{}, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, j)
	if b.gathering != nil && len(b.pending) >= b.target() {
		close(b.gathering)
		b.gathering = nil
	}
	if b.busy {
		b.mu.Unlock()
		<-j.wake
		if !j.lead {
			return j.err
		}
		b.mu.Lock()
	}
	b.busy = true
	b.gather()
	batch := b.pending
	b.pending = nil
	b.mu.Unlock()

	s.runBatch(batch)

	b.mu.Lock()
	b.commits++
	b.jobs += int64(len(batch))
	b.last = len(batch)
	if len(b.pending) == 0 {
		b.busy = false
	} else {
		next := b.pending[0]
		next.lead = true
		next.wake <- struct{}{}
	}
	b.mu.Unlock()
	for _, o := range batch {
		if o != j {
			o.wake <- struct{}{}
		}
	}
	return j.err
}

// target is how many pending jobs release a batch held open: as many as the last batch
// ran, so that a batch of every writer there is never waits, and at most fullBatch.
func (b *batcher) target() int { return min(b.last, fullBatch) }

// gather holds the batch about to run open while the writer is contended, for up to the
// window or until target jobs are pending. Called with b.mu held by the batch's runner;
// other jobs queue meanwhile.
func (b *batcher) gather() {
	if b.last < 2 || len(b.pending) >= b.target() {
		return
	}
	b.waits++
	ready := make(chan struct{})
	b.gathering = ready
	b.mu.Unlock()
	t := time.NewTimer(cmp.Or(b.window, batchWindow))
	select {
	case <-ready:
	case <-t.C:
	}
	t.Stop()
	b.mu.Lock()
	b.gathering = nil
}

// copyBackForRestart copies what the checkpointer left of the WAL, here where no write
// comes in between, so that the batch that follows reads without the WAL and SQLite
// writes it from its first frame. A read that began before the last commit keeps the
// frames after it from being copied; reads are short, so it asks up to three times, 50 µs
// apart, and else the checkpointer's next pass asks again. (With one attempt, made only
// after a pass that had copied everything, the WAL grew for seconds at a time under
// constant reads: TestWALStartsOverUnderConstantWrites failed about 1 run in 20; none in
// 60 since.)
func (s *Store) copyBackForRestart() {
	for range 3 {
		busy, logFrames, copied, err := passiveCheckpoint(context.Background(), s.w.db)
		if err != nil {
			s.log.Warn("sqlite checkpoint before a write", "err", err)
			return
		}
		if !busy && copied == logFrames {
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// runBatch runs the jobs in one transaction and sets each one's err.
func (s *Store) runBatch(batch []*writeJob) {
	if s.walRestart.Swap(false) {
		s.copyBackForRestart()
	}
	sqlTx, err := s.w.db.BeginTx(context.Background(), nil)
	if err != nil {
		for _, j := range batch {
			j.err = err
		}
		return
	}
	if len(batch) == 1 {
		j := batch[0]
		if j.err = s.call(j.ctx, func() error { return j.fn(&txn{Tx: sqlTx, p: s.w, ctx: j.ctx}) }); j.err != nil {
			sqlTx.Rollback()
			return
		}
		j.err = sqlTx.Commit()
		return
	}
	abort := func(i int, err error) {
		sqlTx.Rollback()
		err = fmt.Errorf("batched transaction: %w", err)
		for k, j := range batch {
			if k > i || j.err == nil {
				j.err = err
			}
		}
	}
	for i, j := range batch {
		tx := &txn{Tx: sqlTx, p: s.w, ctx: j.ctx}
		if _, err := tx.exec(qSavepoint); err != nil {
			abort(i, err)
			return
		}
		if j.err = s.call(j.ctx, func() error { return j.fn(tx) }); j.err != nil {
			if _, err := tx.exec(qRollbackToSavepoint); err != nil {
				abort(i, err)
				return
			}
		}
		if _, err := tx.exec(qReleaseSavepoint); err != nil {
			abort(i, err)
			return
		}
	}
	err = sqlTx.Commit()
	for _, j := range batch {
		if j.err == nil {
			j.err = err
		}
	}
}

// call runs fn, turning a panic into its error: a panic that escaped would leave the
// writer's transaction open and every later write waiting for it.
func (s *Store) call(ctx context.Context, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.ErrorContext(ctx, "sqlstore: panic in a write transaction", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("sqlstore: panic in a write transaction: %v", p)
		}
	}()
	return fn()
}

const (
	qSavepoint           = "SAVEPOINT job"
	qRollbackToSavepoint = "ROLLBACK TO job"
	qReleaseSavepoint    = "RELEASE job"
)
