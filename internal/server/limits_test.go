package server

import (
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/ratelimit"
)

// TestLimiterKey: limiters built from one master key (the provider's and the signing
// API's, or two replicas') share counters in the store; a deployment with another master
// key counts apart; disabled limits build no limiter.
func TestLimiterKey(t *testing.T) {
	st, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := config.RateLimits{Login: config.RateLimitScope{PerIP: &config.RateLimit{Limit: 1, Window: config.Duration(time.Hour)}}}
	build := func(masterKey string) *ratelimit.Limiter {
		l, err := newLimiter(c, st, []byte(masterKey), slog.New(slog.DiscardHandler), nil)
		if err != nil || l == nil {
			t.Fatalf("newLimiter: %v, %v", l, err)
		}
		return l
	}
	master := "a master key of 32 bytes, test.."
	steps := []struct {
		name     string
		l        *ratelimit.Limiter
		exceeded bool
	}{
		{"first", build(master), false},
		{"another limiter, same master key", build(master), true},
		{"another master key", build("another master key, 32 bytes...."), false},
	}
	for _, s := range steps {
		var ex *ratelimit.Exceeded
		if err := s.l.Take(t.Context(), ratelimit.Login, ratelimit.IP("192.0.2.1")); errors.As(err, &ex) != s.exceeded || (err != nil && ex == nil) {
			t.Errorf("%s: %v, want exceeded %v", s.name, err, s.exceeded)
		}
	}
	if l, err := newLimiter(config.RateLimits{Disabled: true}, st, []byte(master), slog.New(slog.DiscardHandler), nil); l != nil || err != nil {
		t.Errorf("disabled: %v, %v", l, err)
	}
}
