package sqlstore

import (
	"context"
	"fmt"

	"github.com/motlan/motlan/idp/store"
)

const auditCols = "seq, at, kind, actor, details, prev_hash, hash"

var (
	qAuditHead       = "SELECT seq, hash FROM audit_head WHERE id = 1"
	qInsertAudit     = insertSQL("audit_log", auditCols)
	qUpdateAuditHead = "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"
	qListAudit       = "SELECT " + auditCols + " FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"
)

// AppendAudit appends records under the lock of the single audit_head row: FOR UPDATE on
// PostgreSQL, the IMMEDIATE transaction's write lock on SQLite (which also covers other
// processes on the same file). The seq primary key is a second guard against a fork.
func (s *Store) AppendAudit(ctx context.Context, rs []store.AuditRecord, seal func(store.AuditRecord) (string, error)) ([]store.AuditRecord, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	out := make([]store.AuditRecord, len(rs))
	err := s.inTx(ctx, func(tx *txn) error {
		row, err := tx.queryRow(qAuditHead + s.forUpdate())
		if err != nil {
			return err
		}
		var seq int64
		var prev string
		if err := row.Scan(&seq, &prev); err != nil {
			return fmt.Errorf("read head: %w", err)
		}
		for i, r := range rs {
			r.Seq, r.PrevHash = seq+1, prev
			r.At = fromMS(ms(r.At)) // what the store keeps is what gets sealed
			if r.Hash, err = seal(r); err != nil {
				return err
			}
			if _, err := tx.exec(qInsertAudit, r.Seq, ms(r.At), r.Kind, r.Actor, string(r.Details), r.PrevHash, r.Hash); err != nil {
				return err
			}
			out[i], seq, prev = r, r.Seq, r.Hash
		}
		_, err = tx.exec(qUpdateAuditHead, seq, prev)
		return err
	})
	if err != nil {
		return nil, wrapWrite("append audit", err)
	}
	return out, nil
}

// ListAudit returns up to limit records after seq after.
func (s *Store) ListAudit(ctx context.Context, after int64, limit int) ([]store.AuditRecord, error) {
	rows, err := s.query(ctx, qListAudit, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list audit: %w", err)
	}
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		var (
			r       store.AuditRecord
			at      int64
			details string
		)
		if err := rows.Scan(&r.Seq, &at, &r.Kind, &r.Actor, &details, &r.PrevHash, &r.Hash); err != nil {
			return nil, fmt.Errorf("sqlstore: list audit: %w", err)
		}
		r.At, r.Details = fromMS(at), raw(details)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
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
