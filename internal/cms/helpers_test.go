package cms_test

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/cms"
)

// signed builds a SignedData with one signer: detached id-data over content when
// detached, else an encapsulated TSTInfo over content's SHA-256 (a time-stamp token).
func signed(t testing.TB, cert *x509.Certificate, key crypto.Signer, content []byte, detached bool, certs ...*x509.Certificate) []byte {
	t.Helper()
	b := cms.Builder{EContentType: cms.OIDData, Signer: cert}
	var err error
	if b.SignatureAlgorithm, err = cms.SignatureAlgorithmFor(key.Public()); err != nil {
		t.Fatal(err)
	}
	for _, c := range certs {
		b.Certificates = append(b.Certificates, c.Raw)
	}
	if !detached {
		b.EContentType, b.EContent = cms.OIDTSTInfo, tstInfo(t, content)
		content = b.EContent
	}
	scv2, err := cms.SigningCertificateV2(cert)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	if b.SignedAttrs, err = cms.SignedAttributes(b.EContentType, sum[:], scv2); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(b.SignedAttrs)
	if b.Signature, err = key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	der, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// tstInfo is a TSTInfo over the SHA-256 of data at a fixed time.
func tstInfo(t testing.TB, data []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(data)
	mi, err := asn1.Marshal(cms.MessageImprint{HashAlgorithm: algID(cms.OIDSHA256), HashedMessage: sum[:]})
	if err != nil {
		t.Fatal(err)
	}
	info := cms.TSTInfo{Version: 1, Policy: asn1.ObjectIdentifier{2, 999, 1}, MessageImprint: asn1.RawValue{FullBytes: mi},
		SerialNumber: big.NewInt(7), GenTime: time.Date(2026, 1, 2, 8, 30, 0, 0, time.UTC), Accuracy: cms.Accuracy{Seconds: 1}, Nonce: big.NewInt(42)}
	der, err := info.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return der
}
