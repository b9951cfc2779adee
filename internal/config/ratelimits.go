package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// RateLimits limits requests (429 with Retry-After) per IP address, per client and per
// citizen, counted in the store so that a limit holds across replicas. Every rule has a
// generous default; a rule with limit 0 is off, disabled: true turns all off.
type RateLimits struct {
	Disabled bool `yaml:"disabled"`
	// TrustedProxies are the reverse proxies (addresses or CIDR prefixes) whose
	// X-Forwarded-For names the client; empty: the connection's address is the client's.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Login covers /authorize and the eID callback (per_citizen: eID logins per citizen).
	Login RateLimitScope `yaml:"login"`
	// Token covers the token endpoint (per_client counts after client authentication).
	Token RateLimitScope `yaml:"token"`
	// Approval covers a citizen's approval or rejection of a signing request.
	Approval RateLimitScope `yaml:"approval"`
	// Signing covers signing requests created through the API: per client, and per
	// citizen asked to approve (as the client names them).
	Signing RateLimitScope `yaml:"signing"`
	// Verify covers POST /signing/v1/verify, per client: each call may cost seconds of
	// CPU on a hostile PDF.
	Verify RateLimitScope `yaml:"verify"`
}

// RateLimitScope holds a scope's rules; an absent rule takes its default.
type RateLimitScope struct {
	PerIP      *RateLimit `yaml:"per_ip"`
	PerClient  *RateLimit `yaml:"per_client"`
	PerCitizen *RateLimit `yaml:"per_citizen"`
}

// RateLimit allows Limit requests per Window (default 1m); limit 0 is off.
type RateLimit struct {
	Limit  int      `yaml:"limit"`
	Window Duration `yaml:"window"`
}

// Default rate limits: far above what a person or a relying party does, so they only
// stop floods and guessing.
var (
	DefaultLoginLimits = RateLimitScope{PerIP: &RateLimit{300, Duration(time.Minute)}, PerClient: &RateLimit{6000, Duration(time.Minute)}, PerCitizen: &RateLimit{30, Duration(10 * time.Minute)}}
	DefaultTokenLimits = RateLimitScope{PerIP: &RateLimit{600, Duration(time.Minute)}, PerClient: &RateLimit{6000, Duration(time.Minute)}}
	// Approval counts each opening of an approval link before the eID login and each
	// answer, so a dossier takes two: 120 per 10 minutes lets a citizen sign several
	// dossiers a minute for ten minutes on end; per IP is high because mobile carriers put
	// many phones behind one address (CGNAT).
	DefaultApprovalLimits = RateLimitScope{PerIP: &RateLimit{300, Duration(time.Minute)}, PerCitizen: &RateLimit{120, Duration(10 * time.Minute)}}
	DefaultSigningLimits  = RateLimitScope{PerClient: &RateLimit{600, Duration(time.Minute)}, PerCitizen: &RateLimit{30, Duration(10 * time.Minute)}}
	DefaultVerifyLimits   = RateLimitScope{PerClient: &RateLimit{600, Duration(time.Minute)}}
)

func (s *RateLimitScope) applyDefaults(d RateLimitScope) {
	for _, p := range []struct{ rule, def **RateLimit }{{&s.PerIP, &d.PerIP}, {&s.PerClient, &d.PerClient}, {&s.PerCitizen, &d.PerCitizen}} {
		if *p.rule == nil && *p.def != nil {
			v := **p.def
			*p.rule = &v
		}
		if r := *p.rule; r != nil && r.Limit > 0 && r.Window == 0 {
			r.Window = Duration(time.Minute)
		}
	}
}

func (r *RateLimits) applyDefaults() {
	r.Login.applyDefaults(DefaultLoginLimits)
	r.Token.applyDefaults(DefaultTokenLimits)
	r.Approval.applyDefaults(DefaultApprovalLimits)
	r.Signing.applyDefaults(DefaultSigningLimits)
	r.Verify.applyDefaults(DefaultVerifyLimits)
}

// TrustedProxyPrefixes parses TrustedProxies (Validate has checked them).
func (r RateLimits) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range r.TrustedProxies {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func (r RateLimits) validate() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf("rate_limits."+format, a...)) }
	for i, s := range r.TrustedProxies {
		if _, err := parsePrefix(s); err != nil {
			add("trusted_proxies[%d]: %q is not an IP address or CIDR prefix such as 10.0.0.0/8", i, s)
		}
	}
	scopes := []struct {
		name string
		s    RateLimitScope
		no   []string // the kinds the scope does not count
	}{{"login", r.Login, nil}, {"token", r.Token, []string{"per_citizen"}}, {"approval", r.Approval, []string{"per_client"}},
		{"signing", r.Signing, []string{"per_ip"}}, {"verify", r.Verify, []string{"per_ip", "per_citizen"}}}
	for _, sc := range scopes {
		for _, k := range []struct {
			name string
			r    *RateLimit
		}{{"per_ip", sc.s.PerIP}, {"per_client", sc.s.PerClient}, {"per_citizen", sc.s.PerCitizen}} {
			switch {
			case k.r == nil:
			case slices.Contains(sc.no, k.name) && k.r.Limit != 0:
				add("%s.%s: not counted for %s; remove it", sc.name, k.name, sc.name)
			case k.r.Limit < 0:
				add("%s.%s.limit: %d is negative (0 turns the rule off)", sc.name, k.name, k.r.Limit)
			case k.r.Limit > 0 && time.Duration(k.r.Window) < time.Second:
				add("%s.%s.window: %s is shorter than 1s", sc.name, k.name, time.Duration(k.r.Window))
			}
		}
	}
	return errs
}
