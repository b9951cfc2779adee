// Package testpki holds the PKI and PDF-tool fixtures shared by Motlan's signing tests:
// an in-memory CA issuing citizen certificates, an in-test RFC 3161 time-stamp authority,
// NSS databases and poppler's pdfsig, qpdf rewrites, and a hand-written minimal PDF.
//
// It is a normal package so tests in several packages can share it; only tests import it.
// Helpers that need an external tool (certutil, pdfsig, qpdf) call testenv.Missing when
// it is absent: the test skips, or fails under MOTLAN_TEST_STRICT=1.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"sync/atomic"
	"testing"
	"time"
)

var (
	// OIDUID is the LDAP userId attribute (0.9.2342.19200300.100.1.1) that carries
	// "CCCD:<12 digits>" in a citizen certificate's subject.
	OIDUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	// OIDDocumentSigning is the document-signing extended key usage (RFC 9336).
	OIDDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}
)

// The citizen that CA.Citizen issues for.
const (
	CitizenName = "Lê Công Hảo"
	CitizenUID  = "CCCD:038092004567"
)

// Config names a CA and sets its lifetimes; zero fields take the defaults.
type Config struct {
	RootName string        // root CN; default "Motlan Test Root CA"
	TSAName  string        // TSA CN; default "Motlan Test TSA"
	RootLife time.Duration // default 24h
	TSALife  time.Duration // default 24h
}

// CA is a CA built in memory: an ECDSA P-256 root that issues citizen certificates and
// a TSA certificate directly.
type CA struct {
	Root    *x509.Certificate
	RootKey crypto.Signer
	TSA     *x509.Certificate
	TSAKey  crypto.Signer
}

var serial atomic.Int64

func newSerial() *big.Int { return big.NewInt(time.Now().UnixNano() + serial.Add(1)) }

// NewCA builds a CA with the default names and one-day lifetimes.
func NewCA(t testing.TB) *CA { return NewCAWith(t, Config{}) }

// NewCAWith builds a CA as cfg says.
func NewCAWith(t testing.TB, cfg Config) *CA {
	t.Helper()
	if cfg.RootName == "" {
		cfg.RootName = "Motlan Test Root CA"
	}
	if cfg.TSAName == "" {
		cfg.TSAName = "Motlan Test TSA"
	}
	if cfg.RootLife == 0 {
		cfg.RootLife = 24 * time.Hour
	}
	if cfg.TSALife == 0 {
		cfg.TSALife = 24 * time.Hour
	}
	rootKey := newKey(t, "ecdsa")
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: cfg.RootName, Organization: []string{"Motlan"}, Country: []string{"VN"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(cfg.RootLife),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{Root: root, RootKey: rootKey}
	tsaKey := newKey(t, "ecdsa")
	ca.TSA = ca.Issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: cfg.TSAName, Country: []string{"VN"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	}, tsaKey.Public(), cfg.TSALife)
	ca.TSAKey = tsaKey
	return ca
}

// Issue signs tmpl with the root for pub, valid from an hour ago for life; it sets the
// serial number and validity.
func (ca *CA) Issue(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey, life time.Duration) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = newSerial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(life)
	return createCert(t, tmpl, ca.Root, pub, ca.RootKey)
}

// createCert signs tmpl with priv under parent (tmpl itself when nil) and parses it.
func createCert(t testing.TB, tmpl, parent *x509.Certificate, pub, priv any) *x509.Certificate {
	t.Helper()
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Citizen issues CitizenName's certificate with a new key of keyType ("ecdsa" for
// P-256 or "rsa" for RSA-2048).
func (ca *CA) Citizen(t testing.TB, keyType string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	return ca.CitizenNamed(t, keyType, CitizenName, CitizenUID)
}

// CitizenNamed issues a citizen certificate for cn and uid ("CCCD:<12 digits>"): CN in
// UTF-8, nonRepudiation + digitalSignature, the document-signing EKU, valid for one day
// from an hour ago.
func (ca *CA) CitizenNamed(t testing.TB, keyType, cn, uid string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := newKey(t, keyType)
	cert := ca.Issue(t, &x509.Certificate{
		Subject: pkix.Name{
			Country: []string{"VN"}, Province: []string{"Thanh Hóa"}, Locality: []string{"Sầm Sơn"},
			CommonName: cn,
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: OIDUID, Value: uid}},
		},
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{OIDDocumentSigning},
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}, key.Public(), 24*time.Hour)
	return cert, key
}

// Pool is a certificate pool holding only the root.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Root)
	return p
}

func newKey(t testing.TB, keyType string) crypto.Signer {
	t.Helper()
	var key crypto.Signer
	var err error
	switch keyType {
	case "ecdsa":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("key type %q", keyType)
	}
	if err != nil {
		t.Fatal(err)
	}
	return key
}
