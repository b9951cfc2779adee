package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/motlan/motlan/idp/store"
)

// unavailable wraps err with store.ErrUnavailable when it says the database cannot be
// reached or cannot answer now, and returns any other error unchanged. It runs where
// every statement's error leaves this package's helpers (exec, query, row scans,
// transactions), so that callers branch with errors.Is instead of on driver types.
func unavailable(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) || !isOutage(err) {
		return err
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

// isOutage reports whether err is a connection, server-state or resource failure rather
// than something about the statement or the data.
func isOutage(err error) bool {
	switch {
	case errors.Is(err, sql.ErrConnDone), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return true
	case strings.Contains(err.Error(), "sql: database is closed"), strings.Contains(err.Error(), "sql: statement is closed"):
		// database/sql's own errors for a closed *sql.DB and its statements are not
		// exported.
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	// ErrConnClosed: a statement on a pgx connection that an earlier failure (a server
	// stopped at once, a cut connection) has closed.
	if errors.As(err, &ce) || pgconn.Timeout(err) || errors.Is(err, pgconn.ErrConnClosed) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 08: connection exception; 53: insufficient resources (too many connections,
		// disk full); 57P01-57P03: the server shuts down or is starting.
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "53") ||
			pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return true
		}
	}
	return false
}

// outageRow is a *sql.Row whose Scan reports outages as store.ErrUnavailable.
type outageRow struct{ *sql.Row }

func (r outageRow) Scan(dest ...any) error { return unavailable(r.Row.Scan(dest...)) }
