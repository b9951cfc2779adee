package sqlstore_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"slices"
	"testing"

	"github.com/motlan/motlan/keys/ca"
)

// TestCAStorage: the dev CA's records on SQLite and PostgreSQL, and two replicas sharing
// one CA through them.
func TestCAStorage(t *testing.T) {
	for _, driver := range vaultDrivers {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			open := vaultDB(t, driver)
			st := open().CAStorage()
			if _, err := st.Load(ctx, "identity/root"); !errors.Is(err, ca.ErrNotFound) {
				t.Fatalf("load missing: %v", err)
			}
			for _, n := range []string{"revoked/0a", "revoked/0b", "revokedx", "identity/test"} {
				if err := st.Save(ctx, n, []byte(n)); err != nil {
					t.Fatalf("save %s: %v", n, err)
				}
			}
			if err := st.Save(ctx, "identity/test", []byte("other")); !errors.Is(err, ca.ErrExists) {
				t.Fatalf("save twice: %v", err)
			}
			if b, err := st.Load(ctx, "identity/test"); err != nil || string(b) != "identity/test" {
				t.Fatalf("load: %q %v (a second save must not change it)", b, err)
			}
			names, err := st.List(ctx, "revoked/")
			if err != nil || !slices.Equal(names, []string{"revoked/0a", "revoked/0b"}) {
				t.Fatalf("list: %v %v", names, err)
			}

			// Two replicas: the second CA finds the first one's keys, and sees its revocation.
			sealer := vaultSealer(t)
			newCA := func() *ca.DevCA {
				c, err := ca.New(ctx, ca.Config{Storage: open().CAStorage(), Sealer: sealer, BaseURL: "https://motlan.test"})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			a, b := newCA(), newCA()
			if !a.Root().Equal(b.Root()) {
				t.Fatal("two replicas made two roots")
			}
			cert, _, err := a.IssueCitizenCert(ctx, ca.CitizenCertRequest{
				PublicKey: citizenPublicKey(t), FullName: "Lê Công Hảo", CCCD: "038092004567", Province: "Thanh Hóa",
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Revoke(ctx, cert.SerialNumber, ca.ReasonKeyCompromise, cert.NotBefore); err != nil {
				t.Fatal(err)
			}
			if rv, err := b.Revoked(ctx, cert.SerialNumber); err != nil || rv == nil {
				t.Fatalf("the other replica does not see the revocation: %v %v", rv, err)
			}
		})
	}
}

func citizenPublicKey(t *testing.T) crypto.PublicKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}
