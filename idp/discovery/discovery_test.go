package discovery_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/motlan/motlan/idp/internal/idptest"
)

// TestDiscovery checks the discovery document's security-relevant fields.
func TestDiscovery(t *testing.T) {
	h := idptest.New(t, true)
	resp, err := idptest.NoJar().Get(h.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	raw := idptest.ReadBody(t, resp)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("discovery is not JSON: %v", err)
	}
	strs := func(k string) []string {
		var out []string
		for _, v := range doc[k].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	tests := []struct {
		name string
		ok   func() bool
	}{
		{"issuer", func() bool { return doc["issuer"] == h.Issuer }},
		{"authorization_endpoint", func() bool { return doc["authorization_endpoint"] == h.Issuer+"/authorize" }},
		{"token_endpoint", func() bool { return doc["token_endpoint"] == h.Issuer+"/token" }},
		{"userinfo_endpoint", func() bool { return doc["userinfo_endpoint"] == h.Issuer+"/userinfo" }},
		{"jwks_uri", func() bool { return doc["jwks_uri"] == h.Issuer+"/jwks" }},
		{"authorization_response_iss_parameter_supported", func() bool { return doc["authorization_response_iss_parameter_supported"] == true }},
		{"code_challenge_methods_supported is S256 only", func() bool { return slices.Equal(strs("code_challenge_methods_supported"), []string{"S256"}) }},
		{"no plain anywhere", func() bool { return !strings.Contains(string(raw), `"plain"`) }},
		{"response_types_supported is code only", func() bool { return slices.Equal(strs("response_types_supported"), []string{"code"}) }},
		{"request objects not supported", func() bool {
			return doc["request_parameter_supported"] == false && doc["request_uri_parameter_supported"] == false
		}},
		{"openid scope listed", func() bool { return slices.Contains(strs("scopes_supported"), "openid") }},
		{"none alg not for ID tokens", func() bool { return !slices.Contains(strs("id_token_signing_alg_values_supported"), "none") }},
		{"no HMAC for client assertions", func() bool {
			return !slices.ContainsFunc(strs("token_endpoint_auth_signing_alg_values_supported"), func(a string) bool { return strings.HasPrefix(a, "HS") || a == "none" })
		}},
		{"content type JSON", func() bool { return strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok() {
				t.Errorf("discovery document fails %q:\n%s", tt.name, raw)
			}
		})
	}
}

// TestJWKSHasNoPrivateParts checks every published key is public only.
func TestJWKSHasNoPrivateParts(t *testing.T) {
	h := idptest.New(t, true)
	resp, err := idptest.NoJar().Get(h.Issuer + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	raw := idptest.ReadBody(t, resp)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS %s: %v", raw, err)
	}
	for _, k := range set.Keys {
		t.Run(k["kid"].(string), func(t *testing.T) {
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
				if _, ok := k[private]; ok {
					t.Errorf("key publishes private member %q", private)
				}
			}
			if k["kty"] != "EC" && k["kty"] != "RSA" {
				t.Errorf("kty = %v", k["kty"])
			}
		})
	}
}
