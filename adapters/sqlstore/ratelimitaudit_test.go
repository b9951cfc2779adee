package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/idp/store/storetest"
	"github.com/motlan/motlan/internal/testpg"
)

// openShared opens n stores on one fresh database of driver, as n replicas would.
func openShared(t *testing.T, driver string, clock *storetest.Clock, n int) []*sqlstore.Store {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "motlan.db")
	if driver == sqlstore.DriverPostgres {
		dsn = testpg.DSN(t)
	}
	out := make([]*sqlstore.Store, n)
	for i := range out {
		s, err := sqlstore.Open(context.Background(), sqlstore.Config{Driver: driver, DSN: dsn, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out[i] = s
	}
	return out
}

var drivers = []string{sqlstore.DriverSQLite, sqlstore.DriverPostgres}

func TestRateLimitConformance(t *testing.T) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			storetest.RunRateLimitTests(t, func(t *testing.T, c *storetest.Clock, n int) []store.RateLimits {
				var out []store.RateLimits
				for _, s := range openShared(t, d, c, n) {
					out = append(out, s)
				}
				return out
			})
		})
	}
}

func TestAuditConformance(t *testing.T) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			storetest.RunAuditTests(t, func(t *testing.T, c *storetest.Clock, n int) []store.Audit {
				var out []store.Audit
				for _, s := range openShared(t, d, c, n) {
					out = append(out, s)
				}
				return out
			})
		})
	}
}
