package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/testpg"
)

// TestJobLock: of two stores on one database (two replicas), one holds a job's lock at a
// time, and releasing it lets the other take it (a replica that dies loses it with
// its connection: PostgreSQL's session advisory locks end with their session).
func TestJobLock(t *testing.T) {
	open := func(t *testing.T, driver, dsn string) *sqlstore.Store {
		s, err := sqlstore.Open(context.Background(), sqlstore.Config{Driver: driver, DSN: dsn, Now: time.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	t.Run("postgres", func(t *testing.T) {
		dsn := testpg.DSN(t)
		a, b := open(t, sqlstore.DriverPostgres, dsn), open(t, sqlstore.DriverPostgres, dsn)
		ctx := t.Context()
		release, ok, err := a.TryJobLock(ctx, "retention")
		if err != nil || !ok {
			t.Fatalf("first lock: %v %v", ok, err)
		}
		if _, ok, err := b.TryJobLock(ctx, "retention"); err != nil || ok {
			t.Fatalf("second replica got the held lock: %v %v", ok, err)
		}
		if rel, ok, err := b.TryJobLock(ctx, "other-job"); err != nil || !ok {
			t.Fatalf("another job's lock: %v %v", ok, err)
		} else {
			rel()
		}
		release()
		rel, ok, err := b.TryJobLock(ctx, "retention")
		if err != nil || !ok {
			t.Fatalf("lock after release: %v %v", ok, err)
		}
		rel()
		if rel, ok, err := a.TryJobLock(ctx, "retention"); err != nil || !ok {
			t.Fatalf("lock back on the first replica: %v %v", ok, err)
		} else {
			rel()
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		s := open(t, sqlstore.DriverSQLite, filepath.Join(t.TempDir(), "m.db"))
		release, ok, err := s.TryJobLock(t.Context(), "retention")
		if err != nil || !ok {
			t.Fatalf("first lock: %v %v", ok, err)
		}
		if _, ok, _ := s.TryJobLock(t.Context(), "retention"); ok {
			t.Fatal("the lock was taken twice in one process")
		}
		release()
		if rel, ok, _ := s.TryJobLock(t.Context(), "retention"); !ok {
			t.Fatal("no lock after release")
		} else {
			rel()
		}
	})
}
