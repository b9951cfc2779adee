package keys

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestVerifyRemembered: a token verified once skips only the signature arithmetic
// afterwards; every other check still runs, and any other bytes are checked afresh.
func TestVerifyRemembered(t *testing.T) {
	f := newFixture(t)
	cfg := f.config(ES256)
	cfg.MaxTokenLifetime = time.Hour
	m, err := NewManager(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	good, err := m.Sign(t.Context(), ES256, "at+jwt", claims("https://id.example", f.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := m.Verify(t.Context(), good); err != nil {
			t.Fatalf("Verify of a good token: %v", err)
		}
	}
	if n := m.verified.len(); n != 1 {
		t.Fatalf("%d tokens remembered, want 1", n)
	}

	parts := strings.Split(good, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[7] ^= 1
	otherPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`))
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"remembered token's signature altered", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig), ErrBadSignature},
		{"remembered token's signature on another payload", parts[0] + "." + otherPayload + "." + parts[2], ErrBadSignature},
		{"remembered token with a trailing byte", good + "A", ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := m.Verify(t.Context(), tt.token); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	if n := m.verified.len(); n != 1 {
		t.Errorf("%d tokens remembered after bad ones, want 1 (only good signatures are kept)", n)
	}

	t.Run("retired key refuses a remembered token", func(t *testing.T) {
		if _, err := m.Rotate(t.Context(), ES256, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(2 * time.Hour) // past the old key's last token's lifetime
		if _, _, err := m.Verify(t.Context(), good); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("Verify after retirement = %v, want ErrUnknownKey", err)
		}
	})
}

func TestVerifiedSetBounded(t *testing.T) {
	var v verifiedSet
	k := &material{id: "k"}
	for i := range maxVerified + 10 {
		v.add("tok-"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+time.Duration(i).String(), k)
	}
	if n := v.len(); n > maxVerified || n == 0 {
		t.Errorf("%d remembered, want 1..%d", n, maxVerified)
	}
	v.add("t", k)
	if !v.has("t", k) || v.has("t", &material{id: "k"}) || v.has("u", k) {
		t.Error("has answers for another token or another key")
	}
}
