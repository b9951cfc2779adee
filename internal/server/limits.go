package server

import (
	"crypto/hkdf"
	"crypto/sha256"
	"log/slog"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/ratelimit"
)

// newLimiter builds the rate limiter the config describes, over the store; nil when
// rate_limits.disabled. Limiters keep no state of their own (the store counts), so the
// provider and the signing API may each build one. Counter names are keyed from the
// master key, the same on every replica, so replicas share counters. onReject (may be
// nil) is told each refusal's scope.
func newLimiter(c config.RateLimits, st *sqlstore.Store, masterKey []byte, log *slog.Logger, onReject func(ratelimit.Scope)) (*ratelimit.Limiter, error) {
	if c.Disabled {
		return nil, nil
	}
	key, err := hkdf.Key(sha256.New, masterKey, nil, "motlan rate limits", 32)
	if err != nil {
		return nil, err
	}
	rules := map[ratelimit.Scope]map[ratelimit.Kind]ratelimit.Rule{}
	for scope, s := range map[ratelimit.Scope]config.RateLimitScope{ratelimit.Login: c.Login, ratelimit.Token: c.Token, ratelimit.Approval: c.Approval, ratelimit.Signing: c.Signing, ratelimit.Verify: c.Verify} {
		rules[scope] = map[ratelimit.Kind]ratelimit.Rule{}
		for kind, r := range map[ratelimit.Kind]*config.RateLimit{ratelimit.PerIP: s.PerIP, ratelimit.PerClient: s.PerClient, ratelimit.PerCitizen: s.PerCitizen} {
			if r != nil && r.Limit > 0 {
				rules[scope][kind] = ratelimit.Rule{Limit: r.Limit, Window: time.Duration(r.Window)}
			}
		}
	}
	return ratelimit.New(ratelimit.Config{
		Store: st, Key: key, Rules: rules, TrustedProxies: c.TrustedProxyPrefixes(), Logger: log,
		// An approval that cannot be counted is refused; logins and tokens go on (see
		// internal/ratelimit).
		FailClosed: map[ratelimit.Scope]bool{ratelimit.Approval: true},
		OnReject:   onReject,
	})
}

// newAudit returns the audit log over the store.
func newAudit(st *sqlstore.Store, log *slog.Logger) (*audit.Logger, error) {
	return audit.New(audit.Config{Store: st, Logger: log})
}
