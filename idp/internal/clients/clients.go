package clients

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/motlan/motlan/idp/store"
)

// Lister is the store's list of clients.
type Lister interface {
	ListClients(ctx context.Context) ([]store.Client, error)
}

// Config configures a Registry.
type Config struct {
	Store  Lister
	Now    func() time.Time
	Logger *slog.Logger
}

// Registry is the cache.
type Registry struct {
	st  Lister
	now func() time.Time
	log *slog.Logger

	mu      sync.RWMutex
	clients map[string]store.Client
	age     time.Time
	loading sync.Mutex // held by the caller re-reading a stale cache on a hit
}

// New loads the clients.
func New(ctx context.Context, cfg Config) (*Registry, error) {
	r := &Registry{st: cfg.Store, now: cfg.Now, log: cfg.Logger}
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Registry) load(ctx context.Context) error {
	list, err := r.st.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("load clients: %w", err)
	}
	m := make(map[string]store.Client, len(list))
	for _, c := range list {
		m[c.ID] = c
	}
	r.mu.Lock()
	r.clients, r.age = m, r.now()
	r.mu.Unlock()
	return nil
}

// Get returns a registered client. The cache is re-read at most every 30 s, on a hit too,
// so that a client removed from the configuration (disabled in the store by whichever
// replica read the new configuration) stops working on every replica within that time.
// A hit whose re-read fails is answered from the cache: a store outage does not turn
// known clients into unknown ones.
func (r *Registry) Get(ctx context.Context, id string) (store.Client, bool) {
	r.mu.RLock()
	c, ok := r.clients[id]
	stale := r.now().Sub(r.age) > staleAfter
	r.mu.RUnlock()
	if !stale {
		return c, ok
	}
	if ok {
		// One caller re-reads; the others go on with the cached client meanwhile.
		if !r.loading.TryLock() {
			return c, ok
		}
		defer r.loading.Unlock()
	}
	if err := r.load(ctx); err != nil {
		r.log.WarnContext(ctx, "reload clients", "err", err)
		return c, ok
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok = r.clients[id]
	return c, ok
}

// staleAfter is how long the cache is trusted without re-reading the store.
const staleAfter = 30 * time.Second

// Reload re-reads the clients now (after this process changed them, on SIGHUP).
func (r *Registry) Reload(ctx context.Context) error { return r.load(ctx) }
