package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/testpg"
)

// TestAuditVerify runs motlan audit verify on SQLite and PostgreSQL: an intact log
// verifies; after a row is edited with SQL the command fails and names that record.
func TestAuditVerify(t *testing.T) {
	for _, driver := range []string{sqlstore.DriverSQLite, sqlstore.DriverPostgres} {
		t.Run(driver, func(t *testing.T) {
			ctx := t.Context()
			dir := t.TempDir()
			dsn, sqlDriver, param := filepath.Join(dir, "motlan.db"), "sqlite", "?"
			if driver == sqlstore.DriverPostgres {
				dsn, sqlDriver, param = testpg.DSN(t), "pgx/v5", "$1"
			}
			cfgPath := filepath.Join(dir, "motlan.yaml")
			cfg := fmt.Sprintf(`issuer: https://id.tinh.gov.vn
storage: {driver: %s, dsn: {value: %q}}
secrets: {master_key: {file: %q}}
eid: {issuer: https://vneid.gov.vn, client_id: motlan}
clients:
  - {id: portal, auth_method: none, redirect_uris: [https://portal.tinh.gov.vn/cb]}
`, driver, dsn, filepath.Join(dir, "master.key"))
			if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: driver, DSN: dsn})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			l, _ := audit.New(audit.Config{Store: st})
			for i := range 4 {
				if _, err := l.Append(ctx, audit.Event{Kind: audit.KindConsent, Actor: audit.Citizen("c1"), Details: map[string]any{"client": "portal", "i": i}}); err != nil {
					t.Fatal(err)
				}
			}

			var out bytes.Buffer
			if err := auditCmd(ctx, []string{"verify", "--config", cfgPath}, &out); err != nil || !strings.Contains(out.String(), "audit log verified: 4 records") {
				t.Fatalf("intact log: %v\n%s", err, out.String())
			}

			db, err := sql.Open(sqlDriver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(ctx, "UPDATE audit_log SET actor = "+param+" WHERE seq = 2", "citizen:someone-else"); err != nil {
				t.Fatal(err)
			}
			out.Reset()
			err = auditCmd(ctx, []string{"verify", "--config", cfgPath}, &out)
			if err == nil || !strings.Contains(err.Error(), "record 2 (hash mismatch)") {
				t.Fatalf("tampered log: error %v, want record 2 named", err)
			}
			for _, want := range []string{"BROKEN at record 2: hash mismatch", "consent by citizen:someone-else", "1 records before it verified"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestAuditUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", nil, "usage: motlan audit verify"},
		{"unknown subcommand", []string{"list"}, "usage: motlan audit verify"},
		{"no source", []string{"verify"}, "--config FILE or --dev is required"},
		{"both sources", []string{"verify", "--dev", "--config", "x.yaml"}, "not both"},
		{"stray argument", []string{"verify", "extra"}, `unexpected argument "extra"`},
		{"missing dev data", []string{"verify", "--dev", "--data", "/nonexistent"}, "has motlan dev run there?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auditCmd(t.Context(), tt.args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestMigrateIsAudited: motlan migrate, an operator's act, lands in the audit log.
func TestMigrateIsAudited(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "motlan.db")
	cfgPath := filepath.Join(dir, "motlan.yaml")
	cfg := fmt.Sprintf(`issuer: https://id.tinh.gov.vn
log: {level: error}
storage: {driver: sqlite, dsn: {value: %q}}
secrets: {master_key: {file: %q}}
eid: {issuer: https://vneid.gov.vn, client_id: motlan}
clients:
  - {id: portal, auth_method: none, redirect_uris: [https://portal.tinh.gov.vn/cb]}
`, dsn, filepath.Join(dir, "master.key"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmdMigrate(t.Context(), []string{"--config", cfgPath}); err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.ListAudit(t.Context(), 0, 10)
	if err != nil || len(recs) != 1 || recs[0].Kind != audit.KindAdmin || !strings.HasPrefix(recs[0].Actor, "admin:") || string(recs[0].Details) != `{"command":"migrate"}` {
		t.Fatalf("audit after migrate: %+v, %v", recs, err)
	}
}
