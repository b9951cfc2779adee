package audit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
)

// TestRunSealsLoginRecords: logins write their records in their own transaction; Run,
// kicked, seals them into a chain Verify accepts, and seals the rest when stopped.
func TestRunSealsLoginRecords(t *testing.T) {
	for _, driver := range []string{sqlstore.DriverSQLite, sqlstore.DriverPostgres} {
		t.Run(driver, func(t *testing.T) {
			s, _, _ := open(t, driver)
			l, err := audit.New(audit.Config{Store: s})
			if err != nil {
				t.Fatal(err)
			}
			login := func(i int) {
				t.Helper()
				_, err := s.RecordLogin(t.Context(), store.Login{
					Citizen: store.Citizen{Issuer: "https://eid.example.vn", Subject: fmt.Sprintf("sub-%d", i)},
					Session: store.Session{ID: fmt.Sprintf("sess-%d", i), CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)},
					Audit: func(c store.Citizen) ([]store.AuditRecord, error) {
						return l.Records(audit.Event{Kind: audit.KindLogin, Actor: audit.Citizen(c.ID), Details: map[string]int{"i": i}})
					},
				})
				if err != nil {
					t.Fatal(err)
				}
				l.Kick()
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { l.Run(ctx, time.Hour); close(done) }() // only kicks and the stop seal
			for i := range 5 {
				login(i)
			}
			waitSealed(t, s, 5)
			cancel()
			<-done
			// Records written after Run stopped stay pending until sealed.
			login(5)
			if n, _, err := s.PendingAudit(t.Context()); err != nil || n != 1 {
				t.Fatalf("pending after stop: %d %v, want 1", n, err)
			}
			if n, err := l.SealPending(t.Context()); err != nil || n != 1 {
				t.Fatalf("SealPending: %d %v, want 1", n, err)
			}
			n, err := audit.Verify(t.Context(), s)
			if err != nil || n != 6 {
				t.Fatalf("verify: %d records, %v; want 6", n, err)
			}
		})
	}
}

// waitSealed waits (bounded) until the log holds n records and none is pending.
func waitSealed(t *testing.T, s *sqlstore.Store, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		seq, _, err := s.AuditHead(t.Context())
		pending, _, perr := s.PendingAudit(t.Context())
		if err == nil && perr == nil && seq == n && pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: head %d (%v), %d pending (%v); want %d sealed", seq, err, pending, perr, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRecordsRefusesBadEvents: an event without kind or actor, or with details that do not
// marshal, gives an error, so the act's transaction stores nothing.
func TestRecordsRefusesBadEvents(t *testing.T) {
	s, _, _ := open(t, sqlstore.DriverSQLite)
	l, err := audit.New(audit.Config{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []audit.Event{{Actor: "citizen:x"}, {Kind: audit.KindLogin}, {Kind: audit.KindLogin, Actor: "citizen:x", Details: func() {}}} {
		if _, err := l.Records(e); err == nil {
			t.Errorf("%+v: no error", e)
		}
	}
	rs, err := l.Records(audit.Event{Kind: audit.KindLogin, Actor: "citizen:x"})
	if err != nil || len(rs) != 1 || string(rs[0].Details) != "{}" || rs[0].At.IsZero() {
		t.Errorf("good event: %+v %v", rs, err)
	}
	var nilLogger *audit.Logger
	if rs, err := nilLogger.Records(audit.Event{Kind: audit.KindLogin, Actor: "citizen:x"}); rs != nil || err != nil {
		t.Errorf("nil logger: %v %v", rs, err)
	}
}
