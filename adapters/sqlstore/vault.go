package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/motlan/motlan/keys/vault"
)

// ---- citizen keys (vault.SoftwareStore)

var (
	qInsertCitizenKey = insertSQL("citizen_keys", "label, alg, sealed, public, created_at")
	qGetCitizenKey    = "SELECT alg, sealed, public FROM citizen_keys WHERE label = ?"
)

// CreateSealedKey stores a citizen's sealed key; a taken label gives vault.ErrExists, so
// of replicas creating one label at once exactly one succeeds.
func (s *Store) CreateSealedKey(ctx context.Context, label, alg string, sealed, public []byte) error {
	if len(sealed) == 0 || len(public) == 0 {
		return errors.New("sqlstore: create sealed key: empty sealed or public key")
	}
	_, err := s.exec(ctx, qInsertCitizenKey, label, alg, sealed, public, s.nowMS())
	if isUnique(err) {
		return fmt.Errorf("sqlstore: create sealed key: %w: %w", vault.ErrExists, err)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: create sealed key: %w", err)
	}
	return nil
}

// GetSealedKey reads a citizen's sealed key, or vault.ErrNotFound.
func (s *Store) GetSealedKey(ctx context.Context, label string) (alg string, sealed, public []byte, err error) {
	row, err := s.queryRow(ctx, qGetCitizenKey, label)
	if err == nil {
		err = row.Scan(&alg, &sealed, &public)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil, nil, fmt.Errorf("sqlstore: get sealed key: %w", vault.ErrNotFound)
	case err != nil:
		return "", nil, nil, wrapRead("get sealed key", err)
	}
	return alg, sealed, public, nil
}

var _ vault.SoftwareStore = (*Store)(nil)
