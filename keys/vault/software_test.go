package vault_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/keys/vault"
	"github.com/motlan/motlan/keys/vault/vaulttest"
)

func newSealer(t testing.TB) *keys.Sealer {
	t.Helper()
	mk := make([]byte, keys.MasterKeySize)
	rand.Read(mk)
	s, err := keys.NewSealer(mk)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newSoftware(t testing.TB, st vault.SoftwareStore, sealer vault.Sealer, cacheSize int) *vault.Software {
	t.Helper()
	v, err := vault.NewSoftware(vault.SoftwareConfig{Store: st, Sealer: sealer, CacheSize: cacheSize})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSoftwareConformance(t *testing.T) {
	vaulttest.RunConformance(t, func(t *testing.T) vault.Vault {
		return newSoftware(t, vaulttest.NewMemStore(), newSealer(t), 0)
	})
}

// A second vault over the same store (another replica, or after a restart) finds and
// uses the keys, and replicas racing to create one label converge.
func TestSoftwareSharedStore(t *testing.T) {
	ctx := t.Context()
	st, sealer := vaulttest.NewMemStore(), newSealer(t)
	a, b := newSoftware(t, st, sealer, 0), newSoftware(t, st, sealer, 0)
	ref, err := a.CreateKey(ctx, "citizen/1", vault.KeySpec{Alg: vault.RSA2048})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateKey(ctx, "citizen/1", vault.KeySpec{}); !errors.Is(err, vault.ErrExists) {
		t.Fatalf("replica b CreateKey: %v, want ErrExists", err)
	}
	got, err := vault.EnsureKey(ctx, b, "citizen/1", vault.KeySpec{})
	if err != nil || got.Alg != vault.RSA2048 || !got.Public.(interface{ Equal(crypto.PublicKey) bool }).Equal(ref.Public) {
		t.Fatalf("replica b EnsureKey: %v %v", got.Alg, err)
	}
	sig, err := b.Sign(ctx, "citizen/1", vaulttest.Digest(0), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := vaulttest.Verify(ref.Public, vaulttest.Digest(0), sig, crypto.SHA256); err != nil {
		t.Fatal(err)
	}
}

// tamperStore serves records as a test rewrites them.
type tamperStore struct {
	*vaulttest.MemStore
	rewrite func(label, alg string, sealed, public []byte) (string, []byte, []byte)
}

func (s tamperStore) GetSealedKey(ctx context.Context, label string) (string, []byte, []byte, error) {
	alg, sealed, public, err := s.MemStore.GetSealedKey(ctx, label)
	if err != nil {
		return alg, sealed, public, err
	}
	alg, sealed, public = s.rewrite(label, alg, sealed, public)
	return alg, sealed, public, nil
}

// Sealed records are bound to their label and algorithm, and checked against their
// public key: a blob moved to another citizen, relabelled, or paired with another public
// key does not load, and another master key does not open it.
func TestSoftwareTamper(t *testing.T) {
	ctx := t.Context()
	src := vaulttest.NewMemStore()
	sealer := newSealer(t)
	creator := newSoftware(t, src, sealer, 0)
	recs := map[string][3][]byte{} // alg, sealed, public
	for _, l := range []string{"citizen/victim", "citizen/other"} {
		if _, err := creator.CreateKey(ctx, l, vault.KeySpec{}); err != nil {
			t.Fatal(err)
		}
		alg, sealed, public, err := src.GetSealedKey(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		recs[l] = [3][]byte{[]byte(alg), sealed, public}
	}
	other := recs["citizen/other"]
	tests := []struct {
		name    string
		sealer  vault.Sealer
		rewrite func(label, alg string, sealed, public []byte) (string, []byte, []byte)
		want    error
	}{
		{"untouched", sealer, func(_, a string, s, p []byte) (string, []byte, []byte) { return a, s, p }, nil},
		{"blob moved to another label", sealer, func(_, a string, _, _ []byte) (string, []byte, []byte) {
			return a, other[1], other[2]
		}, keys.ErrUnseal},
		{"algorithm rewritten", sealer, func(_, _ string, s, p []byte) (string, []byte, []byte) {
			return string(vault.RSA2048), s, p
		}, keys.ErrUnseal},
		{"unknown algorithm", sealer, func(_, _ string, s, p []byte) (string, []byte, []byte) {
			return "ECDSA-P521", s, p
		}, vault.ErrCorrupt},
		{"public key swapped", sealer, func(_, a string, s, _ []byte) (string, []byte, []byte) {
			return a, s, other[2]
		}, vault.ErrCorrupt},
		{"public key garbage", sealer, func(_, a string, s, _ []byte) (string, []byte, []byte) {
			return a, s, []byte("not DER")
		}, vault.ErrCorrupt},
		{"bit flipped", sealer, func(_, a string, s, p []byte) (string, []byte, []byte) {
			s[len(s)-1] ^= 1
			return a, s, p
		}, keys.ErrUnseal},
		{"other master key", newSealer(t), func(_, a string, s, p []byte) (string, []byte, []byte) { return a, s, p }, keys.ErrUnseal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newSoftware(t, tamperStore{src, tc.rewrite}, tc.sealer, 0)
			_, err := v.Key(ctx, "citizen/victim")
			_, serr := v.Sign(ctx, "citizen/victim", vaulttest.Digest(0), crypto.SHA256)
			if tc.want == nil {
				if err != nil || serr != nil {
					t.Fatalf("Key: %v, Sign: %v", err, serr)
				}
				return
			}
			for _, e := range []error{err, serr} {
				if !errors.Is(e, tc.want) || (tc.want != vault.ErrCorrupt && !errors.Is(e, vault.ErrCorrupt)) {
					t.Errorf("error %v, want %v and ErrCorrupt", e, tc.want)
				}
			}
		})
	}
}

// The cache is bounded: past CacheSize keys, the least recently used is read again.
func TestSoftwareCacheBound(t *testing.T) {
	ctx := t.Context()
	st := vaulttest.NewMemStore()
	v := newSoftware(t, st, newSealer(t), 2)
	for i := range 3 {
		if _, err := v.CreateKey(ctx, fmt.Sprintf("citizen/%d", i), vault.KeySpec{}); err != nil {
			t.Fatal(err)
		}
	}
	sign := func(i int) {
		t.Helper()
		if _, err := v.Sign(ctx, fmt.Sprintf("citizen/%d", i), vaulttest.Digest(i), crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	}
	sign(1)
	sign(2)
	if n := st.Gets(); n != 0 {
		t.Fatalf("cached keys read the store %d times", n)
	}
	sign(0) // evicted by citizen/2; evicts citizen/1
	if n := st.Gets(); n != 1 {
		t.Fatalf("evicted key: %d store reads, want 1", n)
	}
	sign(0)
	sign(2)
	if n := st.Gets(); n != 1 {
		t.Fatalf("re-cached keys: %d store reads, want 1", n)
	}
	sign(1)
	if n := st.Gets(); n != 2 {
		t.Fatalf("second eviction: %d store reads, want 2", n)
	}
}

func TestNewSoftwareConfig(t *testing.T) {
	st, sealer := vaulttest.NewMemStore(), newSealer(t)
	for _, cfg := range []vault.SoftwareConfig{
		{Sealer: sealer},
		{Store: st},
		{Store: st, Sealer: sealer, CacheSize: -1},
	} {
		if _, err := vault.NewSoftware(cfg); err == nil {
			t.Errorf("NewSoftware(%+v) accepted", cfg)
		}
	}
}

func BenchmarkSoftwareSign(b *testing.B) {
	for _, alg := range []vault.Alg{vault.ECDSAP256, vault.RSA2048, vault.RSA3072} {
		b.Run(string(alg), func(b *testing.B) {
			v := newSoftware(b, vaulttest.NewMemStore(), newSealer(b), 0)
			if _, err := v.CreateKey(b.Context(), "citizen/bench", vault.KeySpec{Alg: alg}); err != nil {
				b.Fatal(err)
			}
			digest := vaulttest.Digest(0)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Sign(b.Context(), "citizen/bench", digest, crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSoftwareFirstSign signs with a key not yet cached: read, unseal, parse, sign.
func BenchmarkSoftwareFirstSign(b *testing.B) {
	for _, alg := range []vault.Alg{vault.ECDSAP256, vault.RSA2048} {
		b.Run(string(alg), func(b *testing.B) {
			st, sealer := vaulttest.NewMemStore(), newSealer(b)
			if _, err := newSoftware(b, st, sealer, 0).CreateKey(b.Context(), "citizen/bench", vault.KeySpec{Alg: alg}); err != nil {
				b.Fatal(err)
			}
			digest := vaulttest.Digest(0)
			b.ReportAllocs()
			for b.Loop() {
				v := newSoftware(b, st, sealer, 1)
				if _, err := v.Sign(b.Context(), "citizen/bench", digest, crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSoftwareCreateKey is a citizen's first use: generate, seal, store (in memory).
func BenchmarkSoftwareCreateKey(b *testing.B) {
	for _, alg := range []vault.Alg{vault.ECDSAP256, vault.RSA2048, vault.RSA3072} {
		b.Run(string(alg), func(b *testing.B) {
			v := newSoftware(b, vaulttest.NewMemStore(), newSealer(b), 0)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := v.CreateKey(b.Context(), fmt.Sprintf("citizen/%d", i), vault.KeySpec{Alg: alg}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
