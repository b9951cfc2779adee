package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
)

// Tracing configures OpenTelemetry traces, exported over OTLP/HTTP. Off unless Endpoint
// is set.
type Tracing struct {
	// Endpoint is the collector's OTLP/HTTP URL, e.g. http://otel-collector:4318 (the path
	// /v1/traces is added when the URL has none).
	Endpoint string `yaml:"endpoint"`
	// SampleRatio is the share of new traces recorded, in (0, 1]; default 1. Requests
	// continuing a trusted proxy's trace follow its decision.
	SampleRatio *float64 `yaml:"sample_ratio"`
}

// Ratio returns the effective sample ratio.
func (t Tracing) Ratio() float64 {
	if t.SampleRatio == nil {
		return 1
	}
	return *t.SampleRatio
}

func (t Tracing) validate() []error {
	var errs []error
	if t.Endpoint != "" {
		if u, err := url.Parse(t.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("tracing.endpoint: %q is not an http(s) URL such as http://otel-collector:4318", t.Endpoint))
		}
	}
	if r := t.Ratio(); r <= 0 || r > 1 {
		errs = append(errs, fmt.Errorf("tracing.sample_ratio: %v is not in (0, 1]", r))
	}
	return errs
}

// TrustedProxyPrefixes are the reverse proxies whose X-Request-Id, traceparent and
// X-Forwarded-For are believed: trusted_proxies, and rate_limits.trusted_proxies (kept
// for configurations written before the top-level key). Validate has checked them.
func (c Config) TrustedProxyPrefixes() []netip.Prefix {
	out := c.RateLimits.TrustedProxyPrefixes()
	for _, s := range c.TrustedProxies {
		if p, err := parsePrefix(s); err == nil && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func validateTrustedProxies(list []string) []error {
	var errs []error
	for i, s := range list {
		if _, err := parsePrefix(s); err != nil {
			errs = append(errs, fmt.Errorf("trusted_proxies[%d]: %q is not an IP address or CIDR prefix such as 10.0.0.0/8", i, s))
		}
	}
	return errs
}
