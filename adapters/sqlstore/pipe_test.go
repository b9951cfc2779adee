package sqlstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/idp/store"
)

// A login transaction that fails after some of its statements reached the server (on
// PostgreSQL a pipeline: BEGIN, the once mark and the citizen went in the first round
// trip) stores nothing, and the one connection it ran on serves the next login.
func TestLoginTxFailureStoresNothing(t *testing.T) {
	ctx := context.Background()
	onEachDriver(t, Config{MaxOpenConns: 1}, func(t *testing.T, s *Store) {
		now := time.Now()
		login := func(n, sess string, audit func(store.Citizen) ([]store.AuditRecord, error)) (store.Citizen, error) {
			return s.RecordLogin(ctx, store.Login{
				Citizen: store.Citizen{ID: "cit-" + n, Issuer: "https://eid.example.vn", Subject: "sub-" + n, CCCD: "001099012345"},
				Session: store.Session{ID: sess, AuthTime: now, ACR: "2", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
				Code: &store.AuthCode{ID: "code-" + n, ClientID: "portal", RedirectURI: "https://portal.example.vn/cb",
					CreatedAt: now, ExpiresAt: now.Add(time.Minute)},
				Once:  &store.Once{Namespace: "motlan:upstream", Key: "state-" + n, ExpiresAt: now.Add(time.Minute)},
				Audit: audit,
			})
		}
		if _, err := login("b", "sess-b", nil); err != nil {
			t.Fatal(err)
		}
		for _, fail := range []struct {
			name, sess string
			audit      func(store.Citizen) ([]store.AuditRecord, error)
			want       string
		}{
			{"callback error", "sess-a", func(store.Citizen) ([]store.AuditRecord, error) { return nil, errors.New("no audit") }, "no audit"},
			{"callback panic", "sess-a", func(store.Citizen) ([]store.AuditRecord, error) { panic("a bug") }, "panic"},
			// Refused by the server in the commit's round trip, after the queued inserts.
			{"taken session ID", "sess-b", nil, "conflict"},
		} {
			_, err := login("a", fail.sess, fail.audit)
			if err == nil || !strings.Contains(err.Error(), fail.want) {
				t.Fatalf("%s: err = %v, want one saying %q", fail.name, err, fail.want)
			}
			if _, err := s.GetCitizen(ctx, "cit-a"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s: the citizen of a failed login: %v, want not found", fail.name, err)
			}
			if _, err := s.GetSession(ctx, "sess-a"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s: the session of a failed login: %v, want not found", fail.name, err)
			}
		}
		// The once mark went back with the rest: the same login now succeeds, on the
		// pool's only connection.
		got, err := login("a", "sess-a", nil)
		if err != nil || got.ID != "cit-a" {
			t.Fatalf("login after the failures: %+v, %v", got, err)
		}
		if _, err := s.ConsumeAuthCode(ctx, "code-a"); err != nil {
			t.Fatalf("the code of the login after the failures: %v", err)
		}
	})
}
