package ratelimit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/ratelimit"
	"github.com/motlan/motlan/internal/testsync"
)

// testKey names counters in tests; Motlan derives its key from the master key.
var testKey = []byte("ratelimit test key, 32 bytes....")

func openStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestTake(t *testing.T) {
	clock := testsync.NewClock(time.Date(2026, 3, 1, 8, 0, 10, 0, time.UTC))
	l, err := ratelimit.New(ratelimit.Config{
		Store: openStore(t), Key: testKey, Now: clock.Now,
		Rules: map[ratelimit.Scope]map[ratelimit.Kind]ratelimit.Rule{
			ratelimit.Login: {ratelimit.PerIP: {Limit: 2, Window: time.Minute}, ratelimit.PerCitizen: {Limit: 1, Window: time.Hour}},
			ratelimit.Token: {ratelimit.PerClient: {Limit: 0, Window: time.Minute}}, // off
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ip := ratelimit.IP("192.0.2.1")
	steps := []struct {
		name      string
		scope     ratelimit.Scope
		keys      []ratelimit.Key
		wantKind  ratelimit.Kind // "" allowed
		wantRetry int
	}{
		{"first login", ratelimit.Login, []ratelimit.Key{ip, ratelimit.Citizen("c1")}, "", 0},
		{"second login, citizen used up", ratelimit.Login, []ratelimit.Key{ip, ratelimit.Citizen("c1")}, ratelimit.PerCitizen, 3590},
		{"third from the IP", ratelimit.Login, []ratelimit.Key{ip}, ratelimit.PerIP, 50},
		{"another IP", ratelimit.Login, []ratelimit.Key{ratelimit.IP("192.0.2.2")}, "", 0},
		{"same value in another scope", ratelimit.Token, []ratelimit.Key{ip}, "", 0},
		{"rule off", ratelimit.Token, []ratelimit.Key{ratelimit.Client("portal"), ratelimit.Client("portal")}, "", 0},
		{"empty value skipped", ratelimit.Login, []ratelimit.Key{ratelimit.Citizen("")}, "", 0},
	}
	for _, s := range steps {
		err := l.Take(ctx, s.scope, s.keys...)
		var ex *ratelimit.Exceeded
		switch {
		case s.wantKind == "" && err != nil:
			t.Errorf("%s: %v", s.name, err)
		case s.wantKind != "" && !errors.As(err, &ex):
			t.Errorf("%s: %v, want Exceeded", s.name, err)
		case s.wantKind != "" && (ex.Kind != s.wantKind || ex.RetryAfterSeconds() != s.wantRetry):
			t.Errorf("%s: exceeded per %s, retry %ds; want per %s, %ds", s.name, ex.Kind, ex.RetryAfterSeconds(), s.wantKind, s.wantRetry)
		}
	}
	clock.Advance(time.Minute)
	if err := l.Take(ctx, ratelimit.Login, ip); err != nil {
		t.Errorf("next window: %v", err)
	}
	var nilLimiter *ratelimit.Limiter
	if err := nilLimiter.Take(ctx, ratelimit.Login, ip); err != nil {
		t.Errorf("nil limiter: %v", err)
	}
}

// TestTwoReplicas: two limiters on two stores over one database share the counters.
func TestTwoReplicas(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "m.db")
	rules := map[ratelimit.Scope]map[ratelimit.Kind]ratelimit.Rule{ratelimit.Approval: {ratelimit.PerCitizen: {Limit: 3, Window: 24 * time.Hour}}}
	var ls []*ratelimit.Limiter
	for range 2 {
		s, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		l, err := ratelimit.New(ratelimit.Config{Store: s, Key: testKey, Rules: rules})
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	errs := testsync.Race(10, func(i int) error {
		return ls[i%2].Take(context.Background(), ratelimit.Approval, ratelimit.Citizen("c"))
	})
	allowed := 0
	for _, err := range errs {
		var ex *ratelimit.Exceeded
		switch {
		case err == nil:
			allowed++
		case !errors.As(err, &ex):
			t.Errorf("take: %v", err)
		}
	}
	if allowed != 3 {
		t.Errorf("%d of 10 allowed across two replicas, want 3", allowed)
	}
}

// brokenStore fails every take, as a store that lost its database does.
type brokenStore struct{}

func (brokenStore) TakeRateLimit(context.Context, string, int, time.Duration, time.Time) (bool, time.Duration, error) {
	return false, 0, errors.New("connection refused")
}
func (brokenStore) DeleteExpiredRateLimits(context.Context, time.Time) (int64, error) { return 0, nil }

var _ store.RateLimits = brokenStore{}

func TestStoreFailure(t *testing.T) {
	rule := map[ratelimit.Kind]ratelimit.Rule{ratelimit.PerIP: {Limit: 1, Window: time.Minute}}
	l, err := ratelimit.New(ratelimit.Config{
		Store:      brokenStore{},
		Key:        testKey,
		Rules:      map[ratelimit.Scope]map[ratelimit.Kind]ratelimit.Rule{ratelimit.Login: rule, ratelimit.Approval: rule},
		FailClosed: map[ratelimit.Scope]bool{ratelimit.Approval: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Take(t.Context(), ratelimit.Login, ratelimit.IP("192.0.2.1")); err != nil {
		t.Errorf("login fails open, got %v", err)
	}
	if err := l.Take(t.Context(), ratelimit.Approval, ratelimit.IP("192.0.2.1")); !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Errorf("approval fails closed, got %v", err)
	}
}

func TestClientIP(t *testing.T) {
	l, err := ratelimit.New(ratelimit.Config{Store: brokenStore{}, Key: testKey, TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct", "192.0.2.7:5000", nil, "192.0.2.7"},
		{"untrusted peer's header ignored", "192.0.2.7:5000", []string{"198.51.100.1"}, "192.0.2.7"},
		{"trusted proxy", "10.1.2.3:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client forges a left entry", "10.1.2.3:443", []string{"203.0.113.9, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted hops", "10.1.2.3:443", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"headers on several lines", "10.1.2.3:443", []string{"198.51.100.1", "10.9.9.9"}, "198.51.100.1"},
		{"malformed hop stops", "10.1.2.3:443", []string{"198.51.100.1, junk"}, "10.1.2.3"},
		{"trusted proxy, no header", "10.1.2.3:443", nil, "10.1.2.3"},
		{"IPv6 by /64", "[2001:db8:1:2:3:4:5:6]:443", nil, "2001:db8:1:2::/64"},
		{"IPv4-mapped", "[::ffff:192.0.2.8]:80", nil, "192.0.2.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := l.ClientIP(r); got != tt.want {
				t.Errorf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSetRetryAfter(t *testing.T) {
	tests := []struct {
		retry time.Duration
		want  string
	}{{1500 * time.Millisecond, "2"}, {0, "1"}, {time.Minute, "60"}}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		if _, ok := ratelimit.SetRetryAfter(w, &ratelimit.Exceeded{RetryAfter: tt.retry}); !ok || w.Header().Get("Retry-After") != tt.want {
			t.Errorf("retry %v: Retry-After %q, want %q", tt.retry, w.Header().Get("Retry-After"), tt.want)
		}
	}
	if _, ok := ratelimit.SetRetryAfter(httptest.NewRecorder(), errors.New("other")); ok {
		t.Error("SetRetryAfter took a foreign error")
	}
}

func TestNewKey(t *testing.T) {
	tests := []struct {
		name string
		key  []byte
		want string // in the error; "" accepted
	}{
		{"missing", nil, "Key is required"},
		{"empty", []byte{}, "Key is required"},
		{"short", []byte("15 bytes key..."), "at least 16"},
		{"16 bytes", []byte("16 bytes key...."), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ratelimit.New(ratelimit.Config{Store: brokenStore{}, Key: tt.key})
			switch {
			case tt.want == "" && (err != nil || l == nil):
				t.Errorf("New: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("New = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// recordingStore keeps the counter names it is asked for.
type recordingStore struct {
	store.RateLimits
	mu    sync.Mutex
	names []string
}

func (s *recordingStore) TakeRateLimit(ctx context.Context, name string, limit int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	s.mu.Lock()
	s.names = append(s.names, name)
	s.mu.Unlock()
	return s.RateLimits.TakeRateLimit(ctx, name, limit, window, now)
}

// TestKeys: limiters with one key share counters through one store (replicas); with
// another key they count apart. A counter's name holds neither the value nor its plain
// SHA-256, which trying every IPv4 address would undo.
func TestKeys(t *testing.T) {
	st := &recordingStore{RateLimits: openStore(t)}
	rules := map[ratelimit.Scope]map[ratelimit.Kind]ratelimit.Rule{ratelimit.Login: {ratelimit.PerIP: {Limit: 2, Window: time.Hour}}}
	limiter := func(key string) *ratelimit.Limiter {
		l, err := ratelimit.New(ratelimit.Config{Store: st, Key: []byte(key), Rules: rules})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a1, a2 := limiter("replica key, the same on every one"), limiter("replica key, the same on every one")
	b := limiter("another deployment's key........")
	ip := ratelimit.IP("192.0.2.1")
	steps := []struct {
		name    string
		l       *ratelimit.Limiter
		allowed bool
	}{
		{"first replica", a1, true},
		{"second replica", a2, true},
		{"first replica again: the shared limit is used up", a1, false},
		{"second replica again", a2, false},
		{"other key: its own counter", b, true},
		{"other key again", b, true},
		{"other key, third", b, false},
	}
	for _, s := range steps {
		err := s.l.Take(t.Context(), ratelimit.Login, ip)
		var ex *ratelimit.Exceeded
		switch {
		case s.allowed && err != nil:
			t.Errorf("%s: %v, want allowed", s.name, err)
		case !s.allowed && !errors.As(err, &ex):
			t.Errorf("%s: %v, want Exceeded", s.name, err)
		}
	}
	plain := sha256.Sum256([]byte("login\x00ip\x003600000\x00192.0.2.1"))
	distinct := map[string]bool{}
	for _, n := range st.names {
		distinct[n] = true
		if strings.Contains(n, "192.0.2.1") || n == hex.EncodeToString(plain[:16]) {
			t.Errorf("counter name %q reveals the address", n)
		}
	}
	if len(distinct) != 2 {
		t.Errorf("%d counter names for one address under two keys, want 2: %q", len(distinct), st.names)
	}
}
