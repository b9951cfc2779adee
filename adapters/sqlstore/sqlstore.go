// Package sqlstore implements store.Store on SQLite (modernc.org/sqlite, no cgo) and
// PostgreSQL (pgx through database/sql) with one schema and one set of queries.
//
// Queries are written once with '?' placeholders and rebound to $n for PostgreSQL. Times are
// Unix milliseconds in BIGINT columns (0 is the zero time), lists and maps are JSON text.
//
// On SQLite, writes go through a pool of one connection whose transactions begin IMMEDIATE,
// so a read-modify-write holds the write lock from its first read; reads use a separate
// pool of read-only connections, which WAL lets run beside the writer. On PostgreSQL,
// read-modify-writes lock the row with SELECT ... FOR UPDATE and single-use records are
// claimed with a conditional UPDATE.
package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx/v5"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/motlan/motlan/idp/store"
)

// Drivers accepted in Config.Driver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Config opens a Store.
type Config struct {
	Driver string // "sqlite" | "postgres"
	// DSN is, for SQLite, a file path (its directory is created) or ":memory:"; for
	// PostgreSQL, a pgx connection string.
	DSN    string
	Now    func() time.Time // defaults to time.Now
	Logger *slog.Logger     // defaults to discarding
	// MaxOpenConns bounds the PostgreSQL pool, or SQLite's reader pool (SQLite always has
	// exactly one writer). 0 picks a default.
	MaxOpenConns int

	// Tests' windows onto SQLite's checkpointer: the WAL size from which a write batch
	// starts it over (0: walRestartFrames), and a function told the WAL's frames after
	// each pass.
	restartFrames int
	checkpointed  func(logFrames int)
}

// Store is a store.Store on a SQL database. It is safe for concurrent use.
type Store struct {
	pg     bool
	now    func() time.Time
	log    *slog.Logger
	w      *pool // writes and read-modify-write transactions
	r      *pool // plain reads; the same pool as w on PostgreSQL and in-memory SQLite
	closed sync.Once
	// stopCheckpoints ends the SQLite checkpointer (nil elsewhere).
	stopCheckpoints func()
	// walRestart asks the next write batch to start the WAL over (see checkpointLoop);
	// restartFrames is the WAL's size from which it does (walRestartFrames; tests lower it).
	walRestart    atomic.Bool
	restartFrames int
	// checkpointed, when set (tests), is told the WAL's frames after each pass.
	checkpointed func(logFrames int)
	// batch gathers SQLite write transactions into one (see batch.go); groups gathers
	// PostgreSQL's login and refresh transactions (see group.go).
	batch  batcher
	groups txGroups
	// attrs remembers decoded citizen attributes by their stored text.
	attrs attrMemo
	// observer is told each operation's class and duration (SetObserver); nil: nobody.
	observer atomic.Pointer[func(class string, d time.Duration)]
}

// Operation classes given to the observer.
const (
	OpRead  = "read"  // a query on the read pool
	OpWrite = "write" // a statement on the writer outside a transaction
	OpTx    = "tx"    // a write transaction (on SQLite, its share of a batch)
)

// SetObserver has fn told the class (OpRead, OpWrite, OpTx) and duration of every store
// operation from now on, for metrics; nil stops it. Safe while the store is in use.
func (s *Store) SetObserver(fn func(class string, d time.Duration)) {
	if fn == nil {
		s.observer.Store(nil)
		return
	}
	s.observer.Store(&fn)
}

// observe reports an operation that began at start.
func (s *Store) observe(class string, start time.Time) {
	if fn := s.observer.Load(); fn != nil {
		(*fn)(class, time.Since(start))
	}
}

// pool is a *sql.DB with its prepared statements, keyed by the '?' form of the query.
type pool struct {
	db    *sql.DB
	pg    bool
	stmts sync.Map // string -> *sql.Stmt
}

