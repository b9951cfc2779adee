package web

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestNewSecretSortsByTime(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)
	var prev string
	for i, at := range []time.Time{t0, t0.Add(time.Millisecond), t0.Add(time.Second), t0.Add(40 * 24 * time.Hour), t0.AddDate(900, 0, 0)} {
		s := NewSecret(at)
		if len(s) != sortLen+52 {
			t.Fatalf("secret %q: length %d, want %d (prefix and 256 random bits)", s, len(s), sortLen+52)
		}
		id := HashID(s)
		if !strings.HasPrefix(id, s[:sortLen]) || len(id) != sortLen+64 {
			t.Fatalf("HashID(%q) = %q: want the secret's prefix and a SHA-256", s, id)
		}
		if i > 0 && id <= prev {
			t.Errorf("ID made at %v (%q) sorts before the one made earlier (%q)", at, id, prev)
		}
		prev = id
	}
	if a, b := HashIDAt(t0, "state"), HashIDAt(t0.Add(time.Millisecond), "state"); a >= b || a[sortLen:] != b[sortLen:] || !strings.HasPrefix(a, NewSecret(t0)[:sortLen]) {
		t.Errorf("HashIDAt: %q then %q: want the time prefix, in order, before the same hash", a, b)
	}
	if a, b := NewSecret(t0), NewSecret(t0); a == b || HashID(a) == HashID(b) {
		t.Errorf("two secrets of one millisecond collide: %q, %q", a, b)
	}
}

// Secrets handed out before prefixes existed (rand.Text: upper-case base32) must keep
// their IDs, or every session, code and refresh token would be lost at the upgrade.
func TestHashIDOfOlderSecretsUnchanged(t *testing.T) {
	for _, s := range []string{
		"KXQ7Z2MNB4C5D6E7F2G3H4J5K6",                            // rand.Text()
		"KXQ7Z2MNB4C5D6E7F2G3H4J5K6LMNOPQRSTUVWXYZ234567ABCDEF", // rand.Text()+rand.Text()
		"2345672345ABCDEFGHIJKLMNOPQ",                           // begins with ten of the prefix's digits: rand.Text has no dot
		"KXQ7Z2MNB4C5D6E7F2G3H4J5K6~jkt-thumbprint",             // a DPoP-bound refresh token
		"",
		"0123456789.",     // a prefix and nothing behind it
		"0123456789x.ABC", // no dot where the prefix ends
		"012345678V.ABC",  // an upper-case digit
	} {
		sum := sha256.Sum256([]byte(s))
		if got, want := HashID(s), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("HashID(%q) = %q, want the bare SHA-256 %q", s, got, want)
		}
	}
}

// A new citizen's ID sorts by the time of the first login, and a public subject made
// from it does not carry that time; an ID from before prefixes existed is its own subject.
func TestCitizenIDAndPublicSubject(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	a, b := NewCitizenID(t0), NewCitizenID(t0.Add(time.Millisecond))
	if len(a) != sortLen+26 || a >= b || a[:sortLen] != NewSecret(t0)[:sortLen] {
		t.Fatalf("NewCitizenID: %q then %q: want the time prefix and 130 random bits, in order", a, b)
	}
	if c := NewCitizenID(t0); c == a {
		t.Fatalf("two citizen IDs of one millisecond collide: %q", c)
	}
	for id, want := range map[string]string{
		a:                            a[sortLen:],
		"KXQ7Z2MNB4C5D6E7F2G3H4J5K6": "KXQ7Z2MNB4C5D6E7F2G3H4J5K6", // rand.Text(): as before
		"citizen-1":                  "citizen-1",
	} {
		if got := PublicSubject(id); got != want {
			t.Errorf("PublicSubject(%q) = %q, want %q", id, got, want)
		}
	}
}
