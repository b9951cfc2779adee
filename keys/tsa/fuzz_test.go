package tsa_test

import (
	"context"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"

	"github.com/motlan/motlan/keys/tsa"
)

// FuzzTimestampQuery feeds arbitrary bytes to the TSA's query parser: it must never
// panic, always answer with a well-formed TimeStampResp, and every token it grants must
// verify and echo the query's nonce.
func FuzzTimestampQuery(f *testing.F) {
	fx := newFixture(f)
	f.Add(mustDER(f, goodQuery()))
	q := goodQuery()
	q.Nonce, q.CertReq = nil, false
	f.Add(mustDER(f, q))
	d := sha512.Sum512(nil)
	q = goodQuery()
	q.MessageImprint = messageImprint{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}}, d[:]}
	q.ReqPolicy = tsa.DevPolicy
	f.Add(mustDER(f, q))
	q.Nonce = big.NewInt(-5)
	f.Add(mustDER(f, q))
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	roots := fx.roots()
	inter := x509.NewCertPool()
	inter.AddCert(fx.ca.IssuingCA())
	f.Fuzz(func(t *testing.T, query []byte) {
		resp, _ := fx.tsa.Respond(context.Background(), query)
		der, err := tsa.ParseReply(resp)
		if err != nil {
			var se *tsa.StatusError
			if !errors.As(err, &se) || se.Status != tsa.StatusRejection || se.FailInfo < 0 {
				t.Fatalf("bad reply: %v", err)
			}
			return
		}
		tok, err := tsa.ParseToken(der)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tok.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}, fx.id.Certificate); err != nil {
			t.Fatal(err)
		}
	})
}
