package pades

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"flag"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/keys/tsa"
)

var update = flag.Bool("update", false, "rewrite the golden DER files in testdata")

// TestGoldenCMS pins the DER of the CMS SignedData of a B-B and a B-T signature, from a
// PKI and random source that repeat.
func TestGoldenCMS(t *testing.T) {
	pki := testpki.NewGolden(t)
	cert, key := pki.GoldenCitizen(t)
	ts, err := tsa.New(tsa.Config{Signer: pki.TSAKey, Certificate: pki.TSA, Now: func() time.Time { return testpki.GoldenTime }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ts)
	defer srv.Close()
	digest := sha256.Sum256([]byte("the signed bytes of a dossier"))
	for _, tc := range []struct {
		level  Level
		golden string
	}{{LevelBB, "testdata/cms-bb.der"}, {LevelBT, "testdata/cms-bt.der"}} {
		t.Run(tc.level.String(), func(t *testing.T) {
			opt := Options{Certificate: cert, Chain: []*x509.Certificate{pki.Root}, Level: tc.level,
				Timestamp: func(ctx context.Context, d []byte, h crypto.Hash) ([]byte, error) {
					return tsa.Request(ctx, srv.Client(), srv.URL, d, h)
				}}
			der, err := buildCMS(context.Background(), FromCryptoSigner(key), &opt, digest[:])
			if err != nil {
				t.Fatal(err)
			}
			testpki.Golden(t, tc.golden, der, *update)
		})
	}
}
