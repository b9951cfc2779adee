package keys

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/motlan/motlan/idp/store"
)

func TestRotationNextBoundary(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name  string
		every time.Duration
		at    time.Time
		want  time.Time
	}{
		{"daily, mid-day", day, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)},
		{"daily, on the boundary: the next one", day, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)},
		{"daily, in Vietnam's zone: same instant", day, time.Date(2026, 3, 2, 6, 59, 59, 0, time.FixedZone("ICT", 7*3600)), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)},
		{"hourly", time.Hour, time.Date(2026, 3, 1, 9, 59, 59, 999_000_000, time.UTC), time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)},
		// 720h periods count from 1970-01-01: 20513 days is a multiple of 30 plus 23.
		{"30 days", 720 * time.Hour, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), time.Unix(0, 0).UTC().Add(20520 * day)},
		{"before 1970", day, time.Date(1969, 12, 31, 12, 0, 0, 0, time.UTC), time.Unix(0, 0).UTC()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Rotation{Every: tt.every}.nextBoundary(tt.at)
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("nextBoundary(%v) = %v, want %v", tt.at, got, tt.want)
			}
			if !got.After(tt.at) || got.Sub(tt.at) > tt.every {
				t.Errorf("boundary %v is not within one period after %v", got, tt.at)
			}
		})
	}
	if got := scheduledKID(ES256, time.Date(2026, 3, 2, 7, 0, 0, 0, time.FixedZone("ICT", 7*3600))); got != "ES256-20260302T000000Z" {
		t.Errorf("scheduledKID = %q", got)
	}
}

func TestRotationConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		r       Rotation
		refresh time.Duration
		want    string // substring of the error; empty: accepted
	}{
		{"zero: off", Rotation{}, time.Minute, ""},
		{"monthly", Rotation{Every: 720 * time.Hour, PublishAhead: 24 * time.Hour}, time.Minute, ""},
		{"no background refresh", Rotation{Every: time.Hour, PublishAhead: time.Second}, -1, ""},
		{"publish ahead without period", Rotation{PublishAhead: time.Hour}, time.Minute, "Every"},
		{"period too short", Rotation{Every: 30 * time.Second, PublishAhead: time.Second}, -1, "Every"},
		{"period not whole seconds", Rotation{Every: time.Hour + time.Millisecond, PublishAhead: time.Minute}, -1, "Every"},
		{"no publish ahead", Rotation{Every: time.Hour}, time.Minute, "PublishAhead"},
		{"publish ahead a whole period", Rotation{Every: time.Hour, PublishAhead: time.Hour}, time.Minute, "PublishAhead"},
		{"publish ahead within one refresh", Rotation{Every: time.Hour, PublishAhead: time.Minute}, time.Minute, "RefreshInterval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			cfg := f.config(ES256)
			cfg.Rotation, cfg.RefreshInterval = tt.r, tt.refresh
			m, err := NewManager(t.Context(), cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("NewManager: %v", err)
				}
				m.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewManager error = %v, want one naming %s", err, tt.want)
			}
			if f.store.count() != 0 {
				t.Errorf("a rejected configuration stored %d keys", f.store.count())
			}
		})
	}
}

