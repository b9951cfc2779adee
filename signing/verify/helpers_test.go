package verify

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/motlan/motlan/internal/testenv"
	"github.com/motlan/motlan/signing/pades"
)

var oidDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}

// testCA is a CA built in memory: a long-lived ECDSA root and TSA (ten years, as real
// ones outlive citizens' certificates) and short-lived citizen certificates.
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
		Subject:               pkix.Name{CommonName: "Motlan Verify Test Root", Organization: []string{"Motlan"}, Country: []string{"VN"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
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
		Subject:     pkix.Name{CommonName: "Motlan Verify Test TSA", Country: []string{"VN"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	}, tsaKey.Public(), 5*365*24*time.Hour)
	ca.tsaKey = tsaKey
	return ca
}

func (ca *testCA) issue(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey, life time.Duration) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = newSerial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(life)
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

// citizen issues a citizen certificate valid for one day from an hour ago.
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
	}, key.Public(), 24*time.Hour)
	return cert, key
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.root)
	return p
}

// timestamper is an in-test RFC 3161 TSA.
func (ca *testCA) timestamper() pades.TimestampFunc {
	return func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
		ts := timestamp.Timestamp{
			HashAlgorithm: h, HashedMessage: digest, Time: time.Now(),
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

// sign signs in with a new citizen key of keyType at level.
func (ca *testCA) sign(t testing.TB, in []byte, keyType string, level pades.Level, field string) []byte {
	t.Helper()
	cert, key := ca.citizen(t, keyType)
	opt := pades.Options{
		Certificate: cert,
		Chain:       []*x509.Certificate{ca.root},
		Reason:      "Ký hồ sơ đăng ký khai sinh",
		Location:    "Thanh Hóa",
		Time:        time.Date(2026, 1, 2, 8, 30, 0, 0, time.UTC),
		Level:       level,
		FieldName:   field,
	}
	if level == pades.LevelBT {
		opt.Timestamp = ca.timestamper()
	}
	var out bytes.Buffer
	if err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, pades.FromCryptoSigner(key), opt); err != nil {
		t.Fatalf("pades.Sign: %v", err)
	}
	return out.Bytes()
}

// minimalPDF is a hand-written PDF 1.4 with a classic cross-reference table: catalog 1,
// pages 2, font 3, info 4, then page 5 and its content 6 (and so on per page).
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

// appendUpdate appends a classic-xref incremental update that redefines the given
// objects (number -> body, a full "<<...>>" or stream).
func appendUpdate(t testing.TB, in []byte, objs map[int]string) []byte {
	t.Helper()
	sx := regexp.MustCompile(`startxref\s+(\d+)`).FindAllSubmatch(in, -1)
	sz := regexp.MustCompile(`/Size (\d+)`).FindAllSubmatch(in, -1)
	if len(sx) == 0 || len(sz) == 0 {
		t.Fatal("no startxref or /Size")
	}
	prev, size := string(sx[len(sx)-1][1]), string(sz[len(sz)-1][1])
	b := bytes.NewBuffer(bytes.Clone(in))
	offs := map[int]int{}
	for id := 1; id < 1<<16; id++ {
		body, ok := objs[id]
		if !ok {
			continue
		}
		offs[id] = b.Len()
		fmt.Fprintf(b, "%d 0 obj\n%s\nendobj\n", id, body)
	}
	xref := b.Len()
	b.WriteString("xref\n0 1\n0000000000 65535 f \n")
	for id := 1; id < 1<<16; id++ {
		if o, ok := offs[id]; ok {
			fmt.Fprintf(b, "%d 1\n%010d 00000 n \n", id, o)
		}
	}
	fmt.Fprintf(b, "trailer\n<< /Size %s /Root 1 0 R /Info 4 0 R /Prev %s >>\nstartxref\n%d\n%%%%EOF\n", size, prev, xref)
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
	if out, err := exec.Command("qpdf", append(append([]string{}, args...), src, dst)...).CombinedOutput(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 { // 3: warnings
			t.Fatalf("qpdf %v: %v\n%s", args, err, out)
		}
	}
	out, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// nssDB creates an NSS database trusting the CA's root.
func (ca *testCA) nssDB(t testing.TB) string {
	t.Helper()
	need(t, "certutil", "pdfsig")
	dir := t.TempDir()
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
	return dir
}

// pdfsigResult is one signature's part of pdfsig's output.
type pdfsigResult struct {
	valid, trusted, total bool
	text                  string
}

// pdfsig runs poppler's pdfsig and parses its per-signature verdicts.
func pdfsig(t testing.TB, db string, pdf []byte) []pdfsigResult {
	t.Helper()
	f := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("pdfsig", "-nssdir", "sql:"+db, f).CombinedOutput()
	parts := regexp.MustCompile(`(?m)^Signature #\d+:`).Split(string(out), -1)
	var r []pdfsigResult
	for _, p := range parts[1:] {
		r = append(r, pdfsigResult{
			valid:   regexp.MustCompile(`Signature Validation: Signature is Valid`).MatchString(p),
			trusted: regexp.MustCompile(`Certificate Validation: Certificate is Trusted`).MatchString(p),
			total:   regexp.MustCompile(`(?m)^\s*- Total document signed`).MatchString(p),
			text:    p,
		})
	}
	return r
}

var regexpByteRange = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)
