package vaulttest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/motlan/motlan/keys/vault"
)

// MemStore is an in-memory vault.SoftwareStore for tests. It is safe for concurrent use.
type MemStore struct {
	mu   sync.Mutex
	recs map[string]memRecord
	gets int
}

type memRecord struct {
	alg            string
	sealed, public []byte
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{recs: map[string]memRecord{}} }

// CreateSealedKey stores a copy of the record, or fails with vault.ErrExists.
func (m *MemStore) CreateSealedKey(ctx context.Context, label, alg string, sealed, public []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.recs[label]; ok {
		return fmt.Errorf("memstore: %q: %w", label, vault.ErrExists)
	}
	m.recs[label] = memRecord{alg: alg, sealed: slices.Clone(sealed), public: slices.Clone(public)}
	return nil
}

// GetSealedKey returns a copy of the record, or vault.ErrNotFound.
func (m *MemStore) GetSealedKey(ctx context.Context, label string) (string, []byte, []byte, error) {
	if err := ctx.Err(); err != nil {
		return "", nil, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets++
	r, ok := m.recs[label]
	if !ok {
		return "", nil, nil, fmt.Errorf("memstore: %q: %w", label, vault.ErrNotFound)
	}
	return r.alg, slices.Clone(r.sealed), slices.Clone(r.public), nil
}

// Gets reports how many times GetSealedKey ran, to see what a cache saved.
func (m *MemStore) Gets() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gets
}

var _ vault.SoftwareStore = (*MemStore)(nil)