// TestScheduledRotation walks one manager through two periods of a daily schedule: the
// next key is published PublishAhead before its boundary, signs from the boundary, and
// the old key stays published, and its tokens valid, for MaxTokenLifetime after it.
func TestScheduledRotation(t *testing.T) {
	f := newFixture(t) // 2026-03-01 09:00 UTC
	cfg := f.config(ES256, RS256)
	cfg.MaxTokenLifetime = 10 * time.Minute
	cfg.Rotation = Rotation{Every: 24 * time.Hour, PublishAhead: 2 * time.Hour}
	m, err := NewManager(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	day1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	kid := func(alg string, d int) string { return scheduledKID(alg, day1.AddDate(0, 0, d)) }

	recs, _ := f.store.ListTokenKeys(t.Context())
	if len(recs) != 2 || recs[0].ID != kid(ES256, 0) && recs[1].ID != kid(ES256, 0) {
		t.Fatalf("first keys: %v", keyIDs(recs))
	}
	oldTok, err := m.Sign(t.Context(), ES256, "at+jwt", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	jwksIDs := func() []string {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(m.JWKS(), &set); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range set.Keys {
			ids = append(ids, k.KeyID)
		}
		slices.Sort(ids)
		return ids
	}
	ids := func(ids ...string) []string { slices.Sort(ids); return ids }

	steps := []struct {
		name     string
		at       time.Time
		created  []string // by RotateDue at this step
		active   map[string]string
		jwks     []string
		oldValid bool
	}{
		{"before the publish window", day1.Add(22*time.Hour - time.Millisecond), nil,
			map[string]string{ES256: kid(ES256, 0), RS256: kid(RS256, 0)}, ids(kid(ES256, 0), kid(RS256, 0)), true},
		{"publish window opens: next keys published, not used", day1.Add(22 * time.Hour), ids(kid(ES256, 1), kid(RS256, 1)),
			map[string]string{ES256: kid(ES256, 0), RS256: kid(RS256, 0)}, ids(kid(ES256, 0), kid(RS256, 0), kid(ES256, 1), kid(RS256, 1)), true},
		{"later in the window: nothing more", day1.Add(23 * time.Hour), nil,
			map[string]string{ES256: kid(ES256, 0), RS256: kid(RS256, 0)}, ids(kid(ES256, 0), kid(RS256, 0), kid(ES256, 1), kid(RS256, 1)), true},
		{"boundary: the next keys sign", day1.Add(24 * time.Hour), nil,
			map[string]string{ES256: kid(ES256, 1), RS256: kid(RS256, 1)}, ids(kid(ES256, 0), kid(RS256, 0), kid(ES256, 1), kid(RS256, 1)), true},
		{"old keys still published for the token lifetime", day1.Add(24*time.Hour + 10*time.Minute - time.Millisecond), nil,
			map[string]string{ES256: kid(ES256, 1), RS256: kid(RS256, 1)}, ids(kid(ES256, 0), kid(RS256, 0), kid(ES256, 1), kid(RS256, 1)), true},
		{"old keys retired", day1.Add(24*time.Hour + 10*time.Minute), nil,
			map[string]string{ES256: kid(ES256, 1), RS256: kid(RS256, 1)}, ids(kid(ES256, 1), kid(RS256, 1)), false},
		{"second period's window", day1.Add(46 * time.Hour), ids(kid(ES256, 2), kid(RS256, 2)),
			map[string]string{ES256: kid(ES256, 1), RS256: kid(RS256, 1)}, ids(kid(ES256, 1), kid(RS256, 1), kid(ES256, 2), kid(RS256, 2)), false},
	}
	for _, st := range steps {
		f.clock.mu.Lock()
		f.clock.t = st.at
		f.clock.mu.Unlock()
		created, err := m.RotateDue(t.Context())
		if err != nil {
			t.Fatalf("%s: RotateDue: %v", st.name, err)
		}
		slices.Sort(created)
		if !slices.Equal(created, st.created) {
			t.Errorf("%s: created %v, want %v", st.name, created, st.created)
		}
		for alg, want := range st.active {
			if got := activeKID(t, m, alg); got != want {
				t.Errorf("%s: %s signs with %s, want %s", st.name, alg, got, want)
			}
		}
		if got := jwksIDs(); !slices.Equal(got, st.jwks) {
			t.Errorf("%s: JWKS %v, want %v", st.name, got, st.jwks)
		}
		if _, _, err := m.Verify(t.Context(), oldTok); (err == nil) != st.oldValid {
			t.Errorf("%s: verifying a token of the first key: %v, want valid %v", st.name, err, st.oldValid)
		}
	}
	if n := f.store.count(); n != 6 {
		t.Errorf("store holds %d keys after two rotations of two algorithms, want 6", n)
	}
	// Published keys carry their schedule.
	for _, p := range m.PublicKeys() {
		if p.ID == kid(ES256, 1) && (!p.CreatedAt.Equal(day1.Add(22*time.Hour)) || !p.ActiveAt.Equal(day1.Add(24*time.Hour)) ||
			!p.RetireAt.Equal(day1.Add(48*time.Hour+10*time.Minute))) {
			t.Errorf("key %s: created %v active %v retire %v", p.ID, p.CreatedAt, p.ActiveAt, p.RetireAt)
		}
	}
}

// TestScheduledRotationRace: replicas racing through the publish window on one store
// create exactly one next key and agree on the active key at every instant.
func TestScheduledRotationRace(t *testing.T) {
	const n = 5
	f := newFixture(t)
	cfg := f.config(ES256)
	cfg.MaxTokenLifetime = 10 * time.Minute
	cfg.Rotation = Rotation{Every: 24 * time.Hour, PublishAhead: time.Hour}
	ms := make([]*Manager, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ms[i], errs[i] = NewManager(t.Context(), cfg) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("manager %d: %v", i, err)
		}
		defer ms[i].Close()
	}
	// Starting together on an empty store, they stored a single first key.
	if c := f.store.count(); c != 1 {
		t.Fatalf("%d replicas starting together stored %d keys, want 1", n, c)
	}
	f.clock.Advance(14*time.Hour + time.Minute) // 23:01, inside the publish window
	var created [n][]string
	for i := range n {
		wg.Go(func() {
			var err error
			if created[i], err = ms[i].RotateDue(t.Context()); err != nil {
				t.Errorf("manager %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	var all []string
	for _, c := range created {
		all = append(all, c...)
	}
	want := scheduledKID(ES256, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	if !slices.Equal(all, []string{want}) || f.store.count() != 2 {
		t.Fatalf("replicas created %v (store has %d), want exactly [%s]", all, f.store.count(), want)
	}
	for _, at := range []time.Duration{0, 59*time.Minute - time.Millisecond, time.Millisecond, time.Millisecond, 10 * time.Minute} {
		f.clock.Advance(at)
		kid := activeKID(t, ms[0], ES256)
		for i, m := range ms[1:] {
			if got := activeKID(t, m, ES256); got != kid {
				t.Errorf("at %v: manager %d signs with %s, manager 0 with %s", f.clock.Now(), i+1, got, kid)
			}
		}
	}
}

// TestStaleReplicaVerifiesNextKey: a replica that has not re-read the store since the
// next key was published still verifies that key's tokens, through the refresh on an
// unknown kid.
func TestStaleReplicaVerifiesNextKey(t *testing.T) {
	f := newFixture(t)
	cfg := f.config(ES256)
	cfg.Rotation = Rotation{Every: 24 * time.Hour, PublishAhead: time.Hour}
	fresh, err := NewManager(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	stale, err := NewManager(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Close()
	f.clock.Advance(14*time.Hour + 30*time.Minute) // 23:30
	created, err := fresh.RotateDue(t.Context())
	if err != nil || len(created) != 1 {
		t.Fatalf("RotateDue: %v %v", created, err)
	}
	f.clock.Advance(30 * time.Minute) // midnight
	tok, err := fresh.Sign(t.Context(), ES256, "", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, h, err := stale.Verify(t.Context(), tok); err != nil || h.KeyID != created[0] {
		t.Fatalf("stale replica: kid %s, %v", h.KeyID, err)
	}
	// Having re-read, it signs with the new key too.
	if got := activeKID(t, stale, ES256); got != created[0] {
		t.Errorf("stale replica signs with %s after refreshing, want %s", got, created[0])
	}
}

// TestScheduledKIDTakenByRetiredKey: when the current period's ID is held by a record
// that has retired, a starting replica still gets a key, under a random ID.
func TestScheduledKIDTakenByRetiredKey(t *testing.T) {
	f := newFixture(t)
	cfg := f.config(ES256)
	cfg.Rotation = Rotation{Every: 24 * time.Hour, PublishAhead: time.Hour}
	m, err := NewManager(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	f.store.edit(func(k *store.TokenKey) { k.RetireAt = f.clock.Now() })
	m2, err := NewManager(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	kid := activeKID(t, m2, ES256)
	if kid == scheduledKID(ES256, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) || f.store.count() != 2 {
		t.Errorf("signs with %s; store has %d keys", kid, f.store.count())
	}
	if _, err := m2.create(t.Context(), ES256, kid, time.Time{}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("creating a taken fixed ID: %v, want ErrConflict", err)
	}
}

func keyIDs(recs []store.TokenKey) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}
