package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// On PostgreSQL a login's two write transactions and a refresh's cost more in round
// trips and commits than in statements: each round trip is a write and a read syscall on
// both sides and a wake-up of a server process, each commit a WAL record and, at the
// token endpoint, a flush. So these transactions (the callback's, the token endpoint's, a
// refresh's) run in groups: while a group runs, the next ones wait and then run together,
// as one transaction on one connection. Every member runs its own fn on its caller's
// goroutine, and a round trip goes once every member still running waits for a row or the
// commit: a group of k transactions costs the round trips and the commit of one. The
// commit waits for the WAL flush unless no member needs it to (only callbacks' do not:
// see Logins.RecordLogin). A transaction that finds no group running runs at once.
//
// A group commits only if every member's fn succeeded. Otherwise (a replayed once mark,
// a failed statement, a deadlock, a lock held too long elsewhere) it is rolled back and
// each member runs again alone, so that every caller sees the outcome it would have
// alone; fn may therefore run twice and must write only through its transaction. An
// outage ends the group with its error for every member, as it would each of them alone.

// groupSlots is how many groups run at once, each on a connection of its own. One: at 32
// concurrent first-time logins on 2 vCPUs, with a group for each of the three kinds of
// transaction, Motlan's and PostgreSQL's CPU per login was 1.3-1.7 ms with one slot each,
// 1.5-2.0 with two, 1.8-2.4 with four and 2.4 with eight (2.4-2.9 ungrouped), p99 the
// lower the fewer slots, and one group carried 700-870 logins a second, Motlan's own CPU
// being the limit; callbacks and redemptions in the same groups then cost 5-19 % less
// again (README, "Load").
//
// groupMax is the most members a group takes. groupTimeout bounds a group's statements,
// which no single member's cancellation stops. qGroupLockTimeout bounds a group's wait
// for a row lock that a transaction elsewhere holds (a citizen's row, say, in an
// operator's open transaction): the group then fails and its members wait alone, not
// every login behind them.
const (
	groupSlots        = 1
	groupMax          = 16
	groupTimeout      = 30 * time.Second
	qGroupLockTimeout = "SET LOCAL lock_timeout = '1s'"
)

// txGroups runs transactions in groups.
type txGroups struct {
	mu      sync.Mutex
	running int         // groups in flight
	pending []*groupJob // waiting for a group to end
	// groups and jobs count the groups run and their members; alone the members that ran
	// again alone after their group failed: a test's window onto grouping.
	groups, jobs, alone int64
}

// groupJob is one caller's transaction.
type groupJob struct {
	ctx   context.Context
	fn    func(pipedTx) error
	async bool // its commit need not wait for the WAL flush
	// wake gets one send: g is set (the job is a member), or members is (it leads them).
	wake    chan struct{}
	g       *txGroup
	members []*groupJob
}

// txGroup is one group's transaction.
type txGroup struct {
	mu      sync.Mutex
	p       *pgPipe
	running int           // members whose fn has not returned
	waiting int           // of those, how many wait for the next round trip
	round   chan struct{} // closed when that round trip is done
	err     error         // the first failure: a round trip's, or a member's fn's
	done    chan struct{} // closed when every member's fn has returned
	ended   chan struct{} // closed when the transaction has committed or rolled back
}

// inGroupedTx runs fn in a write transaction, in one of s's groups on PostgreSQL, in
// SQLite's write batches (see batch.go) there. With async, the commit need not wait for
// the WAL flush.
func (s *Store) inGroupedTx(ctx context.Context, async bool, fn func(pipedTx) error) error {
	if !s.pg {
		return s.inPipedTx(ctx, false, fn)
	}
	k := &s.groups
	defer s.observe(OpTx, time.Now())
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &groupJob{ctx: ctx, fn: fn, async: async, wake: make(chan struct{}, 1)}
	k.mu.Lock()
	if k.running < groupSlots {
		k.running++
		j.members = []*groupJob{j}
		k.mu.Unlock()
	} else {
		k.pending = append(k.pending, j)
		k.mu.Unlock()
		<-j.wake
	}
	g := j.g
	if j.members != nil {
		g = k.lead(s, j.members)
	} else {
		g.run(s, j)
		<-g.ended
	}
	switch {
	case g.err == nil:
		return nil
	case isOutage(g.err):
		return unavailable(g.err)
	}
	k.mu.Lock()
	k.alone++
	k.mu.Unlock()
	return s.inPipedTx(ctx, async, fn)
}

