// Package ratelimit limits requests per client, per IP address and per citizen, with the
// counters in the store (store.RateLimits) so that a limit holds across every replica.
//
// A limit is a rule (limit requests per fixed window) for a scope (login, token,
// approval) and a kind of key (ip, client, citizen). Keys are named in the store by an
// HMAC-SHA-256 of their scope, kind and value under a secret key (Config.Key, derived
// from the master key), so the table holds no IP address or citizen id, and none can be
// found by hashing every IPv4 address or every 12-digit number without that key.
//
// When the store fails, a scope either lets the request through (fail open: login and
// token, where a store outage fails the request anyway and refusing would only add a
// second error) or refuses it with ErrUnavailable (fail closed: signing approval, where an
// unlimited approval path is worth less than a retry).
package ratelimit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/store"
)

// Scope is what is limited.
type Scope string

const (
	Login    Scope = "login"    // /authorize and the eID callback
	Token    Scope = "token"    // the token endpoint
	Approval Scope = "approval" // a citizen's approval (or rejection) of a signing request
	// Signing counts signing requests created through the API, per client and per citizen
	// asked to approve, so no client floods a citizen's phone.
	Signing Scope = "signing"
	// Verify is POST /signing/v1/verify, per client.
	Verify Scope = "verify"
)

// Kind is what a counter is kept per.
type Kind string

const (
	PerIP      Kind = "ip"
	PerClient  Kind = "client"
	PerCitizen Kind = "citizen"
)

// Key is one counter to take: a kind and its value.
type Key struct {
	Kind  Kind
	Value string
}

// IP, Client and Citizen build keys.
func IP(addr string) Key    { return Key{PerIP, addr} }
func Client(id string) Key  { return Key{PerClient, id} }
func Citizen(id string) Key { return Key{PerCitizen, id} }

// Rule allows Limit requests per Window; a zero Limit turns the rule off.
type Rule struct {
	Limit  int
	Window time.Duration
}

// Config configures a Limiter.
type Config struct {
	Store store.RateLimits
	// Key is the HMAC key that names counters (at least 16 bytes; Motlan derives it from
	// the master key with the HKDF label "motlan rate limits"). Replicas must share it to
	// share counters.
	Key []byte
	// Rules by scope and kind; a missing rule is off.
	Rules map[Scope]map[Kind]Rule
	// FailClosed lists the scopes refused (ErrUnavailable) when the store fails; the
	// others are let through.
	FailClosed map[Scope]bool
	// TrustedProxies are the addresses whose X-Forwarded-For is believed; empty: the
	// client address is the connection's (RemoteAddr).
	TrustedProxies []netip.Prefix
	Now            func() time.Time
	Logger         *slog.Logger
	// OnReject is told the scope of each request refused over a limit (metrics); nil: nobody.
	OnReject func(Scope)
}

// Limiter takes requests against the rules. A nil *Limiter allows everything.
type Limiter struct {
	cfg Config
}

// New checks cfg and returns a Limiter.
func New(cfg Config) (*Limiter, error) {
	if cfg.Store == nil {
		return nil, errors.New("ratelimit: Store is required")
	}
	switch {
	case len(cfg.Key) == 0:
		return nil, errors.New("ratelimit: Key is required: without it, counter names are plain hashes from which IP addresses can be recovered")
	case len(cfg.Key) < minKeyLen:
		return nil, fmt.Errorf("ratelimit: Key is %d bytes, want at least %d", len(cfg.Key), minKeyLen)
	}
	cfg.Key = bytes.Clone(cfg.Key)
	for scope, rules := range cfg.Rules {
		for kind, r := range rules {
			if r.Limit < 0 || (r.Limit > 0 && r.Window < time.Second) {
				return nil, fmt.Errorf("ratelimit: %s per %s: limit must be >= 0 and window at least 1s", scope, kind)
			}
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Limiter{cfg: cfg}, nil
}

// minKeyLen is the shortest Config.Key accepted: 128 bits.
const minKeyLen = 16

// ErrUnavailable is returned, in a fail-closed scope, when the store cannot count.
var ErrUnavailable = errors.New("ratelimit: limits cannot be checked right now")

// Exceeded is the error of a request over a limit.
type Exceeded struct {
	Scope      Scope
	Kind       Kind
	RetryAfter time.Duration
}

func (e *Exceeded) Error() string {
	return fmt.Sprintf("ratelimit: too many %s requests per %s; retry after %s", e.Scope, e.Kind, e.RetryAfter)
}

// RetryAfterSeconds is the Retry-After value (RFC 9110 10.2.3) for e: whole seconds,
// rounded up, at least 1.
func (e *Exceeded) RetryAfterSeconds() int {
	return max(1, int(math.Ceil(e.RetryAfter.Seconds())))
}

// SetRetryAfter sets the Retry-After header when err is an *Exceeded, and returns it.
func SetRetryAfter(w http.ResponseWriter, err error) (*Exceeded, bool) {
	var e *Exceeded
	if !errors.As(err, &e) {
		return nil, false
	}
	w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds()))
	return e, true
}

