package sqlstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/testsync"
)

func TestCitizenIDByCCCD(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			clock := testsync.NewClock(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
			s := b.open(t, clock.Now)
			ctx := t.Context()
			old, err := s.UpsertCitizen(ctx, store.Citizen{Issuer: "https://eid-a", Subject: "s1", CCCD: "038092004567"})
			must(t, err)
			if _, err := s.UpsertCitizen(ctx, store.Citizen{Issuer: "https://eid-a", Subject: "s2", CCCD: "001203000111"}); err != nil {
				t.Fatal(err)
			}
			if id, err := s.CitizenIDByCCCD(ctx, "038092004567"); err != nil || id != old.ID {
				t.Fatalf("by CCCD: %q %v, want %q", id, err, old.ID)
			}
			// The same person through another issuer, seen later: the newer record wins.
			clock.Advance(time.Minute)
			newer, err := s.UpsertCitizen(ctx, store.Citizen{Issuer: "https://eid-b", Subject: "x", CCCD: "038092004567"})
			must(t, err)
			if id, err := s.CitizenIDByCCCD(ctx, "038092004567"); err != nil || id != newer.ID {
				t.Fatalf("after a second record: %q %v, want %q", id, err, newer.ID)
			}
			for _, c := range []string{"", "038092009999"} {
				if _, err := s.CitizenIDByCCCD(ctx, c); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%q: %v, want ErrNotFound", c, err)
				}
			}
		})
	}
}
