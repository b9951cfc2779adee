package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// A login's two write transactions (RecordLogin, RedeemAuthCode) and a refresh's
// (RotateRefreshTokenWith, RotateRefreshTokenAgain) run through pipedTx. On PostgreSQL each
// statement through database/sql is a round trip of its own, and at 32 concurrent logins
// those round trips (a write and a read syscall on both sides, a wake-up of the server
// process) cost more CPU than the statements: a pgPipe sends the statements whose results
// the transaction does not wait for together with the next one it does, BEGIN with the
// first and COMMIT with the last; all but RotateRefreshTokenAgain share a pgPipe with
// other logins' in a group (group.go). On SQLite, in process, a txn runs each statement at
// once.

// pipedTx is a write transaction as those use it.
type pipedTx interface {
	// execLater runs a write whose rows affected the caller reads only after its next
	// row or the commit; n, when not nil, receives them. An error fails the transaction.
	execLater(n *int64, q string, args ...any) error
	// rowLater runs a statement that returns one row, which scan reads by the caller's
	// next row or the commit. scan's error is the transaction's.
	rowLater(scan func(scanner) error, q string, args ...any) error
	// row runs a statement that returns one row, after everything queued, and scans it.
	row(scan func(scanner) error, q string, args ...any) error
	// rows runs a query after everything queued and scans each row it returns.
	rows(scan func(scanner) error, q string, args ...any) error
	// send runs everything queued, for a caller that needs a rows-affected count next.
	send() error
}

func (t *txn) execLater(n *int64, q string, args ...any) error {
	m, err := t.exec(q, args...)
	if n != nil {
		*n = m
	}
	return err
}

func (t *txn) rowLater(scan func(scanner) error, q string, args ...any) error {
	return t.row(scan, q, args...)
}

func (t *txn) send() error { return nil }

func (t *txn) row(scan func(scanner) error, q string, args ...any) error {
	r, err := t.queryRow(q, args...)
	if err != nil {
		return err
	}
	return scan(r)
}

func (t *txn) rows(scan func(scanner) error, q string, args ...any) error {
	rs, err := t.query(q, args...)
	if err != nil {
		return err
	}
	defer rs.Close()
	return scanEach(rs, scan)
}

// scanEach scans each of rs's rows with scan: database/sql's rows or pgx's.
func scanEach(rs interface {
	scanner
	Next() bool
	Err() error
}, scan func(scanner) error) error {
	for rs.Next() {
		if err := scan(rs); err != nil {
			return err
		}
	}
	return rs.Err()
}

// inPipedTx runs fn in a write transaction: a pgPipe on PostgreSQL, whose commit does not
// wait for the WAL flush if async is set, inTx's on SQLite (whose commits do not wait for
// the disk either way: see openSQLite).
func (s *Store) inPipedTx(ctx context.Context, async bool, fn func(pipedTx) error) error {
	if !s.pg {
		return s.inTx(ctx, func(tx *txn) error { return fn(tx) })
	}
	defer s.observe(OpTx, time.Now())
	ctx, err := s.stmtCtx(ctx)
	if err != nil {
		return err
	}
	return unavailable(s.w.onPgConn(ctx, func(conn *pgx.Conn) error {
		p := begin(ctx, conn, async)
		err := s.call(ctx, func() error { return fn(p) })
		if err == nil {
			p.execLater(nil, "COMMIT")
			if err = p.flush(); err == nil {
				return nil
			}
		}
		p.rollback()
		return err
	}))
}

// onPgConn runs fn on one of p's pgx connections, held for it alone.
func (p *pool) onPgConn(ctx context.Context, fn func(*pgx.Conn) error) error {
	c, err := p.db.Conn(ctx)
	if err != nil {
		return unavailable(err)
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("sqlstore: PostgreSQL connection is a %T, not pgx's", dc)
		}
		return fn(sc.Conn())
	})
}

// begin starts a pgPipe's transaction on conn: BEGIN waits in its batch for the first
// statement. With async, the commit does not wait for the WAL flush (SET LOCAL lasts
// the transaction).
func begin(ctx context.Context, conn *pgx.Conn, async bool) *pgPipe {
	p := &pgPipe{ctx: ctx, conn: conn}
	p.execLater(nil, "BEGIN")
	if async {
		p.execLater(nil, qAsyncCommit)
	}
	return p
}

// pgPipe is a PostgreSQL transaction on one pgx connection whose statements wait in a
// batch until one whose row is needed, or the commit, sends them all.
type pgPipe struct {
	ctx     context.Context
	conn    *pgx.Conn
	batch   pgx.Batch
	results []func(pgx.BatchResults) error // per queued statement: how its result is read
	sent    bool                           // BEGIN has gone to the server
}

func (p *pgPipe) execLater(n *int64, q string, args ...any) error {
	p.queue(func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if n != nil {
			*n = tag.RowsAffected()
		}
		return err
	}, q, args)
	return nil
}

func (p *pgPipe) rowLater(scan func(scanner) error, q string, args ...any) error {
	p.queue(func(br pgx.BatchResults) error { return scan(br.QueryRow()) }, q, args)
	return nil
}

func (p *pgPipe) row(scan func(scanner) error, q string, args ...any) error {
	p.rowLater(scan, q, args...)
	return p.flush()
}

func (p *pgPipe) rows(scan func(scanner) error, q string, args ...any) error {
	p.rowsLater(scan, q, args...)
	return p.flush()
}

// rowsLater queues a query whose rows scan reads when the batch is sent.
func (p *pgPipe) rowsLater(scan func(scanner) error, q string, args ...any) {
	p.queue(func(br pgx.BatchResults) error {
		rs, err := br.Query()
		if err != nil {
			return err
		}
		defer rs.Close()
		return scanEach(rs, scan)
	}, q, args)
}

func (p *pgPipe) send() error {
	if len(p.results) == 0 {
		return nil
	}
	return p.flush()
}

func (p *pgPipe) queue(read func(pgx.BatchResults) error, q string, args []any) {
	p.batch.Queue(pgSQL(q), args...)
	p.results = append(p.results, read)
}

// flush sends the batch in one round trip and reads its results in order.
func (p *pgPipe) flush() error {
	b, results := p.batch, p.results
	p.batch, p.results, p.sent = pgx.Batch{}, nil, true
	br := p.conn.SendBatch(p.ctx, &b)
	var err error
	for _, read := range results {
		if err = read(br); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// rollback ends a transaction that failed. A connection left inside it would be
// discarded by pgx's stdlib when returned to the pool (ResetSession); one whose ROLLBACK
// fails is closed here, so that nothing else is sent on it.
func (p *pgPipe) rollback() {
	if !p.sent {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 5*time.Second)
	defer cancel()
	if _, err := p.conn.Exec(ctx, "ROLLBACK"); err != nil {
		p.conn.Close(ctx)
	}
}

// pgSQL is q with PostgreSQL's placeholders, rewritten once per query text.
func pgSQL(q string) string {
	if v, ok := pgQueries.Load(q); ok {
		return v.(string)
	}
	v := rebind(q)
	pgQueries.Store(q, v)
	return v
}

var pgQueries sync.Map // query text with ? -> with $n