// Take counts one request against each key's rule in scope, in order, and stops at the
// first one over its limit: an *Exceeded. Empty values and keys without a rule are skipped.
func (l *Limiter) Take(ctx context.Context, scope Scope, keys ...Key) error {
	if l == nil {
		return nil
	}
	for _, k := range keys {
		rule, ok := l.cfg.Rules[scope][k.Kind]
		if !ok || rule.Limit == 0 || k.Value == "" {
			continue
		}
		allowed, retry, err := l.cfg.Store.TakeRateLimit(ctx, l.hash(scope, k, rule), rule.Limit, rule.Window, l.cfg.Now())
		if err != nil {
			if l.cfg.FailClosed[scope] {
				l.cfg.Logger.ErrorContext(ctx, "rate limit store failed: refusing", "scope", scope, "kind", k.Kind, "err", err)
				return fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			l.cfg.Logger.WarnContext(ctx, "rate limit store failed: allowing", "scope", scope, "kind", k.Kind, "err", err)
			continue
		}
		if !allowed {
			l.cfg.Logger.InfoContext(ctx, "rate limited", "scope", scope, "kind", k.Kind, "retry_after", retry)
			if l.cfg.OnReject != nil {
				l.cfg.OnReject(scope)
			}
			return &Exceeded{Scope: scope, Kind: k.Kind, RetryAfter: retry}
		}
	}
	return nil
}

// hash names a counter without the value in clear: a keyed hash, since a plain one of a
// value from a small set (an IPv4 address, a CCCD) is undone by trying them all. The rule
// is part of the name, so a changed window starts fresh counters instead of reading old
// ones with a new meaning.
func (l *Limiter) hash(scope Scope, k Key, r Rule) string {
	m := hmac.New(sha256.New, l.cfg.Key)
	fmt.Fprintf(m, "%s\x00%s\x00%d\x00%s", scope, k.Kind, r.Window.Milliseconds(), k.Value)
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// ClientIP returns the key of the request's client address: RemoteAddr, or, when that is
// a trusted proxy, the nearest X-Forwarded-For entry that is not one. IPv6 addresses are
// cut to their /64, which one host typically holds whole.
func (l *Limiter) ClientIP(r *http.Request) string {
	addr := remoteAddr(r.RemoteAddr)
	if l != nil && addr.IsValid() && l.trusted(addr) {
		hops := r.Header.Values("X-Forwarded-For")
		var list []string
		for _, h := range hops {
			list = append(list, strings.Split(h, ",")...)
		}
		for i := len(list) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(list[i]))
			if err != nil {
				break // a malformed hop: believe nothing further left
			}
			addr = a.Unmap()
			if !l.trusted(addr) {
				break
			}
		}
	}
	if !addr.IsValid() {
		return r.RemoteAddr
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func (l *Limiter) trusted(a netip.Addr) bool {
	for _, p := range l.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func remoteAddr(s string) netip.Addr {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// RequestIP is the per-IP key of r.
func (l *Limiter) RequestIP(r *http.Request) Key { return IP(l.ClientIP(r)) }
