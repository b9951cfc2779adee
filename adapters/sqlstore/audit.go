package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/motlan/motlan/idp/store"
)

const auditCols = "seq, at, kind, actor, details, prev_hash, hash"

var (
	qAuditHead       = "SELECT seq, hash FROM audit_head WHERE id = 1"
	qInsertAudit     = insertSQL("audit_log", auditCols)
	qUpdateAuditHead = "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"
	qListAudit       = "SELECT " + auditCols + " FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"

	qInsertPending  = insertSQL("audit_pending", "at, kind, actor, details")
	qListPending    = "SELECT id, at, kind, actor, details FROM audit_pending ORDER BY id LIMIT ?"
	qDeletePending  = "DELETE FROM audit_pending WHERE id = ?"
	qPendingSummary = "SELECT COUNT(*), COALESCE(MIN(at), 0) FROM audit_pending"
	qAnyPending     = "SELECT 1 FROM audit_pending LIMIT 1"
)

// insertPendingAudit writes rs as pending records in the caller's transaction.
func insertPendingAudit(tx pipedTx, rs []store.AuditRecord) error {
	for _, r := range rs {
		if r.Kind == "" || r.Actor == "" {
			return errors.New("pending audit record without kind or actor")
		}
		details := string(r.Details)
		if details == "" {
			details = "{}"
		}
		if err := tx.execLater(nil, qInsertPending, ms(r.At), r.Kind, r.Actor, details); err != nil {
			return err
		}
	}
	return nil
}

// AppendAudit appends records under the lock of the single audit_head row: FOR UPDATE on
// PostgreSQL, the IMMEDIATE transaction's write lock on SQLite (which also covers other
// processes on the same file). The seq primary key is a second guard against a fork.
func (s *Store) AppendAudit(ctx context.Context, rs []store.AuditRecord, seal func(store.AuditRecord) (string, error)) ([]store.AuditRecord, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	var out []store.AuditRecord
	err := s.inTx(ctx, func(tx *txn) error {
		seq, prev, err := s.lockHeadTx(tx)
		if err != nil {
			return err
		}
		// Acts recorded with themselves come first: they committed before this append.
		sealed, err := sealPendingTx(tx, seq, prev, maxSealOnAppend, seal)
		if err != nil {
			return err
		}
		if n := len(sealed); n > 0 {
			seq, prev = sealed[n-1].Seq, sealed[n-1].Hash
		}
		out, err = chainTx(tx, seq, prev, rs, seal)
		return err
	})
	if err != nil {
		return nil, wrapWrite("append audit", err)
	}
	return out, nil
}

// lockHeadTx locks the log's head row for the caller's transaction and reads it.
func (s *Store) lockHeadTx(tx *txn) (seq int64, prev string, err error) {
	row, err := tx.queryRow(qAuditHead + s.forUpdate())
	if err != nil {
		return 0, "", err
	}
	if err := row.Scan(&seq, &prev); err != nil {
		return 0, "", fmt.Errorf("read head: %w", err)
	}
	return seq, prev, nil
}

// chainTx appends rs to the log in the caller's transaction, which holds the head's lock
// and read seq and prev from it.
func chainTx(tx *txn, seq int64, prev string, rs []store.AuditRecord, seal func(store.AuditRecord) (string, error)) ([]store.AuditRecord, error) {
	out := make([]store.AuditRecord, len(rs))
	for i, r := range rs {
		r.Seq, r.PrevHash = seq+1, prev
		r.At = fromMS(ms(r.At)) // what the store keeps is what gets sealed
		var err error
		if r.Hash, err = seal(r); err != nil {
			return nil, err
		}
		if _, err := tx.exec(qInsertAudit, r.Seq, ms(r.At), r.Kind, r.Actor, string(r.Details), r.PrevHash, r.Hash); err != nil {
			return nil, err
		}
		out[i], seq, prev = r, r.Seq, r.Hash
	}
	_, err := tx.exec(qUpdateAuditHead, seq, prev)
	return out, err
}

