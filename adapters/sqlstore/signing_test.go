package sqlstore_test

import (
	"testing"

	"github.com/motlan/motlan/signing"
	"github.com/motlan/motlan/signing/signingtest"
)

func TestSigningConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			signingtest.RunTests(t, func(t *testing.T, c *signingtest.Clock) signing.Store { return b.open(t, c.Now) })
		})
	}
}

func TestSigningConcurrency(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			signingtest.RunConcurrencyTests(t, func(t *testing.T, c *signingtest.Clock) signing.Store { return b.open(t, c.Now) })
		})
	}
}

func TestSigningRetention(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			signingtest.RunRetentionTests(t, func(t *testing.T, c *signingtest.Clock) signingtest.PurgeStore { return b.open(t, c.Now) })
		})
	}
}
