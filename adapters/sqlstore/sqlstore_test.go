package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/idp/store/storetest"
	"github.com/motlan/motlan/internal/testpg"
)

func openSQLite(t testing.TB, now func() time.Time) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{
		Driver: sqlstore.DriverSQLite,
		DSN:    filepath.Join(t.TempDir(), "db", "motlan.db"),
		Now:    now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t testing.TB, now func() time.Time) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{
		Driver: sqlstore.DriverPostgres,
		DSN:    testpg.DSN(t),
		Now:    now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var backends = []struct {
	name string
	open func(testing.TB, func() time.Time) *sqlstore.Store
}{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			storetest.RunTests(t, func(t *testing.T, c *storetest.Clock) store.Store { return b.open(t, c.Now) })
		})
	}
}

func TestConcurrency(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			storetest.RunConcurrencyTests(t, func(t *testing.T, c *storetest.Clock) store.Store { return b.open(t, c.Now) })
		})
	}
}

func TestSQLiteInMemory(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T, c *storetest.Clock) store.Store {
		s, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: ":memory:", Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestDeleteExpired(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			clock := storetest.NewClock(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
			s := b.open(t, clock.Now)
			now := clock.Now()
			for i, exp := range []time.Time{now.Add(time.Minute), now.Add(time.Hour)} {
				id := string(rune('a' + i))
				must(t, s.CreateAuthRequest(ctx, store.AuthRequest{ID: id, ExpiresAt: exp}))
				must(t, s.CreateAuthCode(ctx, store.AuthCode{ID: id, ExpiresAt: exp}))
				must(t, s.CreateSession(ctx, store.Session{ID: id, ExpiresAt: exp}))
				must(t, s.CreateRefreshToken(ctx, store.RefreshToken{ID: id, FamilyID: "f", ExpiresAt: exp}))
			}
			must(t, s.CreateTokenKey(ctx, store.TokenKey{ID: "k", CreatedAt: now}))
			clock.Advance(2 * time.Minute)
			n, err := s.DeleteExpired(ctx)
			must(t, err)
			if n != 4 {
				t.Errorf("deleted %d rows, want 4", n)
			}
			clock.Set(now) // expired rows are gone, not just hidden
			if _, err := s.GetSession(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("expired session survived: %v", err)
			}
			if _, err := s.GetSession(ctx, "b"); err != nil {
				t.Errorf("live session: %v", err)
			}
			if keys, err := s.ListTokenKeys(ctx); err != nil || len(keys) != 1 {
				t.Errorf("token keys: %d, %v", len(keys), err)
			}
		})
	}
}

// TestMigrateConcurrently starts several stores on one empty database at once, as replicas
// do, and then again on the migrated one.
func TestMigrateConcurrently(t *testing.T) {
	dsns := map[string]string{
		sqlstore.DriverSQLite:   filepath.Join(t.TempDir(), "motlan.db"),
		sqlstore.DriverPostgres: testpg.DSN(t),
	}
	for driver, dsn := range dsns {
		t.Run(driver, func(t *testing.T) {
			for round := range 2 {
				var wg sync.WaitGroup
				errs := make([]error, 4)
				for i := range errs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						s, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: driver, DSN: dsn})
						if err == nil {
							err = s.Close()
						}
						errs[i] = err
					}()
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("round %d, open %d: %v", round, i, err)
					}
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	for _, cfg := range []sqlstore.Config{
		{Driver: "mysql", DSN: "x"},
		{Driver: sqlstore.DriverSQLite},
	} {
		if s, err := sqlstore.Open(t.Context(), cfg); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
