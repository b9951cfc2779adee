package tsa

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"flag"
	"math/big"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/cms"
	"github.com/motlan/motlan/internal/testpki"
)

var update = flag.Bool("update", false, "rewrite the golden DER files in testdata")

// TestGoldenReply pins the DER of a granted reply (TSTInfo, SignedData, signed
// attributes) and of a rejection, from a PKI and random source that repeat.
func TestGoldenReply(t *testing.T) {
	pki := testpki.NewGolden(t)
	s, err := New(Config{Signer: pki.TSAKey, Certificate: pki.TSA, Chain: []*x509.Certificate{pki.Root}, IncludeChain: true,
		Now: func() time.Time { return testpki.GoldenTime }})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("Motlan golden"))
	imprint, _ := asn1.Marshal(cms.MessageImprint{HashAlgorithm: algID(cms.OIDSHA256), HashedMessage: sum[:]})
	for _, tc := range []struct {
		name   string
		query  timeStampReq
		golden string
	}{
		{"granted", timeStampReq{Version: 1, MessageImprint: asn1.RawValue{FullBytes: imprint}, Nonce: big.NewInt(42), CertReq: true}, "testdata/granted.der"},
		{"no certificates", timeStampReq{Version: 1, MessageImprint: asn1.RawValue{FullBytes: imprint}}, "testdata/granted-nocerts.der"},
		{"rejected", timeStampReq{Version: 2, MessageImprint: asn1.RawValue{FullBytes: imprint}}, "testdata/rejected.der"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := asn1.Marshal(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			resp, _ := s.Respond(context.Background(), q)
			testpki.Golden(t, tc.golden, resp, *update)
		})
	}
}
