package testpki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"testing/cryptotest"
	"time"
)

// GoldenTime is the time a Golden PKI's certificates and tokens are made at.
var GoldenTime = time.Date(2026, 1, 2, 8, 30, 0, 0, time.UTC)

// NewGolden builds a CA whose DER is the same on every run, for golden files: it seeds
// crypto/rand for the rest of the test (cryptotest.SetGlobalRandom), so keys, ECDSA
// signatures and random serials repeat, and fixes names, serials and validity. The TSA
// certificate carries the timeStamping key usage critical, as RFC 3161 wants.
func NewGolden(t *testing.T) *CA {
	t.Helper()
	cryptotest.SetGlobalRandom(t, 3161)
	ca := &CA{RootKey: newKey(t, "ecdsa")}
	ca.Root = goldenCert(t, &x509.Certificate{
		Subject: pkix.Name{Country: []string{"VN"}, CommonName: "Motlan Golden Root CA"},
		IsCA:    true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, 1, nil, ca.RootKey.Public(), ca.RootKey)
	tsaKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	ca.TSA = goldenCert(t, &x509.Certificate{
		Subject:         pkix.Name{Country: []string{"VN"}, CommonName: "Motlan Golden TSA"},
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}, 2, ca.Root, tsaKey.Public(), ca.RootKey)
	ca.TSAKey = tsaKey
	return ca
}

// GoldenCitizen issues CitizenName's certificate with an ECDSA key, serial 3, valid
// for a year from GoldenTime; call it after NewGolden.
func (ca *CA) GoldenCitizen(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert := goldenCert(t, &x509.Certificate{
		Subject: pkix.Name{
			Country: []string{"VN"}, Province: []string{"Thanh Hóa"}, CommonName: CitizenName,
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: OIDUID, Value: CitizenUID}},
		},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}, 3, ca.Root, key.Public(), ca.RootKey)
	return cert, key
}

func goldenCert(t *testing.T, tmpl *x509.Certificate, serial int64, parent *x509.Certificate, pub, priv any) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(serial)
	tmpl.NotBefore, tmpl.NotAfter = GoldenTime.Add(-time.Hour), GoldenTime.AddDate(1, 0, 0)
	return createCert(t, tmpl, parent, pub, priv)
}

// Golden compares got with the file at path, or writes it there when update is set
// (each package's golden test has its own -update flag).
func Golden(t *testing.T, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: the encoding changed (%d bytes, golden %d); if on purpose, run with -update and review the diff of `openssl asn1parse -inform DER`", path, len(got), len(want))
	}
}
