package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/motlan/motlan/idp/store"
)

const auditCols = "seq, at, kind, actor, details, prev_hash, hash"

var (
	qAuditHead   = "SELECT seq, hash FROM audit_head WHERE id = 1"
	qInsertAudit = insertSQL("audit_log", auditCols)
	// Many records in one statement on PostgreSQL: a column of each as an array.
	qInsertAuditMany = "INSERT INTO audit_log (" + auditCols + ") SELECT * FROM " +
		"unnest(?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])"
	qUpdateAuditHead = "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"
	qListAudit       = "SELECT " + auditCols + " FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"

	qInsertPending = insertSQL("audit_pending", "at, kind, actor, details")
	qListPending   = "SELECT id, at, kind, actor, details FROM audit_pending ORDER BY id LIMIT ?"
	// The ids sealed, as a bigint[] on PostgreSQL and as a JSON array on SQLite.
	qDeletePendingPG     = "DELETE FROM audit_pending WHERE id = ANY(?)"
	qDeletePendingSQLite = "DELETE FROM audit_pending WHERE id IN (SELECT value FROM json_each(?))"
	qPendingSummary      = "SELECT COUNT(*), COALESCE(MIN(at), 0) FROM audit_pending"
	qAnyPending          = "SELECT 1 FROM audit_pending LIMIT 1"
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
	err := s.inPipedTx(ctx, false, func(tx pipedTx) error {
		head := chainHead{pg: s.pg}
		if err := head.lock(tx); err != nil {
			return err
		}
		// Acts recorded with themselves come first: they committed before this append.
		if _, err := head.sealPending(tx, maxSealOnAppend, seal); err != nil {
			return err
		}
		var err error
		out, err = head.chain(tx, rs, seal)
		return err
	})
	if err != nil {
		return nil, wrapWrite("append audit", err)
	}
	return out, nil
}

// chainHead is the log's last record, moved on by the transaction that holds its lock.
type chainHead struct {
	pg   bool
	seq  int64
	hash string
}

// lock queues the read of the log's head under its lock, into h: the caller's next row
// read or the commit reads it.
func (h *chainHead) lock(tx pipedTx) error {
	return tx.rowLater(func(r scanner) error {
		if err := r.Scan(&h.seq, &h.hash); err != nil {
			return fmt.Errorf("read head: %w", err)
		}
		return nil
	}, qAuditHead+forUpdate(h.pg))
}

// chain appends rs to the log after h and moves h, in the caller's transaction, which
// holds the head's lock. On PostgreSQL more than one record go in one statement.
func (h *chainHead) chain(tx pipedTx, rs []store.AuditRecord, seal func(store.AuditRecord) (string, error)) ([]store.AuditRecord, error) {
	out := make([]store.AuditRecord, len(rs))
	var cols auditColumns
	for i, r := range rs {
		r.Seq, r.PrevHash = h.seq+1, h.hash
		r.At = fromMS(ms(r.At)) // what the store keeps is what gets sealed
		var err error
		if r.Hash, err = seal(r); err != nil {
			return nil, err
		}
		if h.pg && len(rs) > 1 {
			cols.add(r)
		} else if err := tx.execLater(nil, qInsertAudit, r.Seq, ms(r.At), r.Kind, r.Actor, string(r.Details), r.PrevHash, r.Hash); err != nil {
			return nil, err
		}
		out[i], h.seq, h.hash = r, r.Seq, r.Hash
	}
	if len(cols.seq) > 0 {
		if err := tx.execLater(nil, qInsertAuditMany, cols.seq, cols.at, cols.kind, cols.actor, cols.details, cols.prev, cols.hash); err != nil {
			return nil, err
		}
	}
	return out, tx.execLater(nil, qUpdateAuditHead, h.seq, h.hash)
}

// auditColumns are records as columns, for qInsertAuditMany.
type auditColumns struct {
	seq, at                          []int64
	kind, actor, details, prev, hash []string
}

func (c *auditColumns) add(r store.AuditRecord) {
	c.seq, c.at = append(c.seq, r.Seq), append(c.at, ms(r.At))
	c.kind, c.actor, c.details = append(c.kind, r.Kind), append(c.actor, r.Actor), append(c.details, string(r.Details))
	c.prev, c.hash = append(c.prev, r.PrevHash), append(c.hash, r.Hash)
}

// SealPendingAudit implements store.Audit. The head's lock serializes sealers of every
// replica; records are removed by id, so one committed after the read stays pending. On
// PostgreSQL a seal takes two round trips however many records it seals: the head's lock
// with the read of the pending records, then the records, their removal and the commit.
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
	err = s.inPipedTx(ctx, false, func(tx pipedTx) error {
		// The head first: a second sealer waits here, then reads what the first left.
		head := chainHead{pg: s.pg}
		if err := head.lock(tx); err != nil {
			return err
		}
		out, err = head.sealPending(tx, limit, seal)
		return err
	})
	if err != nil {
		return nil, wrapWrite("seal pending audit", err)
	}
	return out, nil
}

// maxSealOnAppend bounds the pending records an append seals before its own.
const maxSealOnAppend = 1024

// sealPending chains up to limit pending records after h and removes them from the
// pending ones, in the caller's transaction, which holds the head's lock.
func (h *chainHead) sealPending(tx pipedTx, limit int, seal func(store.AuditRecord) (string, error)) ([]store.AuditRecord, error) {
	ids, rs, err := listPendingTx(tx, limit)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	out, err := h.chain(tx, rs, seal)
	if err != nil {
		return nil, err
	}
	// One statement removes them all, however many.
	var arg any = ids
	if !h.pg {
		list, _ := json.Marshal(ids)
		arg = string(list)
	}
	return out, tx.execLater(nil, deletePendingSQL(h.pg), arg)
}

func deletePendingSQL(pg bool) string {
	if pg {
		return qDeletePendingPG
	}
	return qDeletePendingSQLite
}

// listPendingTx reads up to limit pending records, oldest first, with their ids.
func listPendingTx(tx pipedTx, limit int) ([]int64, []store.AuditRecord, error) {
	var (
		ids []int64
		rs  []store.AuditRecord
	)
	err := tx.rows(func(sc scanner) error {
		var (
			id, at  int64
			r       store.AuditRecord
			details string
		)
		if err := sc.Scan(&id, &at, &r.Kind, &r.Actor, &details); err != nil {
			return err
		}
		r.At, r.Details = fromMS(at), raw(details)
		ids, rs = append(ids, id), append(rs, r)
		return nil
	}, qListPending, limit)
	return ids, rs, err
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
