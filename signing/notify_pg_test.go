package signing_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/testpg"
	"github.com/motlan/motlan/signing"
)

// crossReplicaBound is the bound: a long-poll on one replica answers within
// 100 ms of a change made through another (a correctness bound, not a performance claim).
const crossReplicaBound = 100 * time.Millisecond

// pgReplicas is two Services, A and B, each with its own store handle and notifier, on
// one PostgreSQL schema.
type pgReplicas struct {
	w      *world
	a, b   *signing.Service
	na, nb *sqlstore.Notifier
	dsn    string
}

func newPGReplicas(t *testing.T) *pgReplicas {
	t.Helper()
	dsn := testpg.DSN(t)
	w := newWorldOn(t, sqlstore.Config{Driver: sqlstore.DriverPostgres, DSN: dsn})
	stB, err := sqlstore.Open(context.Background(), sqlstore.Config{Driver: sqlstore.DriverPostgres, DSN: dsn, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stB.Close() })
	p := &pgReplicas{w: w, dsn: dsn}
	if p.na, err = sqlstore.NewNotifier(sqlstore.NotifierConfig{Store: w.store, DSN: dsn}); err != nil {
		t.Fatal(err)
	}
	if p.nb, err = sqlstore.NewNotifier(sqlstore.NotifierConfig{Store: stB, DSN: dsn}); err != nil {
		t.Fatal(err)
	}
	p.a = w.newServiceWith(w.vault, func(c *signing.ServiceConfig) { c.Notifier = p.na })
	p.b = w.newServiceWith(w.vault, func(c *signing.ServiceConfig) { c.Store, c.Notifier = stB, p.nb })
	eventually(t, "both replicas listening", func() bool { return p.na.Listening() && p.nb.Listening() })
	return p
}

// waitOnB long-polls r on B and returns the answer and when it came.
func (p *pgReplicas) waitOnB(t *testing.T, r signing.Request) <-chan answer {
	t.Helper()
	out := make(chan answer, 1)
	go func() {
		got, err := p.b.Wait(context.Background(), clientID, r.ID, r.Version, 30*time.Second)
		out <- answer{got, err, time.Now()}
	}()
	eventually(t, "the wait on B registered", func() bool { return p.b.Waiting() == 1 })
	return out
}

type answer struct {
	r   signing.Request
	err error
	at  time.Time
}

// TestCrossReplicaWakePG: changes made through replica A (cancel, approve, reject) answer
// a long-poll held by replica B within 100 ms, over PostgreSQL LISTEN/NOTIFY.
func TestCrossReplicaWakePG(t *testing.T) {
	p := newPGReplicas(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(r signing.Request) error
		want   signing.Status
	}{
		{"cancel", func(r signing.Request) error { _, err := p.a.Cancel(ctx, clientID, r.ID, ""); return err }, signing.StatusCanceled},
		{"reject", func(r signing.Request) error { _, err := p.a.Reject(ctx, r.ID, citizenID, subjectFor); return err }, signing.StatusRejected},
		{"approve", func(r signing.Request) error {
			_, err := p.a.Approve(ctx, r.ID, citizenID, subjectFor, hashes(r))
			return err
		}, signing.StatusSigning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := p.w.create(1, func(in *signing.CreateInput) { in.CallbackURL = "" })
			got := p.waitOnB(t, r)
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- tc.change(r) }() // an approval signs before it returns
			a := <-got
			if a.err != nil {
				t.Fatal(a.err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if took := a.at.Sub(start); took > crossReplicaBound {
				t.Fatalf("B answered %v after the change through A began; want within %v", took, crossReplicaBound)
			} else {
				t.Logf("B answered %v after the change through A began", took)
			}
			// The approval wakes B at its first change (signing); cancel and reject end it.
			if a.r.Status != tc.want && !(tc.want == signing.StatusSigning && a.r.Status == signing.StatusSigned) {
				t.Fatalf("B answered %s, want %s", a.r.Status, tc.want)
			}
			if p.b.Waiting() != 0 {
				t.Fatalf("%d waiter entries left on B", p.b.Waiting())
			}
		})
	}
}

// TestNotifierReconnectsAndWakesAll: when B's listening connection is cut, B reconnects
// by itself and wakes every waiter once, so a change it could not hear about (made while
// it was away, with no announcement) still answers the long-poll; announcements then
// flow again.
func TestNotifierReconnectsAndWakesAll(t *testing.T) {
	p := newPGReplicas(t)
	ctx := context.Background()
	r := p.w.create(1, func(in *signing.CreateInput) { in.CallbackURL = "" })
	got := p.waitOnB(t, r)
	db, err := sql.Open("pgx/v5", p.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var killed bool
	if err := db.QueryRowContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", p.nb.ApplicationName()).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate B's listening connection: %v %v", killed, err)
	}
	// A change that no replica announces (as if its announcement was lost).
	if _, err := p.w.store.UpdateSigningRequest(ctx, r.ID, func(old signing.Request) (signing.Request, error) {
		old.Status = signing.StatusCanceled
		return old, nil
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-got:
		if a.err != nil || a.r.Status != signing.StatusCanceled {
			t.Fatalf("after reconnect: %v %s", a.err, a.r.Status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll was not woken after the listening connection came back")
	}
	eventually(t, "B listening again", p.nb.Listening)
	r2 := p.w.create(1, func(in *signing.CreateInput) { in.CallbackURL = "" })
	got = p.waitOnB(t, r2)
	start := time.Now()
	if _, err := p.a.Cancel(ctx, clientID, r2.ID, ""); err != nil {
		t.Fatal(err)
	}
	a := <-got
	if a.err != nil || a.r.Status != signing.StatusCanceled || a.at.Sub(start) > crossReplicaBound {
		t.Fatalf("after reconnect, a change through A: %v %s in %v", a.err, a.r.Status, a.at.Sub(start))
	}
}
