package testpki

import (
	"crypto/x509"
	"testing"
)

func TestParsePdfsig(t *testing.T) {
	out := `Digital Signature Info of: signed.pdf
Signature #1:
  - Signer Certificate Common Name: Lê Công Hảo
  - Signature Type: ETSI.CAdES.detached
  - Signed Ranges: [0 - 1234], [5678 - 9999]
  - Signature Validation: Signature is Valid.
  - Certificate Validation: Certificate is Trusted.
Signature #2:
  - Signer Certificate Common Name: Lê Thị Nghĩa
  - Signature Type: adbe.pkcs7.detached
  - Signed Ranges: [0 - 100], [200 - 300]
  - Total document signed
  - Signature Validation: Digest Mismatch.
  - Certificate Validation: Certificate issuer isn't Trusted.
`
	got := ParsePdfsig(out)
	if len(got) != 2 {
		t.Fatalf("%d signatures", len(got))
	}
	if s := got[0]; !s.Valid || !s.Trusted || s.Total || !s.CAdES || s.CN != "Lê Công Hảo" {
		t.Errorf("first: %+v", s)
	}
	if s := got[1]; s.Valid || s.Trusted || !s.Total || s.CAdES || s.CN != "Lê Thị Nghĩa" {
		t.Errorf("second: %+v", s)
	}
}

func TestCitizen(t *testing.T) {
	ca := NewCA(t)
	for _, kt := range []string{"ecdsa", "rsa"} {
		cert, key := ca.Citizen(t, kt)
		if cert.Subject.CommonName != CitizenName || cert.KeyUsage&x509.KeyUsageContentCommitment == 0 {
			t.Errorf("%s: %v %v", kt, cert.Subject, cert.KeyUsage)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s: %v", kt, err)
		}
		if key.Public() == nil {
			t.Errorf("%s: no key", kt)
		}
	}
}
