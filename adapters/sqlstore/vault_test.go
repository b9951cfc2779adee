package sqlstore_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/testpg"
	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/keys/vault"
	"github.com/motlan/motlan/keys/vault/vaulttest"
)

// vaultDB opens a new, empty database for the vault tests and returns a function that
// opens another Store on it, as a second replica would.
func vaultDB(t testing.TB, driver string) func() *sqlstore.Store {
	t.Helper()
	var dsn string
	switch driver {
	case sqlstore.DriverSQLite:
		dsn = filepath.Join(t.TempDir(), "vault.db")
	case sqlstore.DriverPostgres:
		dsn = testpg.DSN(t)
	}
	return func() *sqlstore.Store {
		s, err := sqlstore.Open(context.Background(), sqlstore.Config{Driver: driver, DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func vaultSealer(t testing.TB) *keys.Sealer {
	t.Helper()
	mk := make([]byte, keys.MasterKeySize)
	rand.Read(mk)
	s, err := keys.NewSealer(mk)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func softwareVault(t testing.TB, st vault.SoftwareStore, sealer vault.Sealer, cacheSize int) *vault.Software {
	t.Helper()
	v, err := vault.NewSoftware(vault.SoftwareConfig{Store: st, Sealer: sealer, CacheSize: cacheSize})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var vaultDrivers = []string{sqlstore.DriverSQLite, sqlstore.DriverPostgres}

func TestVaultConformance(t *testing.T) {
	for _, d := range vaultDrivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			vaulttest.RunConformance(t, func(t *testing.T) vault.Vault {
				// A one-key cache, so the suite's reads mostly reach the database.
				return softwareVault(t, vaultDB(t, d)(), vaultSealer(t), 1)
			})
		})
	}
}

// Two replicas (two Stores, two vaults) on one database: keys one creates, the other
// signs with; racing creates of one label leave exactly one key.
func TestVaultReplicas(t *testing.T) {
	for _, d := range vaultDrivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			open := vaultDB(t, d)
			sealer := vaultSealer(t)
			a := softwareVault(t, open(), sealer, 0)
			b := softwareVault(t, open(), sealer, 0)
			for _, alg := range vault.Algs {
				label := "citizen/replica-" + string(alg)
				ref, err := a.CreateKey(ctx, label, vault.KeySpec{Alg: alg})
				if err != nil {
					t.Fatal(err)
				}
				got, err := b.Key(ctx, label)
				if err != nil || got.Alg != alg {
					t.Fatalf("%s: replica b: %v %v", alg, got.Alg, err)
				}
				sig, err := b.Sign(ctx, label, vaulttest.Digest(1), crypto.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				if err := vaulttest.Verify(ref.Public, vaulttest.Digest(1), sig, crypto.SHA256); err != nil {
					t.Errorf("%s: %v", alg, err)
				}
			}

			const racers = 16
			type result struct {
				create, key error
				pub         crypto.PublicKey
			}
			results := make(chan result, racers)
			start := make(chan struct{})
			for i := range racers {
				v := []*vault.Software{a, b}[i%2]
				go func() {
					<-start
					var r result
					_, r.create = v.CreateKey(ctx, "citizen/replica-race", vault.KeySpec{})
					ref, err := v.Key(ctx, "citizen/replica-race")
					r.key, r.pub = err, ref.Public
					results <- r
				}()
			}
			close(start)
			created := 0
			var first crypto.PublicKey
			for range racers {
				r := <-results
				switch {
				case r.create == nil:
					created++
				case !errors.Is(r.create, vault.ErrExists):
					t.Errorf("racer's create: %v", r.create)
				}
				switch {
				case r.key != nil:
					t.Errorf("racer's re-read: %v", r.key)
				case first == nil:
					first = r.pub
				case !first.(interface{ Equal(crypto.PublicKey) bool }).Equal(r.pub):
					t.Error("replicas ended with different keys for one label")
				}
			}
			if created != 1 {
				t.Errorf("%d creates succeeded, want 1", created)
			}
		})
	}
}

func TestVaultStoreErrors(t *testing.T) {
	for _, d := range vaultDrivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := vaultDB(t, d)()
			if _, _, _, err := s.GetSealedKey(ctx, "citizen/none"); !errors.Is(err, vault.ErrNotFound) {
				t.Errorf("GetSealedKey of nothing: %v, want vault.ErrNotFound", err)
			}
			if err := s.CreateSealedKey(ctx, "citizen/x", "ECDSA-P256", []byte{1, 2}, []byte{3}); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateSealedKey(ctx, "citizen/x", "RSA-2048", []byte{9}, []byte{9}); !errors.Is(err, vault.ErrExists) {
				t.Errorf("second CreateSealedKey: %v, want vault.ErrExists", err)
			}
			alg, sealed, public, err := s.GetSealedKey(ctx, "citizen/x")
			if err != nil || alg != "ECDSA-P256" || string(sealed) != "\x01\x02" || string(public) != "\x03" {
				t.Errorf("GetSealedKey = %q %x %x %v", alg, sealed, public, err)
			}
			if err := s.CreateSealedKey(ctx, "citizen/y", "ECDSA-P256", nil, []byte{3}); err == nil {
				t.Error("CreateSealedKey accepted an empty blob")
			}
		})
	}
}

// BenchmarkVaultCreateKey is a citizen's first use on a real database: generate, seal,
// insert.
func BenchmarkVaultCreateKey(b *testing.B) {
	for _, d := range vaultDrivers {
		b.Run(d, func(b *testing.B) {
			v := softwareVault(b, vaultDB(b, d)(), vaultSealer(b), 0)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := v.CreateKey(b.Context(), fmt.Sprintf("citizen/%d", i), vault.KeySpec{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVaultFirstSign signs with a key not in the cache: select, unseal, parse, sign.
func BenchmarkVaultFirstSign(b *testing.B) {
	for _, d := range vaultDrivers {
		b.Run(d, func(b *testing.B) {
			st, sealer := vaultDB(b, d)(), vaultSealer(b)
			if _, err := softwareVault(b, st, sealer, 0).CreateKey(b.Context(), "citizen/bench", vault.KeySpec{}); err != nil {
				b.Fatal(err)
			}
			digest := vaulttest.Digest(0)
			b.ReportAllocs()
			for b.Loop() {
				v := softwareVault(b, st, sealer, 1)
				if _, err := v.Sign(b.Context(), "citizen/bench", digest, crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