// SealPendingAudit implements store.Audit. The head's lock serializes sealers of every
// replica; records are removed by id, so one committed after the read stays pending.
func (s *Store) SealPendingAudit(ctx context.Context, limit int, seal func(store.AuditRecord) (string, error)) ([]store.AuditRecord, error) {
	// Most calls find nothing: say so without taking the write lock.
	row, err := s.queryRow(ctx, qAnyPending)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: seal pending audit: %w", err)
	}
	var one int
	if err := row.Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("sqlstore: seal pending audit: %w", err)
	}
	var out []store.AuditRecord
	err = s.inTx(ctx, func(tx *txn) error {
		// The head first: a second sealer waits here, then reads what the first left.
		seq, prev, err := s.lockHeadTx(tx)
		if err != nil {
			return err
		}
		out, err = sealPendingTx(tx, seq, prev, limit, seal)
		return err
	})
	if err != nil {
		return nil, wrapWrite("seal pending audit", err)
	}
	return out, nil
}

// maxSealOnAppend bounds the pending records an append seals before its own.
const maxSealOnAppend = 1024

// sealPendingTx chains up to limit pending records after seq and prev and removes them
// from the pending ones, in the caller's transaction, which holds the head's lock.
func sealPendingTx(tx *txn, seq int64, prev string, limit int, seal func(store.AuditRecord) (string, error)) ([]store.AuditRecord, error) {
	ids, rs, err := listPendingTx(tx, limit)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	out, err := chainTx(tx, seq, prev, rs, seal)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, err := tx.exec(qDeletePending, id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// listPendingTx reads up to limit pending records, oldest first, with their ids.
func listPendingTx(tx *txn, limit int) ([]int64, []store.AuditRecord, error) {
	rows, err := tx.query(qListPending, limit)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		ids []int64
		rs  []store.AuditRecord
	)
	for rows.Next() {
		var (
			id, at  int64
			r       store.AuditRecord
			details string
		)
		if err := rows.Scan(&id, &at, &r.Kind, &r.Actor, &details); err != nil {
			return nil, nil, err
		}
		r.At, r.Details = fromMS(at), raw(details)
		ids, rs = append(ids, id), append(rs, r)
	}
	return ids, rs, rows.Err()
}

// PendingAudit implements store.Audit.
func (s *Store) PendingAudit(ctx context.Context) (int, time.Time, error) {
	row, err := s.queryRow(ctx, qPendingSummary)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("sqlstore: pending audit: %w", err)
	}
	var n int
	var oldest int64
	if err := row.Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, fmt.Errorf("sqlstore: pending audit: %w", err)
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	return n, fromMS(oldest), nil
}

// ListAudit returns up to limit records after seq after.
func (s *Store) ListAudit(ctx context.Context, after int64, limit int) ([]store.AuditRecord, error) {
	out, err := listRows(ctx, s, func(rows *sql.Rows) (store.AuditRecord, error) {
		var (
			r       store.AuditRecord
			at      int64
			details string
		)
		err := rows.Scan(&r.Seq, &at, &r.Kind, &r.Actor, &details, &r.PrevHash, &r.Hash)
		r.At, r.Details = fromMS(at), raw(details)
		return r, err
	}, qListAudit, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list audit: %w", err)
	}
	return out, nil
}

// AuditHead returns the last appended record's seq and hash.
func (s *Store) AuditHead(ctx context.Context) (int64, string, error) {
	row, err := s.queryRow(ctx, qAuditHead)
	if err != nil {
		return 0, "", fmt.Errorf("sqlstore: audit head: %w", err)
	}
	var seq int64
	var hash string
	if err := row.Scan(&seq, &hash); err != nil {
		return 0, "", fmt.Errorf("sqlstore: audit head: %w", err)
	}
	return seq, hash, nil
}

var _ store.Audit = (*Store)(nil)
