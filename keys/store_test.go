package keys

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/motlan/motlan/idp/store"
)

// memStore is an in-memory store.TokenKeys for tests.
type memStore struct {
	mu    sync.Mutex
	keys  []store.TokenKey
	lists int
}

func (s *memStore) CreateTokenKey(ctx context.Context, k store.TokenKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.keys {
		if o.ID == k.ID {
			return fmt.Errorf("token key %q: %w", k.ID, store.ErrConflict)
		}
	}
	k.Sealed = bytes.Clone(k.Sealed)
	k.PublicJWK = bytes.Clone(k.PublicJWK)
	for _, t := range []*time.Time{&k.CreatedAt, &k.ActiveAt, &k.RetireAt} {
		if !t.IsZero() {
			*t = t.UTC().Truncate(time.Millisecond)
		}
	}
	s.keys = append(s.keys, k)
	slices.SortStableFunc(s.keys, func(a, b store.TokenKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return nil
}

func (s *memStore) ListTokenKeys(ctx context.Context) ([]store.TokenKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	out := make([]store.TokenKey, len(s.keys))
	for i, k := range s.keys {
		k.Sealed = bytes.Clone(k.Sealed)
		k.PublicJWK = bytes.Clone(k.PublicJWK)
		out[i] = k
	}
	return out, nil
}

func (s *memStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

func (s *memStore) listCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists
}

// edit changes stored records in place, as someone with database access could.
func (s *memStore) edit(fn func(k *store.TokenKey)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.keys {
		fn(&s.keys[i])
	}
}

var (
	_ Store = (*memStore)(nil)
	_ Store = store.TokenKeys(nil)
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
