package sqlstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/idp/store"
)

// The observer is told every operation's class and duration, on both stores, and
// nothing once removed.
func TestObserver(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t, time.Now)
			ctx := context.Background()
			var mu sync.Mutex
			seen := map[string]int{}
			s.SetObserver(func(class string, d time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				if d <= 0 {
					t.Errorf("%s: duration %v", class, d)
				}
				seen[class]++
			})
			must(t, s.UpsertClient(ctx, store.Client{ID: "observed", Name: "x", RedirectURIs: []string{"https://rp.example/cb"},
				AllowedScopes: []string{"openid"}, AuthMethod: "none", SubjectType: "public", IDTokenAlg: "ES256"}))
			if _, err := s.GetClient(ctx, "observed"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.TakeRateLimit(ctx, "observed", 5, time.Minute, time.Now()); err != nil {
				t.Fatal(err)
			}
			if _, err := s.DeleteExpiredRateLimits(ctx, time.Now()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			got := map[string]int{}
			for k, v := range seen {
				got[k] = v
			}
			mu.Unlock()
			if got[sqlstore.OpRead] == 0 || got[sqlstore.OpWrite]+got[sqlstore.OpTx] == 0 {
				t.Errorf("classes observed: %v, want reads and writes", got)
			}
			for k := range got {
				if k != sqlstore.OpRead && k != sqlstore.OpWrite && k != sqlstore.OpTx {
					t.Errorf("unknown class %q", k)
				}
			}
			s.SetObserver(nil)
			before := got[sqlstore.OpRead]
			if _, err := s.GetClient(ctx, "observed"); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[sqlstore.OpRead] != before {
				t.Error("a removed observer is still told")
			}
		})
	}
}
