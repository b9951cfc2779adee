package keys_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/testpg"
	"github.com/motlan/motlan/internal/testsync"
	"github.com/motlan/motlan/keys"
)

// Replicas of these tests each open their own handle on one database, as separate
// processes would.
var backends = []struct {
	name string
	dsn  func(t *testing.T) (string, string)
}{
	{"sqlite", func(t *testing.T) (string, string) {
		return sqlstore.DriverSQLite, filepath.Join(t.TempDir(), "motlan.db")
	}},
	{"postgres", func(t *testing.T) (string, string) { return sqlstore.DriverPostgres, testpg.DSN(t) }},
}

const (
	issuer   = "https://id.example"
	lifetime = 10 * time.Minute // the longest token the keys sign
	replicas = 4
)

// The schedule of these tests: monthly, published a day ahead. The clock starts on
// 2026-03-01 09:00 UTC; 720-hour periods count from 1970-01-01, so the next boundary is
// 2026-03-08 00:00 UTC (day 20520 since the epoch).
var (
	schedule = keys.Rotation{Every: 720 * time.Hour, PublishAhead: 24 * time.Hour}
	start    = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	period0  = time.Date(2026, 2, 6, 0, 0, 0, 0, time.UTC)
	boundary = time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)
)

type cluster struct {
	clock *testsync.Clock
	ms    []*keys.Manager
	st    *sqlstore.Store // one replica's store, for assertions
}

