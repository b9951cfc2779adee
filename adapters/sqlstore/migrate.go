package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int64
	name    string
	sql     string
	// sqliteOnly ("NNNN_name.sqlite.sql"): a change of SQLite's storage layout alone;
	// PostgreSQL records it as applied and runs nothing, so that versions stay aligned.
	// pgOnly ("NNNN_name.postgres.sql") is the same the other way round.
	sqliteOnly, pgOnly bool
}

// runsOn reports whether the migration's SQL runs on PostgreSQL (pg) or SQLite.
func (m migration) runsOn(pg bool) bool {
	if pg {
		return !m.sqliteOnly
	}
	return !m.pgOnly
}

// migrationLock is the pg_advisory_xact_lock key that serializes migrations of replicas
// starting together ("motlan" in ASCII).
const migrationLock = 0x6d6f746c616e

// migrations lists the embedded files "NNNN_name.sql" in version order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, path := range names {
		base := strings.TrimPrefix(path, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlstore: migration file %q is not NNNN_name.sql", base)
		}
		b, err := migrationFS.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(b), sqliteOnly: strings.HasSuffix(base, ".sqlite.sql"), pgOnly: strings.HasSuffix(base, ".postgres.sql")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("sqlstore: two migrations numbered %d", out[i].version)
		}
	}
	return out, nil
}

// dialectSQL substitutes the few words where the dialects differ.
func (s *Store) dialectSQL(q string) string {
	if s.pg {
		return strings.NewReplacer(
			"{{bytes}}", "BYTEA",
			"{{serial}}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
			"{{without_rowid}}", "",
		).Replace(q)
	}
	return strings.NewReplacer(
		"{{bytes}}", "BLOB",
		"{{serial}}", "INTEGER PRIMARY KEY AUTOINCREMENT",
		"{{without_rowid}}", "WITHOUT ROWID",
	).Replace(q)
}

// Migrate applies the embedded migrations not yet recorded in schema_migrations, all in
// one transaction. On PostgreSQL an advisory lock makes replicas that start together wait
// for each other; on SQLite the IMMEDIATE transaction does the same.
func (s *Store) Migrate(ctx context.Context) error {
	all, err := migrations()
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx *txn) error {
		if s.pg {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
				return fmt.Errorf("advisory lock: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    BIGINT PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied := map[int64]bool{}
		rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		var newest int64
		for rows.Next() {
			var v int64
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			applied[v] = true
			newest = max(newest, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(all) > 0 && newest > all[len(all)-1].version {
			// A newer release migrated this database; its schema only adds, so carry on.
			s.log.WarnContext(ctx, "database schema is newer than this binary",
				"database_version", newest, "binary_version", all[len(all)-1].version)
		}
		record := "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"
		if s.pg {
			record = rebind(record)
		}
		for _, m := range all {
			if applied[m.version] {
				continue
			}
			start := time.Now()
			if m.runsOn(s.pg) {
				if _, err := tx.ExecContext(ctx, s.dialectSQL(m.sql)); err != nil {
					return fmt.Errorf("apply %s: %w", m.name, err)
				}
			}
			if _, err := tx.ExecContext(ctx, record, m.version, m.name, s.nowMS()); err != nil {
				return fmt.Errorf("record %s: %w", m.name, err)
			}
			s.log.InfoContext(ctx, "applied migration", "migration", m.name, "took", time.Since(start))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}
