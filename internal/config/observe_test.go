package config_test

import (
	"strings"
	"testing"

	"github.com/motlan/motlan/internal/config"
)

func TestObserveParse(t *testing.T) {
	tests := []struct {
		name, yaml string
		wantErr    string // "" valid
		check      func(config.Config) bool
	}{
		{"off by default", "", "", func(c config.Config) bool {
			return c.Tracing.Endpoint == "" && c.Tracing.Ratio() == 1 && len(c.TrustedProxyPrefixes()) == 0
		}},
		{"endpoint and ratio", "tracing:\n  endpoint: http://otel-collector:4318\n  sample_ratio: 0.25\n", "",
			func(c config.Config) bool {
				return c.Tracing.Endpoint == "http://otel-collector:4318" && c.Tracing.Ratio() == 0.25
			}},
		{"not a URL", "tracing:\n  endpoint: otel-collector:4318\n", `tracing.endpoint: "otel-collector:4318" is not an http(s) URL`, nil},
		{"ratio zero", "tracing:\n  endpoint: http://c:4318\n  sample_ratio: 0\n", "tracing.sample_ratio: 0 is not in (0, 1]", nil},
		{"ratio above one", "tracing:\n  sample_ratio: 1.5\n", "tracing.sample_ratio: 1.5 is not in (0, 1]", nil},
		{"proxies merged", "trusted_proxies: [10.0.0.0/8, 192.0.2.1]\nrate_limits:\n  trusted_proxies: [10.0.0.0/8, \"fd00::/8\"]\n", "",
			func(c config.Config) bool { return len(c.TrustedProxyPrefixes()) == 3 }},
		{"bad proxy", "trusted_proxies: [proxy.local]\n", `trusted_proxies[0]: "proxy.local" is not an IP address`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse(append(file(goodClient), []byte(tt.yaml)...))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Parse error %v, want it to contain %q", err, tt.wantErr)
			case tt.wantErr == "" && !tt.check(c):
				t.Errorf("parsed %+v %v", c.Tracing, c.TrustedProxies)
			}
		})
	}
}
