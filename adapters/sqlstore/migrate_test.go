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

// withoutRowidCitizens puts a SQLite store back to its citizens table before migration
// 20 (WITHOUT ROWID, as 0001 made it), keeping its rows, and forgets that 20 ran.
const withoutRowidCitizens = `
ALTER TABLE citizens RENAME TO citizens_rowid;
CREATE TABLE citizens (
    id TEXT PRIMARY KEY, issuer TEXT NOT NULL, subject TEXT NOT NULL, cccd TEXT NOT NULL,
    attributes TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
    UNIQUE (issuer, subject)
) WITHOUT ROWID;
INSERT INTO citizens SELECT id, issuer, subject, cccd, attributes, created_at, updated_at FROM citizens_rowid;
DROP TABLE citizens_rowid;
DELETE FROM schema_migrations WHERE version = 20;`

// TestCitizensRowidMigration: on SQLite, migration 20 rebuilds citizens as a rowid table
// and keeps every citizen; afterwards a citizen with ten verified attributes no longer
// takes a page of its own. PostgreSQL records the migration and runs nothing.
func TestCitizensRowidMigration(t *testing.T) {
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
	onEachDriver(t, Config{}, func(t *testing.T, s *Store) {
		var name string
		row, err := s.queryRow(ctx, "SELECT name FROM schema_migrations WHERE version = ?", 20)
		if err == nil {
			err = row.Scan(&name)
		}
		if err != nil || name != "0020_citizens_rowid.sqlite.sql" {
			t.Fatalf("migration 20 recorded as %q, %v", name, err)
		}
		if s.pg {
			return
		}
		// A database from before: ten citizens in the WITHOUT ROWID table.
		var before []store.Citizen
		for i := range 10 {
			c, err := s.UpsertCitizen(ctx, citizen(i))
			if err != nil {
				t.Fatal(err)
			}
			before = append(before, c)
		}
		if err := s.inTx(ctx, func(tx *txn) error { _, err := tx.exec(withoutRowidCitizens); return err }); err != nil {
			t.Fatal(err)
		}
		if got := citizensDDL(t, s); !strings.Contains(got, "WITHOUT ROWID") {
			t.Fatalf("the test's old table is not WITHOUT ROWID: %s", got)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if got := citizensDDL(t, s); strings.Contains(got, "WITHOUT ROWID") {
			t.Fatalf("citizens after migration: %s", got)
		}
		for _, want := range before {
			got, err := s.GetCitizen(ctx, want.ID)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("citizen %s after migration:\n%#v, %v\nwant\n%#v", want.ID, got, err, want)
			}
		}
		if _, err := s.UpsertCitizen(ctx, citizen(0)); err != nil {
			t.Fatalf("upsert of a migrated citizen: %v", err)
		}
		// Sixty more citizens of about 1100 bytes each: a rowid leaf holds three or
		// four; a WITHOUT ROWID table gave each an overflow page of its own.
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
		}
		grew := pages() - start
		t.Logf("60 citizens took %d pages", grew)
		if grew > 30 {
			t.Errorf("60 citizens took %d more pages, want at most 30", grew)
		}
	})
}

func citizensDDL(t *testing.T, s *Store) string {
	t.Helper()
	var ddl string
	row, err := s.queryRow(context.Background(), "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'citizens'")
	if err == nil {
		err = row.Scan(&ddl)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ddl
}
