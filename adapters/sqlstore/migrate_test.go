package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/idp/store"
)

// withoutRowid puts a SQLite store back to its citizens and sessions tables before
// migration 20 (WITHOUT ROWID, as 0001 made them), keeping their rows, and forgets that
// 20 ran.
const withoutRowid = `
ALTER TABLE citizens RENAME TO citizens_rowid;
CREATE TABLE citizens (
    id TEXT PRIMARY KEY, issuer TEXT NOT NULL, subject TEXT NOT NULL, cccd TEXT NOT NULL,
    attributes TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
    UNIQUE (issuer, subject)
) WITHOUT ROWID;
INSERT INTO citizens SELECT id, issuer, subject, cccd, attributes, created_at, updated_at FROM citizens_rowid;
DROP TABLE citizens_rowid;
ALTER TABLE sessions RENAME TO sessions_rowid;
CREATE TABLE sessions (
    id TEXT PRIMARY KEY, citizen_id TEXT NOT NULL, auth_time BIGINT NOT NULL, acr TEXT NOT NULL,
    amr TEXT NOT NULL, upstream_id_token TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO sessions SELECT id, citizen_id, auth_time, acr, amr, upstream_id_token, created_at, expires_at FROM sessions_rowid;
DROP TABLE sessions_rowid;
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_citizen_id ON sessions (citizen_id, created_at);
DELETE FROM schema_migrations WHERE version = 20;`

// TestRowidTablesMigration: on SQLite, migration 20 rebuilds citizens and sessions as
// rowid tables and keeps every row; afterwards a citizen with ten verified attributes, or a
// session with the eID's ID token, no longer takes a page of its own. PostgreSQL records
// the migration and runs nothing.
func TestRowidTablesMigration(t *testing.T) {
	ctx := context.Background()
	at := time.UnixMilli(1765000000123)
	const iss = "https://sso.dancuquocgia.gov.vn"
	citizen := func(i int) store.Citizen {
		// The eleven attributes of a first login, with a place of origin and an address
		// as long as many are: about 1100 bytes stored.
		attrs := loginAttributes(at, iss)
		attrs["place_of_origin"] = store.Attribute{Value: json.RawMessage(`"Xã Hoằng Quỳ, Huyện Hoằng Hóa, Tỉnh Thanh Hóa"`),
			Source: iss, Level: 2, VerifiedAt: at, Verified: true, ACR: "2", AMR: []string{"pwd", "otp"}}
		a := attrs["address"]
		a.Value = json.RawMessage(`{"formatted":"Số nhà 68, ngõ 12, đường Lê Lợi, Tổ dân phố Đông Sơn, Phường Hạc Thành, Tỉnh Thanh Hóa",` +
			`"street_address":"Số nhà 68, ngõ 12, đường Lê Lợi, Tổ dân phố Đông Sơn","locality":"Phường Hạc Thành","region":"Tỉnh Thanh Hóa","country":"VN"}`)
		attrs["address"] = a
		return store.Citizen{ID: fmt.Sprintf("01kcitizen%06d", i), Issuer: iss,
			Subject: fmt.Sprintf("vneid-subject-%06d", i), CCCD: fmt.Sprintf("038167%06d", i),
			Attributes: attrs, CreatedAt: at, UpdatedAt: at}
	}
	if enc, err := encodeAttributes(citizen(0).Attributes); err != nil || len(enc) < 1000 {
		t.Fatalf("the test citizen's attributes take %d bytes (%v): want at least 1000", len(enc), err)
	}
	session := func(i int) store.Session {
		// The eID's ID token with the claims it carries: about 1200 bytes.
		return store.Session{ID: fmt.Sprintf("01ksession%06d", i), CitizenID: citizen(i).ID, AuthTime: at, ACR: "2",
			AMR: []string{"pwd", "otp"}, UpstreamIDToken: "eyJhbGciOiJFUzI1NiJ9." + strings.Repeat("x", 1100) + ".sig",
			CreatedAt: at, ExpiresAt: at.Add(8 * time.Hour)}
	}
	onEachDriver(t, Config{Now: func() time.Time { return at }}, func(t *testing.T, s *Store) {
		wantRecorded(t, s, 20, "0020_rowid_tables.sqlite.sql")
		if s.pg {
			return
		}
		// A database from before: ten citizens and their sessions in WITHOUT ROWID tables.
		var citizens []store.Citizen
		for i := range 10 {
			c, err := s.UpsertCitizen(ctx, citizen(i))
			if err == nil {
				err = s.CreateSession(ctx, session(i))
			}
			if err != nil {
				t.Fatal(err)
			}
			citizens = append(citizens, c)
		}
		if err := s.inTx(ctx, func(tx *txn) error { _, err := tx.exec(withoutRowid); return err }); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"citizens", "sessions"} {
			if got := tableDDL(t, s, table); !strings.Contains(got, "WITHOUT ROWID") {
				t.Fatalf("the test's old %s is not WITHOUT ROWID: %s", table, got)
			}
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"citizens", "sessions"} {
			if got := tableDDL(t, s, table); strings.Contains(got, "WITHOUT ROWID") {
				t.Fatalf("%s after migration: %s", table, got)
			}
		}
		for i, want := range citizens {
			got, err := s.GetCitizen(ctx, want.ID)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("citizen %s after migration:\n%#v, %v\nwant\n%#v", want.ID, got, err, want)
			}
			sess, err := s.GetSession(ctx, session(i).ID)
			if want := session(i); err != nil || sess.CitizenID != want.CitizenID || sess.UpstreamIDToken != want.UpstreamIDToken ||
				!sess.ExpiresAt.Equal(want.ExpiresAt) || strings.Join(sess.AMR, " ") != "pwd otp" {
				t.Fatalf("session %d after migration: %+v, %v", i, sess, err)
			}
		}
		if _, err := s.UpsertCitizen(ctx, citizen(0)); err != nil {
			t.Fatalf("upsert of a migrated citizen: %v", err)
		}
		// Sixty more citizens and sessions of about 1100 bytes each: a rowid leaf holds
		// three or four; a WITHOUT ROWID table gave each an overflow page of its own.
		pages := func() (n int64) { // in use: the file's, less those on the free list
			t.Helper()
			row, err := s.queryRow(ctx, "SELECT p.page_count - f.freelist_count FROM pragma_page_count() p, pragma_freelist_count() f")
			if err == nil {
				err = row.Scan(&n)
			}
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		start := pages()
		for i := 10; i < 70; i++ {
			if _, err := s.UpsertCitizen(ctx, citizen(i)); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateSession(ctx, session(i)); err != nil {
				t.Fatal(err)
			}
		}
		grew := pages() - start
		t.Logf("60 citizens and their sessions took %d pages", grew)
		if grew > 60 {
			t.Errorf("60 citizens and their sessions took %d more pages, want at most 60", grew)
		}
	})
}

