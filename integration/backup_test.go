package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/testenv"
	"github.com/motlan/motlan/internal/testpg"
	"github.com/motlan/motlan/keys"
)

// TestBackupRestore runs README "Operating Motlan", Backups: a backup taken with the
// documented command while Motlan serves, restored the documented way, holds the audit
// chain with the same head, the signing request and its signed PDF byte for byte, and
// token-signing keys that open with the master key, and only with it.
func TestBackupRestore(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		for _, tool := range []string{"pg_dump", "pg_restore", "createdb"} {
			if _, err := exec.LookPath(tool); err != nil {
				testenv.Missing(t, "%s: %v", tool, err)
				return
			}
		}
		base := os.Getenv(testpg.EnvDSN)
		if base == "" {
			testenv.Missing(t, "PostgreSQL: set %s", testpg.EnvDSN)
			return
		}
		prod, restored := newDatabase(t, base), newDatabase(t, base)
		backupRestore(t, "postgres", prod, func(dump string) {
			runTool(t, "pg_dump", "--format=custom", "--no-owner", "--file="+dump, prod.dsn)
		}, func(dump string) string {
			// The database README's createdb makes: created here by newDatabase, then
			// dropped and made again by createdb, as an operator would.
			dropDatabase(t, base, restored.name)
			runTool(t, "createdb", "--maintenance-db="+base, restored.name)
			runTool(t, "pg_restore", "--no-owner", "--dbname="+restored.dsn, dump)
			return restored.dsn
		})
	})
	t.Run("sqlite", func(t *testing.T) {
		if _, err := exec.LookPath("sqlite3"); err != nil {
			testenv.Missing(t, "sqlite3: %v", err)
			return
		}
		dir := t.TempDir()
		live := filepath.Join(dir, "motlan.db")
		backupRestore(t, "sqlite", pgDatabase{dsn: live}, func(dump string) {
			runTool(t, "sqlite3", live, "VACUUM INTO '"+dump+"'")
		}, func(dump string) string {
			restored := filepath.Join(t.TempDir(), "motlan.db") // "in place of motlan.db" on a stopped Motlan
			b, err := os.ReadFile(dump)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(restored, b, 0o600); err != nil {
				t.Fatal(err)
			}
			return restored
		})
	})
}

type pgDatabase struct{ name, dsn string }

// backupRestore signs a request on a Motlan serving db, backs up while it serves,
// restores, and checks the restored store.
func backupRestore(t *testing.T, driver string, db pgDatabase, backup func(dump string), restore func(dump string) string) {
	var masterKeyFile string
	s := newStackWith(t, driver, false, func(c *config.Config) {
		c.Storage.DSN = config.Secret{Value: db.dsn}
		masterKeyFile = c.Secrets.MasterKey.File
	})
	p := newSigningPortal(t, s)
	title := "Tờ khai đăng ký khai sinh"
	id, approvalURL := p.request(t, s, "backup-1", title)
	p.approve(t, approvalURL, title)
	if st := p.wait(t, s, id); st.Status != "signed" {
		t.Fatalf("signing: %+v", st)
	}
	signed := p.download(t, s, id)
	ctx := context.Background()
	live := openStore(t, driver, db.dsn)
	liveSeq, liveHead, err := live.AuditHead(ctx)
	if err != nil || liveSeq == 0 {
		t.Fatalf("audit head before the backup: %d %v", liveSeq, err)
	}
	// The sealer may still move pending records; verify the chain as backed up instead.
	dump := filepath.Join(t.TempDir(), "motlan.backup")
	backup(dump) // Motlan goes on serving meanwhile; the restore goes elsewhere

	st := openStore(t, driver, restore(dump))
	n, err := audit.Verify(ctx, st)
	if err != nil || n < liveSeq {
		t.Fatalf("audit verify on the restore: %d records, %v (the live log had %d)", n, err, liveSeq)
	}
	if n == liveSeq {
		if _, head, _ := st.AuditHead(ctx); head != liveHead {
			t.Errorf("restored head %s, anchored %s", head, liveHead)
		}
	}
	r, err := st.GetSigningRequest(ctx, id)
	if err != nil || r.Status != "signed" {
		t.Fatalf("restored request: %+v %v", r.Status, err)
	}
	got, err := st.SignedPDF(ctx, id, 0)
	if err != nil || !bytes.Equal(got, signed) {
		t.Fatalf("restored signed PDF differs (%d bytes, %v)", len(got), err)
	}
	mk, err := keys.LoadMasterKey("", masterKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	km, err := keys.NewManager(ctx, keys.Config{Store: st, MasterKey: mk})
	if err != nil {
		t.Fatalf("token keys with the master key: %v", err)
	}
	if _, err := km.Sign(ctx, "ES256", "JWT", []byte(`{"restored":true}`)); err != nil {
		t.Errorf("signing with the restored keys: %v", err)
	}
	km.Close()
	other := make([]byte, 32)
	_, _ = rand.Read(other)
	if km, err := keys.NewManager(ctx, keys.Config{Store: st, MasterKey: other}); err == nil {
		_, err = km.Sign(ctx, "ES256", "JWT", []byte(`{}`))
		km.Close()
		if err == nil {
			t.Error("the restored keys opened under another master key")
		}
	}
}

func openStore(t *testing.T, driver, dsn string) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), sqlstore.Config{Driver: driver, DSN: dsn, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newDatabase creates an empty database on the server of base, dropped when t ends.
func newDatabase(t *testing.T, base string) pgDatabase {
	t.Helper()
	name := "motlan_backup_" + strings.ToLower(rand.Text())
	execSQL(t, base, "CREATE DATABASE "+name)
	t.Cleanup(func() { dropDatabase(t, base, name) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return pgDatabase{name: name, dsn: u.String()}
}

func dropDatabase(t *testing.T, base, name string) {
	execSQL(t, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
}

func execSQL(t *testing.T, dsn, q string) {
	t.Helper()
	db, err := sql.Open("pgx/v5", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}