// lead runs the group of members (the first is the caller's own job) on one of s's
// connections, then hands the slot to the jobs waiting, and returns the ended group.
func (k *txGroups) lead(s *Store, members []*groupJob) *txGroup {
	g := &txGroup{running: len(members), round: make(chan struct{}), done: make(chan struct{}), ended: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(members[0].ctx), groupTimeout)
	defer cancel()
	wakeMembers := func() {
		for _, m := range members[1:] {
			m.g = g
			m.wake <- struct{}{}
		}
	}
	err := s.w.onPgConn(ctx, func(conn *pgx.Conn) error {
		async := true
		for _, m := range members {
			async = async && m.async
		}
		g.p = begin(ctx, conn, async)
		g.p.execLater(nil, qGroupLockTimeout)
		wakeMembers()
		g.run(s, members[0])
		<-g.done
		if g.err == nil {
			g.p.execLater(nil, "COMMIT")
			g.err = g.flush()
		}
		if g.err != nil {
			g.p.rollback()
		}
		return g.err
	})
	if g.p == nil { // no connection: the members learn it without running
		g.err = err
		wakeMembers()
	}
	close(g.ended)

	k.mu.Lock()
	k.groups++
	k.jobs += int64(len(members))
	if n := min(len(k.pending), groupMax); n > 0 {
		next := append([]*groupJob(nil), k.pending[:n]...)
		k.pending = k.pending[n:]
		next[0].members = next
		next[0].wake <- struct{}{}
	} else {
		k.running--
	}
	k.mu.Unlock()
	return g
}

// run runs m's fn in g, unless g failed before it started (its connection).
func (g *txGroup) run(s *Store, m *groupJob) {
	var err error
	if g.p != nil {
		err = s.call(m.ctx, func() error { return m.fn(groupTx{g}) })
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil && g.err == nil {
		g.err = err
	}
	g.running--
	switch {
	case g.running == 0:
		close(g.done)
	case g.waiting == g.running:
		g.flushLocked()
	}
}

// wait sends the round trip if every member still running waits for it, or else waits
// for the member that does; it returns the group's first failure.
func (g *txGroup) wait() error {
	g.mu.Lock()
	if g.err != nil {
		g.mu.Unlock()
		return g.err
	}
	g.waiting++
	if g.waiting == g.running {
		g.flushLocked()
		err := g.err
		g.mu.Unlock()
		return err
	}
	round := g.round
	g.mu.Unlock()
	<-round
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// flushLocked sends what the members queued, unless the group failed already (it will
// be rolled back), and releases the members waiting. Called with g.mu held.
func (g *txGroup) flushLocked() {
	if g.err == nil {
		g.err = g.flush()
	}
	g.waiting = 0
	close(g.round)
	g.round = make(chan struct{})
}

// flush sends the batch. A member's scan that panics fails the group, here and not in
// the member's goroutine: the flush may run on another member's, or outside any fn, with
// g.mu held.
func (g *txGroup) flush() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlstore: panic reading a grouped transaction's results: %v", p)
		}
	}()
	return g.p.flush()
}

// groupTx is a member's view of its group's transaction.
type groupTx struct{ g *txGroup }

func (t groupTx) queue(fn func(*pgPipe)) error {
	t.g.mu.Lock()
	defer t.g.mu.Unlock()
	if t.g.err != nil {
		return t.g.err
	}
	fn(t.g.p)
	return nil
}

func (t groupTx) execLater(n *int64, q string, args ...any) error {
	return t.queue(func(p *pgPipe) { p.execLater(n, q, args...) })
}

func (t groupTx) rowLater(scan func(scanner) error, q string, args ...any) error {
	return t.queue(func(p *pgPipe) { p.rowLater(scan, q, args...) })
}

func (t groupTx) row(scan func(scanner) error, q string, args ...any) error {
	if err := t.rowLater(scan, q, args...); err != nil {
		return err
	}
	return t.g.wait()
}

func (t groupTx) rows(scan func(scanner) error, q string, args ...any) error {
	if err := t.queue(func(p *pgPipe) { p.rowsLater(scan, q, args...) }); err != nil {
		return err
	}
	return t.g.wait()
}

func (t groupTx) send() error { return t.g.wait() }
