package main

import (
	"testing"

	"github.com/motlan/motlan/adapters/vneid/cccd"
)

// TestMinimalCitizens checks that the minimal eID's citizens are valid (ID number agreeing
// with birth date and sex) and distinct.
func TestMinimalCitizens(t *testing.T) {
	seen := map[string]bool{}
	for i := range int64(2000) {
		c := minimalCitizen(i)
		if err := cccd.Validate(c.CCCD, c.Birthdate, c.Sex); err != nil {
			t.Fatalf("citizen %d: %s %s %s: %v", i, c.CCCD, c.Birthdate, c.Sex, err)
		}
		if seen[c.CCCD] || seen[c.Subject] {
			t.Fatalf("citizen %d: %s or %s repeats", i, c.CCCD, c.Subject)
		}
		seen[c.CCCD], seen[c.Subject] = true, true
	}
}

// TestMinimalPick checks the minimal eID's share of new citizens: every login new by
// default, and with a share, that share new and the others citizens seen before.
func TestMinimalPick(t *testing.T) {
	tests := []struct {
		share   float64
		logins  int
		wantNew int
	}{{0, 100, 100}, {1, 100, 100}, {0.7, 100, 71}, {0.3, 100, 31}} // the first login is new: nobody to return yet
	for _, tc := range tests {
		m, err := newMinimalEID("http://127.0.0.1:9", map[string]string{"c": "s"}, tc.share)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]bool{}
		newOnes := 0
		for range tc.logins {
			c := m.pick()
			if !seen[c] {
				newOnes++
			}
			seen[c] = true
		}
		if newOnes != tc.wantNew {
			t.Errorf("share %v: %d new citizens in %d logins, want %d", tc.share, newOnes, tc.logins, tc.wantNew)
		}
	}
}
