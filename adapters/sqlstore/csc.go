package sqlstore

import (
	"context"
	"fmt"

	"github.com/motlan/motlan/idp/store"
)

// qCitizenByCCCD picks the citizen most recently updated with that number: one person seen
// through two eID issuers has two records, and the newer one is the one in use.
const qCitizenByCCCD = "SELECT id FROM citizens WHERE cccd = ? ORDER BY updated_at DESC, id LIMIT 1"

// CitizenIDByCCCD returns the id of the citizen with that 12-digit personal ID number, or
// an error wrapping store.ErrNotFound. Motlan's CSC server uses it to find the citizen a
// client names by userID.
func (s *Store) CitizenIDByCCCD(ctx context.Context, cccd string) (string, error) {
	if cccd == "" {
		return "", fmt.Errorf("sqlstore: citizen by CCCD: %w", store.ErrNotFound)
	}
	row, err := s.queryRow(ctx, qCitizenByCCCD, cccd)
	if err != nil {
		return "", wrapRead("citizen by CCCD", err)
	}
	var id string
	if err := row.Scan(&id); err != nil {
		return "", wrapRead("citizen by CCCD", err)
	}
	return id, nil
}
