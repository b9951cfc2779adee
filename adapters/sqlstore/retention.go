package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/motlan/motlan/signing"
)

// ---- retention (signing.PurgeStore; the job is internal/retention)

var (
	qDocStats        = "SELECT COUNT(*), COALESCE(SUM(length(original)), 0) + COALESCE(SUM(length(signed)), 0) FROM signing_documents WHERE request_id = ?"
	qDeleteDocs      = "DELETE FROM signing_documents WHERE request_id = ?"
	qMarkPurged      = "UPDATE signing_requests SET documents_purged_at = ? WHERE id = ?"
	qDeleteRequest   = "DELETE FROM signing_requests WHERE id = ?"
	qStoredBytes     = "SELECT COALESCE(SUM(length(original)), 0) + COALESCE(SUM(length(signed)), 0) FROM signing_documents"
	qDocumentsPurged = "SELECT documents_purged_at FROM signing_requests WHERE id = ?"
)

// finalStatuses are the statuses a purge may touch; anything else is never purged.
var finalStatuses = []signing.Status{signing.StatusSigned, signing.StatusRejected, signing.StatusCanceled,
	signing.StatusExpired, signing.StatusFailed}

// PurgeSigningDocuments deletes the PDFs of up to limit requests in statuses that ended
// before endedBefore, oldest first, in one transaction, and marks the requests purged.
func (s *Store) PurgeSigningDocuments(ctx context.Context, statuses []signing.Status, endedBefore time.Time, limit int) (signing.Purged, error) {
	const op = "purge signing documents"
	in, args := statusFilter(statuses)
	if in == "" || limit <= 0 {
		return signing.Purged{}, nil
	}
	q := "SELECT id FROM signing_requests WHERE documents_purged_at = 0 AND status IN (" + in +
		") AND updated_at < ? ORDER BY updated_at, id LIMIT ?" + s.forUpdate()
	var out signing.Purged
	err := s.inTx(ctx, func(tx *txn) error {
		out = signing.Purged{}
		ids, err := tx.ids(q, append(args, ms(endedBefore), int64(limit))...)
		if err != nil {
			return err
		}
		now := s.nowMS()
		for _, id := range ids {
			n, bytes, err := tx.deleteDocuments(id)
			if err != nil {
				return err
			}
			if _, err := tx.exec(qMarkPurged, now, id); err != nil {
				return err
			}
			out = out.Add(signing.Purged{Requests: 1, Documents: n, Bytes: bytes})
		}
		return nil
	})
	if err != nil {
		return signing.Purged{}, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return out, nil
}

// PurgeSigningRequests deletes up to limit ended requests that ended before endedBefore,
// oldest first, with the PDFs they still hold, in one transaction.
func (s *Store) PurgeSigningRequests(ctx context.Context, endedBefore time.Time, limit int) (signing.Purged, error) {
	const op = "purge signing requests"
	if limit <= 0 {
		return signing.Purged{}, nil
	}
	in, args := statusFilter(finalStatuses)
	q := "SELECT id FROM signing_requests WHERE status IN (" + in + ") AND updated_at < ? ORDER BY updated_at, id LIMIT ?" + s.forUpdate()
	var out signing.Purged
	err := s.inTx(ctx, func(tx *txn) error {
		out = signing.Purged{}
		ids, err := tx.ids(q, append(args, ms(endedBefore), int64(limit))...)
		if err != nil {
			return err
		}
		for _, id := range ids {
			n, bytes, err := tx.deleteDocuments(id)
			if err != nil {
				return err
			}
			if _, err := tx.exec(qDeleteRequest, id); err != nil {
				return err
			}
			out = out.Add(signing.Purged{Requests: 1, Documents: n, Bytes: bytes})
		}
		return nil
	})
	if err != nil {
		return signing.Purged{}, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return out, nil
}

// StoredDocumentBytes sums the stored PDFs. length() of a blob reads no content on SQLite
// and, on PostgreSQL, only the TOAST header, so this scans rows, not bytes.
func (s *Store) StoredDocumentBytes(ctx context.Context) (int64, error) {
	row, err := s.queryRow(ctx, qStoredBytes)
	var n int64
	if err == nil {
		err = row.Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: stored document bytes: %w", err)
	}
	return n, nil
}

// statusFilter is the placeholders and arguments of an IN list of the final statuses
// among statuses ("" when there are none).
func statusFilter(statuses []signing.Status) (string, []any) {
	var marks []string
	var args []any
	for _, st := range statuses {
		if st.Final() {
			marks = append(marks, "?")
			args = append(args, string(st))
		}
	}
	return strings.Join(marks, ", "), args
}

// ids reads one column of ids; the rows are closed before the caller's next statement
// (SQLite's one writer connection cannot interleave them).
func (t *txn) ids(q string, args ...any) ([]string, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// deleteDocuments deletes a request's PDFs and reports how many and their bytes.
func (t *txn) deleteDocuments(id string) (int, int64, error) {
	row, err := t.queryRow(qDocStats, id)
	var n, bytes int64
	if err == nil {
		err = row.Scan(&n, &bytes)
	}
	if err != nil {
		return 0, 0, err
	}
	if n > 0 {
		if _, err := t.exec(qDeleteDocs, id); err != nil {
			return 0, 0, err
		}
	}
	return int(n), bytes, nil
}

// missingDocument explains a document row that is not there: signing.ErrPurged when the
// retention purge deleted the request's PDFs, else signing.ErrNotFound.
func (s *Store) missingDocument(ctx context.Context, op, id string) error {
	row, err := s.queryRow(ctx, qDocumentsPurged, id)
	var at int64
	if err == nil {
		err = row.Scan(&at)
	}
	switch {
	case err == nil && at > 0:
		return fmt.Errorf("sqlstore: %s: %w", op, signing.ErrPurged)
	case err == nil, errors.Is(err, sql.ErrNoRows):
		return signingRead(op, sql.ErrNoRows)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// ---- one replica at a time

// sqliteJobs holds the in-process locks of TryJobLock on SQLite, which serves one process.
var sqliteJobs sync.Map // jobKey -> *sync.Mutex

type jobKey struct {
	s    *Store
	name string
}

// TryJobLock takes the lock named name if no one holds it, for a background job that one
// replica at a time must run (the retention purge). On PostgreSQL it is a session
// advisory lock held on a connection of its own, so a replica that dies releases it with
// its connection; on SQLite an in-process mutex. ok is false when another holds it;
// release must be called once when ok.
func (s *Store) TryJobLock(ctx context.Context, name string) (release func(), ok bool, err error) {
	if !s.pg {
		m, _ := sqliteJobs.LoadOrStore(jobKey{s, name}, &sync.Mutex{})
		mu := m.(*sync.Mutex)
		if !mu.TryLock() {
			return nil, false, nil
		}
		return mu.Unlock, true, nil
	}
	h := fnv.New64a()
	h.Write([]byte("motlan job " + name))
	key := int64(h.Sum64())
	conn, err := s.w.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("sqlstore: job lock %s: %w", name, unavailable(err))
	}
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil || !ok {
		conn.Close()
		if err != nil {
			return nil, false, fmt.Errorf("sqlstore: job lock %s: %w", name, unavailable(err))
		}
		return nil, false, nil
	}
	return func() {
		// A failed unlock leaves the lock on a broken connection, which Close discards.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // discards the connection
		}
		conn.Close()
	}, true, nil
}

var _ signing.PurgeStore = (*Store)(nil)
