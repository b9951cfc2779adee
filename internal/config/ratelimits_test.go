package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/config"
)

func TestRateLimitDefaults(t *testing.T) {
	c, err := config.Parse(file(goodClient))
	if err != nil {
		t.Fatal(err)
	}
	r := c.RateLimits
	if r.Disabled || r.Login.PerIP == nil || r.Login.PerIP.Limit != 300 || time.Duration(r.Login.PerIP.Window) != time.Minute {
		t.Errorf("login per_ip default: %+v", r.Login.PerIP)
	}
	// A citizen signing several dossiers a minute (two takes each) never meets the limit.
	if r.Approval.PerCitizen == nil || r.Approval.PerCitizen.Limit != 120 || time.Duration(r.Approval.PerCitizen.Window) != 10*time.Minute ||
		r.Token.PerCitizen != nil || r.Approval.PerClient != nil {
		t.Errorf("defaults: %+v %+v", r.Approval, r.Token)
	}
	// Defaults are copies: changing one config does not change the next.
	r.Login.PerIP.Limit = 1
	if config.DefaultLoginLimits.PerIP.Limit != 300 {
		t.Error("a parsed config shares its default rule")
	}
}

func TestRateLimitParse(t *testing.T) {
	tests := []struct {
		name, yaml string
		wantErr    string // "" valid
		check      func(config.RateLimits) bool
	}{
		{"set", "rate_limits:\n  trusted_proxies: [10.0.0.0/8, 192.0.2.1, \"fd00::/8\"]\n  login:\n    per_ip: {limit: 5, window: 30s}\n", "",
			func(r config.RateLimits) bool {
				return r.Login.PerIP.Limit == 5 && time.Duration(r.Login.PerIP.Window) == 30*time.Second &&
					r.Login.PerClient.Limit == 6000 && len(r.TrustedProxyPrefixes()) == 3 &&
					r.TrustedProxyPrefixes()[1].Bits() == 32
			}},
		{"rule off", "rate_limits:\n  token:\n    per_ip: {limit: 0}\n", "", func(r config.RateLimits) bool { return r.Token.PerIP.Limit == 0 }},
		{"window defaults to a minute", "rate_limits:\n  approval:\n    per_ip: {limit: 7}\n", "",
			func(r config.RateLimits) bool { return time.Duration(r.Approval.PerIP.Window) == time.Minute }},
		{"disabled", "rate_limits:\n  disabled: true\n", "", func(r config.RateLimits) bool { return r.Disabled }},
		{"bad proxy", "rate_limits:\n  trusted_proxies: [proxy.local]\n", `rate_limits.trusted_proxies[0]: "proxy.local" is not an IP address`, nil},
		{"negative", "rate_limits:\n  login:\n    per_citizen: {limit: -1, window: 1m}\n", "rate_limits.login.per_citizen.limit: -1 is negative", nil},
		{"short window", "rate_limits:\n  token:\n    per_client: {limit: 3, window: 500ms}\n", "rate_limits.token.per_client.window: 500ms is shorter than 1s", nil},
		{"kind not counted", "rate_limits:\n  approval:\n    per_client: {limit: 3, window: 1m}\n", "rate_limits.approval.per_client: not counted for approval", nil},
		{"signing defaults", "", "", func(r config.RateLimits) bool {
			return r.Signing.PerClient.Limit == 600 && r.Signing.PerCitizen.Limit == 30 && r.Signing.PerIP == nil
		}},
		{"signing per ip not counted", "rate_limits:\n  signing:\n    per_ip: {limit: 3}\n", "rate_limits.signing.per_ip: not counted for signing", nil},
		{"verify per citizen not counted", "rate_limits:\n  verify:\n    per_citizen: {limit: 3}\n", "rate_limits.verify.per_citizen: not counted for verify", nil},
		{"unknown key", "rate_limits:\n  login:\n    per_user: {limit: 3}\n", "field per_user not found", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse(append(file(goodClient), []byte(tt.yaml)...))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Parse error %v, want it to contain %q", err, tt.wantErr)
			case tt.wantErr == "" && !tt.check(c.RateLimits):
				t.Errorf("parsed %+v", c.RateLimits)
			}
		})
	}
}