// Open connects, applies migrations and returns the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s := &Store{now: cfg.Now, log: cfg.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Driver {
	case DriverSQLite:
		if err := s.openSQLite(cfg); err != nil {
			return nil, err
		}
	case DriverPostgres:
		s.pg = true
		db, err := sql.Open("pgx/v5", cfg.DSN)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
		}
		n := cfg.MaxOpenConns
		if n <= 0 {
			n = 16
		}
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
		db.SetConnMaxIdleTime(5 * time.Minute)
		s.w = &pool{db: db, pg: true}
		s.r = s.w
	default:
		return nil, fmt.Errorf("sqlstore: unknown driver %q (want %q or %q)", cfg.Driver, DriverSQLite, DriverPostgres)
	}
	if err := s.ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlstore: connect %s: %w", cfg.Driver, err)
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) openSQLite(cfg Config) error {
	dsn := cfg.DSN
	if dsn == "" {
		return errors.New("sqlstore: sqlite DSN is empty")
	}
	memory := strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory")
	if !memory {
		path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
		if dir := filepath.Dir(path); dir != "." && dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("sqlstore: create sqlite directory: %w", err)
			}
		}
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	// busy_timeout covers other processes on the same file; in this process the single
	// writer connection already serializes writes. temp_store(MEMORY) keeps statement
	// and savepoint journals (every batched job has a savepoint, batch.go) in memory: in
	// a temporary file each journalled page was a write syscall, a third of a login's
	// store CPU (BenchmarkStore/sqlite/RecordLoginNewCitizenParallel32, as it was before
	// it drew random IDs: about 230k -> 145k CPU-ns per login).
	base := dsn + sep + "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)"
	if !memory {
		base += "&_pragma=journal_mode(WAL)"
	}
	// Commits never checkpoint (wal_autocheckpoint 0): a checkpoint's page copies and
	// fsync would stall every write queued behind the single writer. checkpointLoop does
	// them on a connection of its own, which SQLite lets run beside the writer.
	wdb, err := sql.Open("sqlite", base+"&_txlock=immediate&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		return fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	s.w = &pool{db: wdb}
	if memory {
		// Every connection to ":memory:" is its own database: share the one.
		s.r = s.w
		return nil
	}
	rdb, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		wdb.Close()
		return fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	n := cfg.MaxOpenConns
	if n <= 0 {
		n = max(4, runtime.GOMAXPROCS(0))
	}
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	rdb.SetConnMaxLifetime(0)
	s.r = &pool{db: rdb}
	cdb, err := sql.Open("sqlite", base)
	if err != nil {
		wdb.Close()
		rdb.Close()
		return fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	cdb.SetMaxOpenConns(1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.restartFrames, s.checkpointed = cmp.Or(cfg.restartFrames, walRestartFrames), cfg.checkpointed
	go s.checkpointLoop(ctx, cdb, done)
	s.stopCheckpoints = func() { cancel(); <-done; cdb.Close() }
	return nil
}

// Close closes the database handles.
func (s *Store) Close() error {
	var err error
	s.closed.Do(func() {
		if s.stopCheckpoints != nil {
			s.stopCheckpoints()
		}
		err = s.w.close()
		if s.r != s.w && s.r != nil {
			err = errors.Join(err, s.r.close())
		}
	})
	return err
}

func (p *pool) close() error {
	p.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	return p.db.Close()
}

// DeleteExpired removes expired auth requests, codes, sessions, refresh tokens, client
// assertions and revoked-token entries, and returns how many rows went.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	now := s.nowMS()
	var total int64
	for _, table := range []string{"auth_requests", "auth_codes", "sessions", "refresh_tokens", "client_assertions", "revoked_tokens"} {
		n, err := s.exec(ctx, "DELETE FROM "+table+" WHERE expires_at <= ?", now)
		if err != nil {
			return total, fmt.Errorf("sqlstore: delete expired %s: %w", table, err)
		}
		total += n
	}
	return total, nil
}

// prepare warms the statement cache of the write pool with the queries run inside
// transactions.
func (s *Store) prepare(ctx context.Context) error {
	var batching []string
	if !s.pg {
		batching = []string{qSavepoint, qRollbackToSavepoint, qReleaseSavepoint}
	}
	for _, q := range append(batching,
		qUpsertCitizen, qUpdateCitizen,
		qGetAuthRequest+s.forUpdate(), qUpdateAuthRequest,
		qClaimRefresh, qInsertRefresh, qRefreshState, qRefreshSuccessor+s.forUpdate(), qRevokeUnused, qSetSuccessor,
		qInsertSession, qInsertAuthCode, qConsumeAuthCode, qDeleteExpiredAssertion, qUseOnce, qInsertPending,
		qGetCitizen, qCodeCitizen, qRecordSubject, qInsertRelease,
		qAuditHead+s.forUpdate(), qInsertAudit, qUpdateAuditHead, qListPending, deletePendingSQL(s.pg),
	) {
		if _, err := s.w.stmt(ctx, q); err != nil {
			return fmt.Errorf("sqlstore: prepare %q: %w", q, err)
		}
	}
	return nil
}

// stmt returns the prepared form of q, preparing it on first use.
func (p *pool) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := p.stmts.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	text := q
	if p.pg {
		text = rebind(q)
	}
	st, err := p.db.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	if prev, loaded := p.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// rebind turns '?' placeholders into PostgreSQL's $1, $2, ... Queries here hold no '?'
// inside literals.
func rebind(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// stmtCtx is the context statements run under. On SQLite it drops cancellation once the
// call has started: modernc watches a cancellable context with a goroutine per statement,
// which cost more CPU than the point queries here (about 30 µs of ~70), and the only long
// wait, busy_timeout, is bounded anyway.
func (s *Store) stmtCtx(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.pg {
		return ctx, nil
	}
	return context.WithoutCancel(ctx), nil
}

// exec runs a write outside any transaction and returns the rows affected.
func (s *Store) exec(ctx context.Context, q string, args ...any) (int64, error) {
	defer s.observe(OpWrite, time.Now())
	ctx, st, err := s.prepared(ctx, s.w, q)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, unavailable(err)
	}
	return res.RowsAffected()
}

// prepared returns q's prepared statement on pool p and the context to run it in. A
// cancelled ctx is returned as it is; a failure to reach the database is ErrUnavailable.
func (s *Store) prepared(ctx context.Context, p *pool, q string) (context.Context, *sql.Stmt, error) {
	ctx, err := s.stmtCtx(ctx)
	if err != nil {
		return ctx, nil, err
	}
	st, err := p.stmt(ctx, q)
	return ctx, st, unavailable(err)
}

// queryRow reads one row from the read pool.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) (outageRow, error) {
	defer s.observe(OpRead, time.Now())
	ctx, st, err := s.prepared(ctx, s.r, q)
	if err != nil {
		return outageRow{}, err
	}
	return outageRow{st.QueryRowContext(ctx, args...)}, nil
}

