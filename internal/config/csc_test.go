package config_test

import (
	"strings"
	"testing"

	"github.com/motlan/motlan/internal/config"
)

const goodCSC = `signing:
  provider: csc
  csc:
    base_url: https://rssp.ca.example.vn/csc/v2
    token_url: https://rssp.ca.example.vn/oauth2/token
    client_id: motlan-thanhhoa
    client_secret: {env: MOTLAN_TEST_CSC_SECRET}
    user_id: "CCCD:{cccd}"
    timeout: 20s
`

func TestSigningProvider(t *testing.T) {
	t.Setenv("MOTLAN_TEST_CSC_SECRET", "s3cret")
	c, err := config.Parse(append(file(goodClient), goodCSC...))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Signing.Provider != "csc" || c.Signing.CSC == nil || c.Signing.CSC.UserID != "CCCD:{cccd}" {
		t.Fatalf("signing: %+v", c.Signing)
	}
	tests := []struct {
		name, yaml string
		errHas     []string
	}{
		{"unknown provider", "signing:\n  provider: hsm\n", []string{"signing.provider"}},
		{"csc without its section", "signing:\n  provider: csc\n", []string{"signing.csc: required"}},
		{"csc section with local", "signing:\n  csc: {base_url: https://x.vn/csc/v2}\n", []string{"only with provider: csc"}},
		{"http provider off loopback", strings.Replace(goodCSC, "base_url: https://", "base_url: http://", 1), []string{"csc.base_url"}},
		{"token url without client", strings.Replace(goodCSC, "    client_id: motlan-thanhhoa\n", "", 1), []string{"client_id and client_secret"}},
		{"no way to authenticate", "signing:\n  provider: csc\n  csc: {base_url: https://x.vn/csc/v2}\n", []string{"token_url"}},
		{"unknown placeholder", strings.Replace(goodCSC, "{cccd}", "{phone}", 1), []string{"csc.user_id"}},
		{"misspelt key", strings.Replace(goodCSC, "user_id", "userid", 1), []string{"userid"}},
		{"missing trust roots file", goodCSC + "    trust_roots_file: /nonexistent/roots.pem\n", []string{"csc.trust_roots_file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse(append(file(goodClient), tt.yaml...))
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			for _, want := range tt.errHas {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
		})
	}
}
