package portal

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestVerifiedLevels: each claim is marked with the level verified_claims gives it; an
// answer without trust_framework, or malformed, marks nothing.
func TestVerifiedLevels(t *testing.T) {
	tests := []struct {
		name, userinfo string
		want           map[string]string
	}{
		{"object", `{"verified_claims":{"verification":{"trust_framework":"vn_eid","assurance_level":"2"},"claims":{"name":"A","birthdate":"1990-01-01"}}}`,
			map[string]string{"name": "2", "birthdate": "2"}},
		{"array: two logins, the higher level wins", `{"verified_claims":[` +
			`{"verification":{"trust_framework":"vn_eid","assurance_level":"1"},"claims":{"address":{"formatted":"X"},"name":"A"}},` +
			`{"verification":{"trust_framework":"vn_eid","assurance_level":"2"},"claims":{"name":"A"}}]}`,
			map[string]string{"name": "2", "address": "1"}},
		{"no level said", `{"verified_claims":{"verification":{"trust_framework":"vn_eid"},"claims":{"cccd":"038090001234"}}}`,
			map[string]string{"cccd": ""}},
		{"no trust_framework", `{"verified_claims":{"verification":{"assurance_level":"2"},"claims":{"name":"A"}}}`, nil},
		{"claims not an object", `{"verified_claims":{"verification":{"trust_framework":"vn_eid"},"claims":["name"]}}`, nil},
		{"a string", `{"verified_claims":"name"}`, nil},
		{"absent", `{"name":"A"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal([]byte(tt.userinfo), &m); err != nil {
				t.Fatal(err)
			}
			var c citizen
			c.verifiedLevels(m)
			if !reflect.DeepEqual(c.Verified, tt.want) {
				t.Fatalf("verified %v, want %v", c.Verified, tt.want)
			}
			if tt.want["name"] != "" && c.Name != "A" {
				t.Errorf("name %q not filled from verified_claims", c.Name)
			}
		})
	}
}