func newCluster(t *testing.T, driver string, dsn string, n int, algs ...string) *cluster {
	t.Helper()
	c := &cluster{clock: testsync.NewClock(start)}
	mk := make([]byte, keys.MasterKeySize)
	_, _ = rand.Read(mk)
	stores := make([]*sqlstore.Store, n)
	for i := range n {
		st, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: driver, DSN: dsn, Now: c.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores[i] = st
	}
	c.st = stores[0]
	c.ms = make([]*keys.Manager, n)
	// Replicas starting together on an empty store.
	errs := testsync.Race(n, func(i int) error {
		var err error
		c.ms[i], err = keys.NewManager(t.Context(), keys.Config{
			Store: stores[i], MasterKey: mk, Algs: algs, Now: c.clock.Now,
			RefreshInterval: -1, MaxTokenLifetime: lifetime, Rotation: schedule,
		})
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		t.Cleanup(func() { c.ms[i].Close() })
	}
	return c
}

// storedIDs lists the store's key IDs of alg.
func (c *cluster) storedIDs(t *testing.T, alg string) []string {
	t.Helper()
	recs, err := c.st.ListTokenKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		if r.Alg == alg {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// rotateAll runs every replica's scheduled check at once and returns what each created.
func (c *cluster) rotateAll(t *testing.T) []string {
	t.Helper()
	created := make([][]string, len(c.ms))
	errs := testsync.Race(len(c.ms), func(i int) error {
		var err error
		created[i], err = c.ms[i].RotateDue(t.Context())
		return err
	})
	var all []string
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: RotateDue: %v", i, err)
		}
		all = append(all, created[i]...)
	}
	slices.Sort(all)
	return all
}

// active returns the kid every replica signs alg with, failing when they disagree.
func (c *cluster) active(t *testing.T, alg string) string {
	t.Helper()
	var kid string
	for i, m := range c.ms {
		tok, err := m.Sign(t.Context(), alg, "", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		_, h, err := m.Verify(t.Context(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			kid = h.KeyID
		} else if h.KeyID != kid {
			t.Errorf("at %v replica %d signs %s with %s, replica 0 with %s", c.clock.Now(), i, alg, h.KeyID, kid)
		}
	}
	return kid
}

func jwksIDs(t *testing.T, doc []byte) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range set.Keys {
		ids = append(ids, k.KeyID)
	}
	slices.Sort(ids)
	return ids
}

// token signs an ID-token-like JWT valid for lifetime from now.
func (c *cluster) token(t *testing.T, m *keys.Manager, alg string) string {
	t.Helper()
	now := c.clock.Now()
	b, _ := json.Marshal(map[string]any{"iss": issuer, "sub": "citizen-1", "aud": "portal",
		"iat": now.Unix(), "exp": now.Add(lifetime).Unix()})
	tok, err := m.Sign(t.Context(), alg, "", b)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestRotationAcrossReplicas: replicas sharing one real store create one key per period
// between them, publish it before it signs, switch to it together at the boundary, and
// keep verifying the old key's tokens until it retires, when it leaves JWKS.
func TestRotationAcrossReplicas(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			driver, dsn := b.dsn(t)
			c := newCluster(t, driver, dsn, replicas, keys.ES256, keys.RS256)
			for _, alg := range []string{keys.ES256, keys.RS256} {
				if got, want := c.storedIDs(t, alg), []string{alg + "-20260206T000000Z"}; !slices.Equal(got, want) {
					t.Fatalf("%d replicas starting together stored %s keys %v, want %v", replicas, alg, got, want)
				}
			}
			oldES, oldRS := c.active(t, keys.ES256), c.active(t, keys.RS256)
			if oldES != keys.ES256+"-"+period0.Format("20060102T150405Z") {
				t.Fatalf("first ES256 key %s", oldES)
			}
			newES, newRS := keys.ES256+"-20260308T000000Z", keys.RS256+"-20260308T000000Z"
			var oldTok string
			steps := []struct {
				name    string
				at      time.Time
				created []string
				active  [2]string // ES256, RS256
				jwks    []string
				oldOK   bool
			}{
				{"before the publish window", boundary.Add(-24*time.Hour - time.Second), nil,
					[2]string{oldES, oldRS}, sorted(oldES, oldRS), true},
				{"window open: one replica creates each next key", boundary.Add(-24*time.Hour + time.Minute), sorted(newES, newRS),
					[2]string{oldES, oldRS}, sorted(oldES, oldRS, newES, newRS), true},
				{"again in the window: nothing to do", boundary.Add(-time.Millisecond), nil,
					[2]string{oldES, oldRS}, sorted(oldES, oldRS, newES, newRS), true},
				{"boundary: all switch together", boundary, nil,
					[2]string{newES, newRS}, sorted(oldES, oldRS, newES, newRS), true},
				{"last instant of the old keys", boundary.Add(lifetime - time.Millisecond), nil,
					[2]string{newES, newRS}, sorted(oldES, oldRS, newES, newRS), true},
				{"old keys retired", boundary.Add(lifetime), nil,
					[2]string{newES, newRS}, sorted(newES, newRS), false},
			}
			for i, st := range steps {
				c.clock.Set(st.at)
				if created := c.rotateAll(t); !slices.Equal(created, st.created) {
					t.Fatalf("%s: replicas created %v, want %v", st.name, created, st.created)
				}
				if i == 2 {
					oldTok = c.token(t, c.ms[1], keys.ES256) // signed by the old key in its last millisecond
				}
				if got := [2]string{c.active(t, keys.ES256), c.active(t, keys.RS256)}; got != st.active {
					t.Errorf("%s: replicas sign with %v, want %v", st.name, got, st.active)
				}
				for r, m := range c.ms {
					if got := jwksIDs(t, m.JWKS()); !slices.Equal(got, st.jwks) {
						t.Errorf("%s: replica %d publishes %v, want %v", st.name, r, got, st.jwks)
					}
					if oldTok == "" {
						continue
					}
					_, _, err := m.Verify(t.Context(), oldTok)
					if st.oldOK && err != nil {
						t.Errorf("%s: replica %d rejects a token of the old key: %v", st.name, r, err)
					}
					if !st.oldOK && !errors.Is(err, keys.ErrUnknownKey) {
						t.Errorf("%s: replica %d on a token of the retired key: %v, want ErrUnknownKey", st.name, r, err)
					}
				}
			}
			for _, alg := range []string{keys.ES256, keys.RS256} {
				if n := len(c.storedIDs(t, alg)); n != 2 {
					t.Errorf("%s: %d keys stored after one period, want 2", alg, n)
				}
			}
		})
	}
}