func tableDDL(t *testing.T, s *Store, table string) string {
	t.Helper()
	var ddl string
	row, err := s.queryRow(context.Background(), "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", table)
	if err == nil {
		err = row.Scan(&ddl)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ddl
}

// TestUpdateRoomMigration: migration 21 leaves room on PostgreSQL's pages of auth_codes and
// refresh_tokens for their one update; SQLite records it and runs nothing.
func TestUpdateRoomMigration(t *testing.T) {
	ctx := context.Background()
	onEachDriver(t, Config{}, func(t *testing.T, s *Store) {
		wantRecorded(t, s, 21, "0021_update_room.postgres.sql")
		if !s.pg {
			return
		}
		for _, table := range []string{"auth_codes", "refresh_tokens"} {
			var opts string
			row, err := s.queryRow(ctx, "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = to_regclass(?)", table)
			if err == nil {
				err = row.Scan(&opts)
			}
			if err != nil || opts != "fillfactor=70" {
				t.Errorf("%s options %q, %v", table, opts, err)
			}
		}
	})
}

// wantRecorded fails t unless schema_migrations records version under name.
func wantRecorded(t *testing.T, s *Store, version int64, name string) {
	t.Helper()
	var got string
	row, err := s.queryRow(context.Background(), "SELECT name FROM schema_migrations WHERE version = ?", version)
	if err == nil {
		err = row.Scan(&got)
	}
	if err != nil || got != name {
		t.Fatalf("migration %d recorded as %q, %v", version, got, err)
	}
}
