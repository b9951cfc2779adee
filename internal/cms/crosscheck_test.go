package cms_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/motlan/motlan/internal/cms"
	"github.com/motlan/motlan/internal/testpki"
)

// TestOpenSSLReadsBuilder: OpenSSL verifies what the builder writes, a detached id-data
// signature (as PAdES embeds it, ECDSA and RSA) and an encapsulated TSTInfo token, so the
// builder is not checked only against this package's reader.
func TestOpenSSLReadsBuilder(t *testing.T) {
	testpki.Need(t, "openssl")
	ca := testpki.NewCA(t)
	dir := t.TempDir()
	root := testpki.WritePEM(t, filepath.Join(dir, "root.pem"), ca.Root)
	content := []byte("Tờ khai đăng ký khai sinh")
	data := filepath.Join(dir, "data.bin")
	if err := os.WriteFile(data, content, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, keyType := range []string{"ecdsa", "rsa"} {
		t.Run("detached "+keyType, func(t *testing.T) {
			cert, key := ca.Citizen(t, keyType)
			sig := filepath.Join(dir, keyType+".p7s")
			if err := os.WriteFile(sig, signed(t, cert, key, content, true, cert, ca.Root), 0o600); err != nil {
				t.Fatal(err)
			}
			testpki.Run(t, "openssl", "cms", "-verify", "-inform", "DER", "-in", sig, "-content", data, "-binary", "-CAfile", root, "-out", os.DevNull)
		})
	}
	t.Run("time-stamp token", func(t *testing.T) {
		// OpenSSL wants the timeStamping key usage critical (RFC 3161 2.3).
		eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tsa := ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "Motlan CMS Test TSA"}, KeyUsage: x509.KeyUsageDigitalSignature,
			ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}}}, key.Public(), time.Hour)
		tok := filepath.Join(dir, "token.der")
		if err := os.WriteFile(tok, signed(t, tsa, key, content, false, tsa), 0o600); err != nil {
			t.Fatal(err)
		}
		testpki.Run(t, "openssl", "ts", "-verify", "-token_in", "-in", tok, "-data", data, "-CAfile", root)
	})
}

// TestDigitorusInterop: tokens written by github.com/digitorus/timestamp (testpki's TSA)
// are read and verified here, and tokens built here are read by it.
func TestDigitorusInterop(t *testing.T) {
	ca := testpki.NewCA(t)
	digest := sha256.Sum256([]byte("signature value"))
	tok, err := ca.Timestamper(nil)(context.Background(), digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	sd, rest, err := cms.ParseSignedData(tok)
	if err != nil || len(rest) > 0 || len(sd.Signers) != 1 {
		t.Fatalf("digitorus token: %v, %d bytes after, %d signers", err, len(rest), len(sd.Signers))
	}
	si := &sd.Signers[0]
	cert := si.FindCertificate(sd.Certificates)
	if cert == nil || !cert.Equal(ca.TSA) {
		t.Fatal("the TSA certificate is not found by the signer identifier")
	}
	if err := sd.VerifyContent(si, cert); err != nil {
		t.Fatal(err)
	}
	info, mi, err := cms.ParseTSTInfo(sd.EContent)
	if err != nil || info.Version != 1 || cms.Hash(mi.HashAlgorithm.Algorithm) != crypto.SHA256 || !bytes.Equal(mi.HashedMessage, digest[:]) {
		t.Fatalf("TSTInfo %+v imprint %+v: %v", info, mi, err)
	}

	ours := signed(t, ca.TSA, ca.TSAKey, []byte("signature value"), false, ca.TSA)
	ts, err := timestamp.Parse(ours) // verifies the signature, as the token carries the certificate
	if err != nil {
		t.Fatal(err)
	}
	if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, digest[:]) || ts.SerialNumber.Int64() != 7 || ts.Nonce.Int64() != 42 {
		t.Fatalf("digitorus reads %+v", ts)
	}
}
