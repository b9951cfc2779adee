package sqlstore

import (
	"context"
	"fmt"
	"slices"
)

const (
	qEnabledClientIDs   = "SELECT id FROM clients WHERE disabled_at = 0"
	qDisableClient      = "UPDATE clients SET disabled_at = ? WHERE id = ? AND disabled_at = 0"
	qRevokeClientTokens = "UPDATE refresh_tokens SET revoked = 1 WHERE client_id = ? AND revoked = 0"
	qDeleteClientCodes  = "DELETE FROM auth_codes WHERE client_id = ?"
)

// DisableClientsExcept implements store.Clients.
func (s *Store) DisableClientsExcept(ctx context.Context, keep []string) ([]string, error) {
	var disabled []string
	err := s.inTx(ctx, func(tx *txn) error {
		disabled = nil // a retried batch runs fn again
		rows, err := tx.query(qEnabledClientIDs + s.forUpdate())
		if err != nil {
			return err
		}
		var gone []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			if !slices.Contains(keep, id) {
				gone = append(gone, id)
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for _, id := range gone {
			for _, q := range []struct {
				sql  string
				args []any
			}{{qDisableClient, []any{s.nowMS(), id}}, {qRevokeClientTokens, []any{id}}, {qDeleteClientCodes, []any{id}}} {
				if _, err := tx.exec(q.sql, q.args...); err != nil {
					return err
				}
			}
		}
		disabled = gone
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: disable clients: %w", err)
	}
	slices.Sort(disabled)
	return disabled, nil
}
