package config_test

import (
	"os"
	"path/filepath"
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

// The README's example for connecting to a licensed CA is a valid configuration.
func TestReadmeCSCExample(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Connecting Motlan to a licensed CA\n")
	if !ok {
		t.Fatal("README.md lacks the section")
	}
	_, block, ok := strings.Cut(section, "```yaml\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("the section has no yaml block")
	}
	roots := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(roots, []byte("-"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MOTLAN_CSC_CLIENT_SECRET", "s3cret")
	c, err := config.Parse(append(file(goodClient), strings.Replace(block, "/etc/motlan/ca-roots.pem", roots, 1)...))
	if err != nil {
		t.Fatalf("the README example: %v", err)
	}
	if c.Signing.Provider != "csc" || c.Signing.CSC.BaseURL == "" || c.Signing.CSC.UserID != "{cccd}" {
		t.Fatalf("parsed %+v", c.Signing)
	}
}

// motlan.example.yaml, the complete production example, parses with its csc section.
func TestExampleConfig(t *testing.T) {
	raw, err := os.ReadFile("../../motlan.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	roots := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(roots, []byte("-"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"MOTLAN_CSC_CLIENT_SECRET", "MOTLAN_DB_DSN", "MOTLAN_EID_CLIENT_SECRET"} {
		t.Setenv(env, "s3cret")
	}
	t.Setenv("MOTLAN_PORTAL_SECRET", goodSecret)
	c, err := config.Parse([]byte(strings.Replace(string(raw), "/etc/motlan/ca-roots.pem", roots, 1)))
	if err != nil {
		t.Fatalf("motlan.example.yaml: %v", err)
	}
	if c.Signing.Provider != "csc" || c.Signing.CSC.TokenURL == "" {
		t.Fatalf("signing: %+v", c.Signing)
	}
}
