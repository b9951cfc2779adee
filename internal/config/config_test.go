package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/config"
)

const goodSecret = "0123456789abcdef0123456789abcdef" // exactly 32 characters

// base is a valid file; %CLIENT% is replaced by each row's client block.
const base = `
issuer: https://id.tinh.gov.vn
storage:
  driver: sqlite
  dsn: {value: /var/lib/motlan/motlan.db}
secrets:
  master_key: {env: MOTLAN_MASTER_KEY}
eid:
  issuer: https://vneid.gov.vn
  client_id: motlan
  client_secret: {env: MOTLAN_EID_SECRET}
tokens:
  access_token: 15m
  session: 8h
clients:
%CLIENT%
`

const goodClient = `
  - id: portal
    secret: {value: "` + goodSecret + `"}
    redirect_uris: [https://portal.tinh.gov.vn/callback]
    scopes: [openid, profile, address]
`

func file(client string) []byte { return []byte(strings.Replace(base, "%CLIENT%", client, 1)) }

func TestParseValid(t *testing.T) {
	c, err := config.Parse(file(goodClient))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	cl := c.Clients[0]
	if cl.AuthMethod != "client_secret_basic" || cl.SubjectType != "pairwise" || cl.IDTokenAlg != "ES256" || cl.Name != "portal" {
		t.Errorf("client defaults: %+v", cl)
	}
	if c.Listen != ":8080" || c.Log.Level != "info" || c.Log.Format != "json" {
		t.Errorf("defaults: listen %q log %+v", c.Listen, c.Log)
	}
	if time.Duration(c.Tokens.AccessToken) != 15*time.Minute || time.Duration(c.Tokens.Session) != 8*time.Hour {
		t.Errorf("durations: %+v", c.Tokens)
	}
}

