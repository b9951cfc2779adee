package vneid

import (
	"encoding/json"
	"testing"
	"time"
)

// jsonString reads a member's value as encoding/json reads it into a string: the same
// string, or a refusal where encoding/json fails or the value is not a string.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{`"https://eid.example"`, `"Lê Công Hảo"`, `"a\"b"`, `"\u00e9"`, `"\ud800"`,
		"\"\xff\"", `""`, `"`, `1`, `null`, `["a"]`, `"a"b"`, "\"\x01\"", `"tab	"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want string
		wantErr := json.Unmarshal(raw, &want)
		isString := wantErr == nil && len(raw) > 0 && raw[0] == '"'
		got, ok := jsonString(raw)
		switch {
		case ok != isString:
			t.Fatalf("%q: ok %v, encoding/json reads a string: %v (%v)", raw, ok, isString, wantErr)
		case ok && got != want:
			t.Fatalf("%q: %q, encoding/json's %q", raw, got, want)
		}
	})
}

func TestNumericDate(t *testing.T) {
	tests := []struct {
		raw  string
		want time.Time
		ok   bool
	}{
		{"1700000000", time.Unix(1700000000, 0), true},
		{"1700000000.5", time.Unix(1700000000, 5e8), true},
		{"1.7e9", time.Unix(1700000000, 0), true},
		{"-1", time.Unix(-1, 0), true},
		{"0", time.Unix(0, 0), true},
		{`"1700000000"`, time.Time{}, false},
		{"1e300", time.Time{}, false},
		{"true", time.Time{}, false},
		{"null", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := numericDate(json.RawMessage(tt.raw))
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("numericDate(%s) = %v, %v; want %v, %v", tt.raw, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAtHash(t *testing.T) {
	// OIDC Core A.3's example: the access token and the at_hash of an ES256/RS256 token.
	const at, hash = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "77QmUPtjPfzWtF2AnpK9RQ"
	for _, tt := range []struct {
		alg, at, hash string
		want          bool
	}{
		{"RS256", at, hash, true},
		{"ES256", at, hash, true},
		{"ES256", at + "x", hash, false},
		{"ES384", at, hash, false},
		{"EdDSA", at, hash, false}, // SHA-512's half, not SHA-256's
		{"none", at, hash, false},
	} {
		if got := atHashMatches(tt.alg, tt.hash, tt.at); got != tt.want {
			t.Errorf("atHashMatches(%s, %s) = %v", tt.alg, tt.at, got)
		}
	}
}
