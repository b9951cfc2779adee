// Package testpg gives each test its own fresh PostgreSQL schema.
//
// The server comes from MOTLAN_TEST_POSTGRES_DSN; without it, from a throwaway container
// when a Docker engine answers; otherwise the test is skipped, or failed under
// MOTLAN_TEST_STRICT=1 (see internal/testenv).
package testpg

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx/v5"
	"github.com/ory/dockertest/v3"

	"github.com/motlan/motlan/internal/testenv"
)

// EnvDSN names the variable holding the server's DSN, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvDSN = "MOTLAN_TEST_POSTGRES_DSN"

// DSN returns a DSN whose search_path is a new, empty schema, dropped when t ends.
func DSN(t testing.TB) string {
	t.Helper()
	base, err := server()
	if err != nil {
		testenv.Missing(t, "PostgreSQL: set %s (%v)", EnvDSN, err)
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx/v5", base)
	if err != nil {
		t.Fatalf("testpg: open %s: %v", EnvDSN, err)
	}
	defer db.Close()
	schema := "motlan_test_" + strings.ToLower(rand.Text())
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("testpg: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx/v5", base)
		if err != nil {
			t.Errorf("testpg: drop schema: %v", err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("testpg: drop schema %s: %v", schema, err)
		}
	})
	dsn, err := withSearchPath(base, schema)
	if err != nil {
		t.Fatalf("testpg: %v", err)
	}
	return dsn
}

// withSearchPath adds search_path to a URL or keyword/value DSN; pgx sends it as a
// run-time parameter, so every connection of the pool lands in the schema.
func withSearchPath(dsn, schema string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", EnvDSN, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return dsn + " search_path=" + schema, nil
}

var (
	once      sync.Once
	serverDSN string
	serverErr error
)

// server returns the DSN of the whole server, starting a container at most once per
// process.
func server() (string, error) {
	once.Do(func() {
		if dsn := os.Getenv(EnvDSN); dsn != "" {
			serverDSN = dsn
			return
		}
		serverDSN, serverErr = container()
	})
	return serverDSN, serverErr
}

// container starts postgres:15 when a Docker engine answers. The container expires by
// itself: a package's tests have no hook that runs after the last one.
func container() (string, error) {
	pool, err := dockertest.NewPool("")
	if err != nil {
		return "", fmt.Errorf("no Docker: %w", err)
	}
	if err := pool.Client.Ping(); err != nil {
		return "", fmt.Errorf("no Docker engine answers: %w", err)
	}
	res, err := pool.Run("postgres", "15", []string{"POSTGRES_HOST_AUTH_METHOD=trust", "POSTGRES_DB=test"})
	if err != nil {
		return "", fmt.Errorf("start postgres container: %w", err)
	}
	_ = res.Expire(600)
	dsn := "postgres://postgres@" + res.GetHostPort("5432/tcp") + "/test?sslmode=disable"
	pool.MaxWait = 60 * time.Second
	err = pool.Retry(func() error {
		db, err := sql.Open("pgx/v5", dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		return db.Ping()
	})
	if err != nil {
		_ = pool.Purge(res)
		return "", fmt.Errorf("postgres container never answered: %w", err)
	}
	return dsn, nil
}