// query reads rows from the read pool.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	defer s.observe(OpRead, time.Now()) // to the first row; scanning the rest is the caller's
	ctx, st, err := s.prepared(ctx, s.r, q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	return rows, unavailable(err)
}

// listRows runs q on the read pool and scans every row with scan.
func listRows[T any](ctx context.Context, s *Store, scan func(*sql.Rows) (T, error), q string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, unavailable(rows.Err())
}

// writeQueryRow runs a statement that writes and returns a row (UPDATE ... RETURNING).
func (s *Store) writeQueryRow(ctx context.Context, q string, args ...any) (outageRow, error) {
	defer s.observe(OpWrite, time.Now())
	ctx, st, err := s.prepared(ctx, s.w, q)
	if err != nil {
		return outageRow{}, err
	}
	return outageRow{st.QueryRowContext(ctx, args...)}, nil
}

// inTx runs fn in a write transaction (IMMEDIATE on SQLite) and commits if fn returns nil.
// On SQLite, concurrent calls share one transaction, fn in a savepoint of its own: fn
// must not keep tx after it returns, and must not call the store.
func (s *Store) inTx(ctx context.Context, fn func(tx *txn) error) error {
	defer s.observe(OpTx, time.Now())
	ctx, err := s.stmtCtx(ctx)
	if err != nil {
		return err
	}
	if !s.pg {
		return unavailable(s.inBatch(ctx, fn))
	}
	sqlTx, err := s.w.db.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(err)
	}
	tx := &txn{Tx: sqlTx, p: s.w, ctx: ctx}
	if err := s.call(ctx, func() error { return fn(tx) }); err != nil {
		sqlTx.Rollback()
		return unavailable(err)
	}
	return unavailable(sqlTx.Commit())
}

// txn binds the pool's prepared statements to one transaction.
type txn struct {
	*sql.Tx
	p   *pool
	ctx context.Context
}

// stmt binds the cached statement to the transaction. An uncached one is prepared on the
// transaction itself: preparing on the pool would wait for a second connection, which the
// single SQLite writer never has. Open warms the cache, so this is the rare path.
func (t *txn) stmt(q string) (*sql.Stmt, error) {
	if st, ok := t.p.stmts.Load(q); ok {
		return t.Tx.StmtContext(t.ctx, st.(*sql.Stmt)), nil
	}
	text := q
	if t.p.pg {
		text = rebind(q)
	}
	return t.Tx.PrepareContext(t.ctx, text)
}

func (t *txn) exec(q string, args ...any) (int64, error) {
	st, err := t.stmt(q)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(t.ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *txn) query(q string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(t.ctx, args...)
}

func (t *txn) queryRow(q string, args ...any) (outageRow, error) {
	st, err := t.stmt(q)
	if err != nil {
		return outageRow{}, err
	}
	return outageRow{st.QueryRowContext(t.ctx, args...)}, nil
}

// forUpdate is appended to a SELECT in a read-modify-write. SQLite needs none: the
// IMMEDIATE transaction already holds the database's write lock.
func (s *Store) forUpdate() string { return forUpdate(s.pg) }

func forUpdate(pg bool) string {
	if pg {
		return " FOR UPDATE"
	}
	return ""
}

func (s *Store) nowMS() int64 { return s.now().UnixMilli() }

// ping opens the first write connection. Processes opening a new SQLite file at the same
// moment race to switch it to WAL, and SQLite answers the losers SQLITE_BUSY without
// waiting for busy_timeout: they try again, for as long as busy_timeout would wait.
func (s *Store) ping(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := s.w.db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || s.pg || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// isUnique reports whether err is a unique or primary key violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// wrapWrite turns a unique violation into store.ErrConflict.
func wrapWrite(op string, err error) error {
	if err == nil {
		return nil
	}
	if isUnique(err) {
		return fmt.Errorf("sqlstore: %s: %w: %w", op, store.ErrConflict, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// wrapRead turns sql.ErrNoRows into store.ErrNotFound.
func wrapRead(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

var _ store.Store = (*Store)(nil)
