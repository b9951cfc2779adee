package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/motlan/motlan/internal/testenv"
)

var (
	oidUID             = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	oidDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}
)

// testCA is a CA built in memory: an ECDSA P-256 root, citizen certificates and a TSA.
type testCA struct {
	root    *x509.Certificate
	rootKey crypto.Signer
	tsa     *x509.Certificate
	tsaKey  crypto.Signer
}

var serial atomic.Int64

func newSerial() *big.Int { return big.NewInt(time.Now().UnixNano() + serial.Add(1)) }

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: "Motlan Test Root CA", Organization: []string{"Motlan"}, Country: []string{"VN"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(der)
	ca := &testCA{root: root, rootKey: rootKey}

	tsaKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca.tsa = ca.issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "Motlan Test TSA", Country: []string{"VN"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	}, tsaKey.Public())
	ca.tsaKey = tsaKey
	return ca
}

func (ca *testCA) issue(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = newSerial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.root, pub, ca.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// citizen issues the citizen certificate: CN in UTF-8, UID=CCCD:<12 digits>,
// nonRepudiation + digitalSignature, the document-signing EKU.
func (ca *testCA) citizen(t testing.TB, keyType string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	var key crypto.Signer
	switch keyType {
	case "ecdsa":
		key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		key, _ = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("key type %q", keyType)
	}
	cert := ca.issue(t, &x509.Certificate{
		Subject: pkix.Name{
			Country: []string{"VN"}, Province: []string{"Thanh Hóa"}, Locality: []string{"Sầm Sơn"},
			CommonName: "Lê Công Hảo",
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidUID, Value: "CCCD:038092004567"}},
		},
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{oidDocumentSigning},
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}, key.Public())
	return cert, key
}

// timestamper is an in-test RFC 3161 TSA.
func (ca *testCA) timestamper(calls *atomic.Int32) TimestampFunc {
	return func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
		if calls != nil {
			calls.Add(1)
		}
		ts := timestamp.Timestamp{
			HashAlgorithm:     h,
			HashedMessage:     digest,
			Time:              time.Now(),
			Policy:            asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1},
			AddTSACertificate: true,
		}
		resp, err := ts.CreateResponseWithOpts(ca.tsa, ca.tsaKey, crypto.SHA256)
		if err != nil {
			return nil, err
		}
		parsed, err := timestamp.ParseResponse(resp)
		if err != nil {
			return nil, err
		}
		return parsed.RawToken, nil
	}
}

// bigTimestamper is a TSA whose tokens carry an extension of pad bytes.
func (ca *testCA) bigTimestamper(pad int) TimestampFunc {
	return func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
		ts := timestamp.Timestamp{
			HashAlgorithm: h, HashedMessage: digest, Time: time.Now(),
			Policy:            asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1},
			AddTSACertificate: true,
			ExtraExtensions:   []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 2}, Value: make([]byte, pad)}},
		}
		resp, err := ts.CreateResponseWithOpts(ca.tsa, ca.tsaKey, crypto.SHA256)
		if err != nil {
			return nil, err
		}
		parsed, err := timestamp.ParseResponse(resp)
		if err != nil {
			return nil, err
		}
		return parsed.RawToken, nil
	}
}

// countingSigner counts calls to Sign.
type countingSigner struct {
	Signer
	calls atomic.Int32
}

func (c *countingSigner) Sign(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.calls.Add(1)
	return c.Signer.Sign(ctx, digest, opts)
}

// minimalPDF is a hand-written PDF 1.4 with a classic cross-reference table.
func minimalPDF(pages int) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	kids := ""
	for i := 0; i < pages; i++ {
		kids += fmt.Sprintf("%d 0 R ", 5+2*i)
	}
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", kids, pages))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	obj("<< /Producer (motlan test) >>")
	for i := 0; i < pages; i++ {
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 6+2*i))
		content := fmt.Sprintf("BT /F1 18 Tf 72 760 Td (Ho so so %d - Hello Motlan) Tj ET", i+1)
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>] >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

func need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "%s (Debian: poppler-utils, qpdf, libnss3-tools)", tool)
		}
	}
}

// qpdfVariant rewrites in with qpdf and the given arguments.
func qpdfVariant(t testing.TB, in []byte, args ...string) []byte {
	t.Helper()
	need(t, "qpdf")
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("qpdf", append(append([]string{}, args...), src, dst)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		// qpdf exits 3 for warnings but still writes the file.
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("qpdf %v: %v\n%s", args, err, out)
		}
	}
	out, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var nssOnce sync.Map // *testCA -> string

// nssDB creates an NSS database trusting the CA's root.
func (ca *testCA) nssDB(t testing.TB) string {
	t.Helper()
	if d, ok := nssOnce.Load(ca); ok {
		return d.(string)
	}
	need(t, "certutil", "pdfsig")
	dir, err := os.MkdirTemp("", "motlan-nss-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pemFile := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + dir, "--empty-password"},
		{"-A", "-d", "sql:" + dir, "-n", "root", "-t", "CT,C,C", "-i", pemFile},
	} {
		if out, err := exec.Command("certutil", args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	nssOnce.Store(ca, dir)
	return dir
}

// pdfsig runs poppler's pdfsig on pdf and returns its output.
func pdfsig(t testing.TB, db string, pdf []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("pdfsig", "-nssdir", "sql:"+db, f).CombinedOutput()
	return string(out)
}

// sigReport is one signature's part of pdfsig's output.
type sigReport struct {
	valid, trusted, total, cades bool
	text                         string
}

func parsePdfsig(out string) []sigReport {
	parts := regexp.MustCompile(`(?m)^Signature #\d+:`).Split(out, -1)
	var r []sigReport
	for _, p := range parts[1:] {
		r = append(r, sigReport{
			valid:   regexp.MustCompile(`Signature Validation: Signature is Valid`).MatchString(p),
			trusted: regexp.MustCompile(`Certificate Validation: Certificate is Trusted`).MatchString(p),
			total:   regexp.MustCompile(`(?m)^\s*- Total document signed`).MatchString(p),
			cades:   regexp.MustCompile(`Signature Type: ETSI\.CAdES\.detached`).MatchString(p),
			text:    p,
		})
	}
	return r
}

// lastSignature returns the ByteRange and the DER /Contents of the last signature.
func lastSignature(t testing.TB, pdf []byte) ([4]int64, []byte) {
	t.Helper()
	ms := regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`).FindAllSubmatch(pdf, -1)
	if len(ms) == 0 {
		t.Fatal("no /ByteRange")
	}
	m := ms[len(ms)-1]
	var br [4]int64
	for i := range br {
		br[i], _ = strconv.ParseInt(string(m[i+1]), 10, 64)
	}
	hexs := pdf[br[1]+1 : br[2]-1]
	der := make([]byte, len(hexs)/2)
	for i := range der {
		v, err := strconv.ParseUint(string(hexs[2*i:2*i+2]), 16, 8)
		if err != nil {
			t.Fatal(err)
		}
		der[i] = byte(v)
	}
	// Trim the zero padding after the DER.
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(der, &raw)
	if err != nil {
		t.Fatalf("contents: %v", err)
	}
	return br, der[:len(der)-len(rest)]
}