// TestRelyingPartyAcrossRotation: a relying party using go-oidc's remote key set, over
// real HTTP behind a round-robin "load balancer" of replicas, verifies every token from
// before, at and after a rotation, and already sees the next key in JWKS before it signs.
func TestRelyingPartyAcrossRotation(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			driver, dsn := b.dsn(t)
			c := newCluster(t, driver, dsn, 3, keys.ES256)
			var next, fetches atomic.Int64
			lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fetches.Add(1)
				m := c.ms[next.Add(1)%int64(len(c.ms))]
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(m.JWKS())
			}))
			defer lb.Close()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			rp := oidc.NewVerifier(issuer, oidc.NewRemoteKeySet(ctx, lb.URL),
				&oidc.Config{ClientID: "portal", SupportedSigningAlgs: []string{keys.ES256}, Now: c.clock.Now})
			fetchJWKS := func() []string {
				resp, err := http.Get(lb.URL)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var raw json.RawMessage
				if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
					t.Fatal(err)
				}
				return jwksIDs(t, raw)
			}
			verify := func(what, tok, wantKID string) {
				t.Helper()
				idt, err := rp.Verify(ctx, tok)
				if err != nil {
					t.Fatalf("%s: relying party: %v", what, err)
				}
				if idt.Subject != "citizen-1" {
					t.Fatalf("%s: subject %q", what, idt.Subject)
				}
				jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
				if err != nil {
					t.Fatal(err)
				}
				if kid := jws.Signatures[0].Header.KeyID; kid != wantKID {
					t.Fatalf("%s: signed by %s, want %s", what, kid, wantKID)
				}
			}

			oldKID := c.active(t, keys.ES256)
			verify("first key", c.token(t, c.ms[0], keys.ES256), oldKID)
			newKID := keys.ES256 + "-20260308T000000Z"

			c.clock.Set(boundary.Add(-2 * time.Hour))
			if created := c.rotateAll(t); len(created) != 1 {
				t.Fatalf("created %v", created)
			}
			// Published before use: the JWKS any replica serves now lists the next key.
			for range len(c.ms) {
				if got := fetchJWKS(); !slices.Equal(got, sorted(oldKID, newKID)) {
					t.Fatalf("JWKS before the boundary: %v", got)
				}
			}
			verify("old key in the publish window", c.token(t, c.ms[1], keys.ES256), oldKID)
			c.clock.Set(boundary.Add(-time.Millisecond))
			lastOld := c.token(t, c.ms[2], keys.ES256)
			c.clock.Set(boundary)
			firstNew := c.token(t, c.ms[0], keys.ES256)
			// The relying party had cached the old set: the new kid makes it re-fetch.
			before := fetches.Load()
			verify("first token of the new key", firstNew, newKID)
			if fetches.Load() == before {
				t.Errorf("the relying party verified an unknown kid without fetching JWKS")
			}
			verify("last token of the old key, after the boundary", lastOld, oldKID)
			c.clock.Set(boundary.Add(lifetime - 2*time.Second)) // go-oidc compares whole seconds
			verify("old key's token at the end of its life", lastOld, oldKID)
			verify("new key later", c.token(t, c.ms[1], keys.ES256), newKID)

			c.clock.Set(boundary.Add(lifetime))
			for range len(c.ms) {
				if got := fetchJWKS(); !slices.Equal(got, []string{newKID}) {
					t.Fatalf("JWKS after the old key retired: %v", got)
				}
			}
			verify("new key after the old one retired", c.token(t, c.ms[2], keys.ES256), newKID)
		})
	}
}

func sorted(ids ...string) []string { slices.Sort(ids); return ids }