// TestParseRejects lists what a file may get wrong; each row names the substring its error
// must contain.
func TestParseRejects(t *testing.T) {
	tests := []struct {
		name   string
		yaml   []byte
		errHas []string
	}{
		{name: "unknown top-level key", yaml: append(file(goodClient), "extra: 1\n"...), errHas: []string{"extra"}},
		{name: "unknown client key", yaml: file(goodClient + "    redirect_uri: https://x\n"), errHas: []string{"redirect_uri"}},
		{name: "misspelt nested key", yaml: []byte(strings.Replace(string(file(goodClient)), "client_id: motlan", "clientid: motlan", 1)), errHas: []string{"clientid"}},
		{name: "secret as a plain string", yaml: file(strings.Replace(goodClient, `{value: "`+goodSecret+`"}`, goodSecret, 1)), errHas: []string{"Secret"}},
		{name: "bad duration", yaml: []byte(strings.Replace(string(file(goodClient)), "15m", "fifteen", 1)), errHas: []string{"not a duration"}},
		{name: "duration without unit", yaml: []byte(strings.Replace(string(file(goodClient)), "15m", "900", 1)), errHas: []string{"not a duration"}},
		{name: "negative duration", yaml: []byte(strings.Replace(string(file(goodClient)), "15m", "-15m", 1)), errHas: []string{"not a duration"}},
		{name: "short secret", yaml: file(strings.Replace(goodClient, goodSecret, goodSecret[:31], 1)), errHas: []string{"at least 32"}},
		{name: "http redirect off loopback", yaml: file(strings.Replace(goodClient, "https://portal", "http://portal", 1)), errHas: []string{"must be https"}},
		{name: "redirect with fragment", yaml: file(strings.Replace(goodClient, "/callback]", "/callback#x]", 1)), errHas: []string{"fragment"}},
		{name: "redirect with empty fragment", yaml: file(strings.Replace(goodClient, "/callback]", "/callback#]", 1)), errHas: []string{"fragment"}},
		{name: "relative redirect", yaml: file(strings.Replace(goodClient, "https://portal.tinh.gov.vn/callback", "/callback", 1)), errHas: []string{"not an absolute URL"}},
		{name: "no redirect", yaml: file(strings.Replace(goodClient, "[https://portal.tinh.gov.vn/callback]", "[]", 1)), errHas: []string{"at least one"}},
		{name: "unknown scope", yaml: file(strings.Replace(goodClient, "address]", "email]", 1)), errHas: []string{`"email" is not one of`}},
		{name: "unknown auth method", yaml: file(goodClient + "    auth_method: tls_client_auth\n"), errHas: []string{"auth_method"}},
		{name: "public client with secret", yaml: file(goodClient + "    auth_method: none\n"), errHas: []string{"public clients"}},
		{name: "private_key_jwt without jwks", yaml: file(goodClient + "    auth_method: private_key_jwt\n"), errHas: []string{"jwks"}},
		{name: "bad subject type", yaml: file(goodClient + "    subject_type: random\n"), errHas: []string{"subject_type"}},
		{name: "bad id token alg", yaml: file(goodClient + "    id_token_alg: none\n"), errHas: []string{"id_token_alg"}},
		{name: "duplicate client", yaml: file(goodClient + goodClient), errHas: []string{"listed twice"}},
		{name: "unknown signing key alg", yaml: append(file(goodClient), "signing:\n  key_alg: DSA-1024\n"...), errHas: []string{"signing.key_alg"}},
		{name: "huge signing upload limit", yaml: append(file(goodClient), "signing:\n  max_document_mb: 5000\n"...), errHas: []string{"signing.max_document_mb"}},
		{name: "pkcs11 vault without module and token", yaml: append(file(goodClient), "signing:\n  vault:\n    type: pkcs11\n"...), errHas: []string{"signing.vault.module", "token_label and slot", "signing.vault.pin"}},
		{name: "unknown vault type", yaml: append(file(goodClient), "signing:\n  vault:\n    type: tpm\n"...), errHas: []string{"signing.vault.type"}},
		{name: "huge LTV fetch timeout", yaml: append(file(goodClient), "signing:\n  ltv_fetch_timeout: 1h\n"...), errHas: []string{"signing.ltv_fetch_timeout"}},
		{name: "huge shutdown timeout", yaml: append(file(goodClient), "shutdown_timeout: 1h\n"...), errHas: []string{"shutdown_timeout"}},
		{name: "branding colour not hex", yaml: append(file(goodClient), "branding:\n  colors:\n    primary: \"red;}body{\"\n"...), errHas: []string{"branding.colors.primary"}},
		{name: "branding logo over http", yaml: append(file(goodClient), "branding:\n  logo: http://cdn.tinh.gov.vn/logo.png\n"...), errHas: []string{"branding.logo"}},
		{name: "render dpi too high", yaml: append(file(goodClient), "render:\n  dpi: 1200\n  max_pages: 500\n"...), errHas: []string{"render.dpi", "render.max_pages"}},
		{name: "pprof off loopback", yaml: append(file(goodClient), "debug:\n  pprof_listen: 0.0.0.0:6060\n"...), errHas: []string{"debug.pprof_listen"}},
		{name: "two secret sources", yaml: file(strings.Replace(goodClient, `{value: "`+goodSecret+`"}`, `{value: "`+goodSecret+`", env: X}`, 1)), errHas: []string{"only one of"}},
		{name: "secret env not set", yaml: file(strings.Replace(goodClient, `{value: "`+goodSecret+`"}`, `{env: MOTLAN_TEST_SURELY_UNSET}`, 1)), errHas: []string{"MOTLAN_TEST_SURELY_UNSET"}},
		{name: "secret file missing", yaml: file(strings.Replace(goodClient, `{value: "`+goodSecret+`"}`, `{file: /nonexistent/motlan-secret}`, 1)), errHas: []string{"read secret file"}},
		{name: "master key inline", yaml: []byte(strings.Replace(string(file(goodClient)), "{env: MOTLAN_MASTER_KEY}", "{value: abc}", 1)), errHas: []string{"never inline"}},
		{name: "http issuer", yaml: []byte(strings.Replace(string(file(goodClient)), "issuer: https://id.tinh", "issuer: http://id.tinh", 1)), errHas: []string{"issuer: must be https"}},
		{name: "issuer trailing slash", yaml: []byte(strings.Replace(string(file(goodClient)), "issuer: https://id.tinh.gov.vn", "issuer: https://id.tinh.gov.vn/", 1)), errHas: []string{"trailing slash"}},
		{name: "no clients", yaml: []byte(strings.Replace(base, "%CLIENT%", "", 1)), errHas: []string{"at least one relying party"}},
		{name: "public bearer client with a refresh grace", yaml: file(`
  - id: spa
    auth_method: none
    redirect_uris: [https://spa.tinh.gov.vn/cb]
    refresh_reuse_grace: 5s
`), errHas: []string{"clients[0].refresh_reuse_grace", "DPoP-bound"}},
		{name: "refresh grace too long", yaml: file(goodClient + "    refresh_reuse_grace: 1h\n"), errHas: []string{"refresh_reuse_grace"}},
		{name: "acr_map value with a space", yaml: []byte(strings.Replace(string(file(goodClient)), "  client_id: motlan\n", "  client_id: motlan\n  acr_map: {\"level two\": \"2\"}\n", 1)), errHas: []string{"eid.acr_map"}},
		{name: "acr_map to level 3", yaml: []byte(strings.Replace(string(file(goodClient)), "  client_id: motlan\n", "  client_id: motlan\n  acr_map: {\"urn:vn:eid:loa:high\": \"3\"}\n", 1)), errHas: []string{"eid.acr_map"}},
		{name: "post-logout URI named as such", yaml: file(goodClient + "    post_logout_redirect_uris: [http://portal.tinh.gov.vn/bye]\n"), errHas: []string{"post_logout_redirect_uris"}},
		{name: "many errors at once", yaml: []byte(strings.NewReplacer(
			"issuer: https://id.tinh", "issuer: http://id.tinh",
			"driver: sqlite", "driver: mysql",
			goodSecret, "short",
			"https://portal.tinh.gov.vn/callback", "http://portal.tinh.gov.vn/callback",
		).Replace(string(file(goodClient)))), errHas: []string{"issuer:", "storage.driver", "at least 32", "must be https"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse(tt.yaml)
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.yaml)
			}
			for _, want := range tt.errHas {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(goodSecret+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MOTLAN_TEST_CLIENT_SECRET", goodSecret)
	tests := []struct {
		name   string
		client string
	}{
		{name: "secret from env", client: strings.Replace(goodClient, `{value: "`+goodSecret+`"}`, `{env: MOTLAN_TEST_CLIENT_SECRET}`, 1)},
		{name: "secret from file with trailing newline", client: strings.Replace(goodClient, `{value: "`+goodSecret+`"}`, `{file: `+secretFile+`}`, 1)},
		{name: "http loopback redirect", client: strings.Replace(goodClient, "https://portal.tinh.gov.vn/callback", "http://127.0.0.1:8080/callback", 1)},
		{name: "http localhost redirect", client: strings.Replace(goodClient, "https://portal.tinh.gov.vn/callback", "http://localhost:8080/callback", 1)},
		{name: "redirect with query", client: strings.Replace(goodClient, "[https://portal.tinh.gov.vn/callback]", `["https://portal.tinh.gov.vn/callback?tenant=hn"]`, 1)},
		{name: "public client", client: `
  - id: spa
    auth_method: none
    redirect_uris: [https://spa.tinh.gov.vn/cb]
    scopes: [openid, profile, offline_access]
`},
		{name: "public DPoP-bound client with a refresh grace", client: `
  - id: spa
    auth_method: none
    redirect_uris: [https://spa.tinh.gov.vn/cb]
    dpop_bound_access_tokens: true
    refresh_reuse_grace: 5s
`},
		{name: "confidential client with a refresh grace", client: goodClient + "    refresh_reuse_grace: 10s\n"},
		{name: "private_key_jwt", client: `
  - id: bank
    auth_method: private_key_jwt
    jwks: '{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}'
    redirect_uris: [https://bank.example.vn/cb]
    scopes: [openid, cccd]
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse(file(tt.client))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if v, err := c.Clients[0].Secret.Resolve(); err != nil || (c.Clients[0].AuthMethod == "client_secret_basic" && v != goodSecret) {
				t.Errorf("Resolve = %q, %v", v, err)
			}
		})
	}
}

func TestDurations(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90s", 90 * time.Second, true},
		{"15m", 15 * time.Minute, true},
		{"8h", 8 * time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"0s", 0, true},
		{"720h", 720 * time.Hour, true},
		{"1d", 0, false},
		{"", 0, false},
		{"-1s", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			y := []byte(strings.Replace(string(file(goodClient)), "access_token: 15m", `access_token: "`+tt.in+`"`, 1))
			c, err := config.Parse(y)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && time.Duration(c.Tokens.AccessToken) != tt.want {
				t.Errorf("= %v, want %v", time.Duration(c.Tokens.AccessToken), tt.want)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	tests := []struct {
		name         string
		yaml         string // tokens.key_rotation; empty: absent
		every, ahead time.Duration
		errHas       string
	}{
		{name: "absent: monthly, a day ahead", every: 720 * time.Hour, ahead: 24 * time.Hour},
		{name: "empty map: the defaults", yaml: "{}", every: 720 * time.Hour, ahead: 24 * time.Hour},
		{name: "weekly", yaml: "{every: 168h, publish_ahead: 48h}", every: 168 * time.Hour, ahead: 48 * time.Hour},
		{name: "short period halves the default lead", yaml: "{every: 12h}", every: 12 * time.Hour, ahead: 6 * time.Hour},
		{name: "disabled", yaml: "{every: 0s}", every: 0, ahead: 0},
		{name: "disabled ignores the lead", yaml: "{every: 0s, publish_ahead: 1h}", every: 0, ahead: 0},
		{name: "period too short", yaml: "{every: 30m}", errHas: "tokens.key_rotation.every"},
		{name: "period in fractions of a second", yaml: "{every: 2h0.5s}", errHas: "tokens.key_rotation.every"},
		{name: "lead too short", yaml: "{publish_ahead: 1m}", errHas: "tokens.key_rotation.publish_ahead"},
		{name: "lead a whole period", yaml: "{every: 24h, publish_ahead: 24h}", errHas: "tokens.key_rotation.publish_ahead"},
		{name: "unknown key", yaml: "{every: 24h, ahead: 1h}", errHas: "ahead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := string(file(goodClient))
			if tt.yaml != "" {
				y = strings.Replace(y, "  session: 8h\n", "  session: 8h\n  key_rotation: "+tt.yaml+"\n", 1)
			}
			c, err := config.Parse([]byte(y))
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error = %v, want one naming %s", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if every, ahead := c.Tokens.KeyRotation.Values(); every != tt.every || ahead != tt.ahead {
				t.Errorf("Values() = %v, %v; want %v, %v", every, ahead, tt.every, tt.ahead)
			}
		})
	}
}

// TestEIDLevelSource: the eID level's claim and URI acr values are read as written.
func TestEIDLevelSource(t *testing.T) {
	y := strings.Replace(string(file(goodClient)), "  client_id: motlan\n",
		"  client_id: motlan\n  level_claim: eid_level\n  acr_map: {\"urn:vn:eid:loa:basic\": \"1\", \"urn:vn:eid:loa:high\": \"2\"}\n", 1)
	c, err := config.Parse([]byte(y))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.EID.LevelClaim != "eid_level" || c.EID.ACRMap["urn:vn:eid:loa:high"] != "2" || len(c.EID.ACRMap) != 2 {
		t.Fatalf("eid = %+v", c.EID)
	}
}
