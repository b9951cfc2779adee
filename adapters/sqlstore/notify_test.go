package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/testpg"
)

// TestNotifierRefusesWhatItCannotServe: a notifier needs a PostgreSQL store and a DSN
// pgx can parse.
func TestNotifierRefusesWhatItCannotServe(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(t *testing.T) sqlstore.NotifierConfig // t is the subtest's: a missing PostgreSQL skips only it
	}{
		{"no store", func(*testing.T) sqlstore.NotifierConfig {
			return sqlstore.NotifierConfig{DSN: "postgres://127.0.0.1/x"}
		}},
		{"SQLite store", func(t *testing.T) sqlstore.NotifierConfig {
			return sqlstore.NotifierConfig{Store: openSQLite(t, time.Now), DSN: "postgres://127.0.0.1/x"}
		}},
		{"bad DSN", func(t *testing.T) sqlstore.NotifierConfig {
			return sqlstore.NotifierConfig{Store: openPostgres(t, time.Now), DSN: "postgres://[::1"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n, err := sqlstore.NewNotifier(tt.cfg(t)); err == nil || n != nil {
				t.Fatalf("NewNotifier accepted it: %v", n)
			}
		})
	}
}

// TestNotifierDeliversOthersOnly: of two notifiers on one database, each hears the
// other's announcements, never its own, and "" once when it starts listening.
func TestNotifierDeliversOthersOnly(t *testing.T) {
	dsn := testpg.DSN(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type heard struct {
		who, id string
	}
	got := make(chan heard, 16)
	var ns []*sqlstore.Notifier
	for _, who := range []string{"a", "b"} {
		st, err := sqlstore.Open(ctx, sqlstore.Config{Driver: sqlstore.DriverPostgres, DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		n, err := sqlstore.NewNotifier(sqlstore.NotifierConfig{Store: st, DSN: dsn, Channel: "motlan_test_" + t.Name()})
		if err != nil {
			t.Fatal(err)
		}
		ns = append(ns, n)
		go func() { _ = n.Subscribe(ctx, func(id string) { got <- heard{who, id} }) }()
	}
	for range 2 {
		select {
		case h := <-got:
			if h.id != "" {
				t.Fatalf("first call of %s: %q, want the wake-all \"\"", h.who, h.id)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a notifier did not start listening")
		}
	}
	if err := ns[0].Publish(ctx, "req-1"); err != nil {
		t.Fatal(err)
	}
	if err := ns[1].Publish(ctx, "req-2"); err != nil {
		t.Fatal(err)
	}
	want := map[heard]bool{{"b", "req-1"}: true, {"a", "req-2"}: true}
	for range 2 {
		select {
		case h := <-got:
			if !want[h] {
				t.Fatalf("unexpected delivery %+v", h)
			}
			delete(want, h)
		case <-time.After(5 * time.Second):
			t.Fatalf("not delivered: %v", want)
		}
	}
	select {
	case h := <-got:
		t.Fatalf("a notifier heard more: %+v", h)
	case <-time.After(300 * time.Millisecond):
	}
}
