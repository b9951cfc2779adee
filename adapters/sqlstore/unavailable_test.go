package sqlstore

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/testpg"
)

// TestUnavailable: a closed SQLite store reports store.ErrUnavailable on reads, writes and
// transactions; a missing record on a working store stays ErrNotFound and nothing more.
func TestUnavailable(t *testing.T) {
	st, err := Open(t.Context(), Config{Driver: DriverSQLite, DSN: filepath.Join(t.TempDir(), "u.db")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetClient(t.Context(), "nobody"); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("missing client on a working store: %v", err)
	}
	st.Close()
	tests := []struct {
		name string
		op   func() error
	}{
		{"read", func() error { _, err := st.GetClient(t.Context(), "nobody"); return err }},
		{"list", func() error { _, err := st.ListClients(t.Context()); return err }},
		{"write", func() error { return st.UpsertClient(t.Context(), store.Client{ID: "c"}) }},
		{"revocation check", func() error { _, err := st.TokenRevoked(t.Context(), "jti"); return err }},
		{"transaction", func() error { return st.RevokeToken(t.Context(), "jti", st.now()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("on a closed store: %v, want store.ErrUnavailable", err)
			}
		})
	}
}

// TestUnavailableClosedPgConn: a statement on a pgx connection already closed (as pgx
// closes one after the server cut it) is an outage, not an error of the statement.
func TestUnavailableClosedPgConn(t *testing.T) {
	conn, err := pgx.Connect(t.Context(), testpg.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(t.Context(), "SELECT 1")
	if err == nil {
		t.Fatal("a statement on a closed connection succeeded")
	}
	if got := unavailable(err); !errors.Is(got, store.ErrUnavailable) {
		t.Errorf("%v: not store.ErrUnavailable", got)
	}
}
