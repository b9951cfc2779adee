package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"flag"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/signing/internal/pdfguard/pdfguardtest"
)

var keepOutput = flag.String("pades.out", "", "directory to keep signed test PDFs in")

type signResult struct {
	pdf    []byte
	calls  int32
	tsaHit int32
}

func signOnce(t *testing.T, ca *testpki.CA, in []byte, keyType string, opt Options) signResult {
	t.Helper()
	cert, key := ca.Citizen(t, keyType)
	cs := &countingSigner{Signer: FromCryptoSigner(key)}
	var tsaCalls atomic.Int32
	opt.Certificate = cert
	opt.Chain = []*x509.Certificate{ca.Root}
	if opt.Level == LevelBT {
		opt.Timestamp = ca.Timestamper(&tsaCalls)
	}
	var out bytes.Buffer
	if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, cs, opt); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if got := cs.calls.Load(); got != 1 {
		t.Fatalf("signer called %d times, want exactly 1", got)
	}
	if !bytes.HasPrefix(out.Bytes(), in) {
		t.Fatal("the original bytes were not preserved")
	}
	return signResult{pdf: out.Bytes(), calls: cs.calls.Load(), tsaHit: tsaCalls.Load()}
}

func keep(t *testing.T, name string, pdf []byte) {
	if *keepOutput == "" {
		return
	}
	_ = os.MkdirAll(*keepOutput, 0o755)
	_ = os.WriteFile(filepath.Join(*keepOutput, strings.ReplaceAll(name, "/", "_")+".pdf"), pdf, 0o644)
}

func baseOptions() Options {
	return Options{
		Reason:   "Ký hồ sơ đăng ký khai sinh",
		Location: "Thanh Hóa",
		Time:     time.Date(2026, 1, 2, 8, 30, 0, 0, time.UTC),
	}
}

func TestSignVerifiedByPdfsig(t *testing.T) {
	ca := testpki.NewCA(t)
	db := ca.NSSDB(t)
	base := testpki.MinimalPDF(2)
	inputs := []struct {
		name string
		pdf  func(t *testing.T) []byte
	}{
		{"classic-xref", func(*testing.T) []byte { return base }},
		{"object-streams", func(t *testing.T) []byte { return testpki.QPDF(t, base, "--object-streams=generate") }},
		{"linearized", func(t *testing.T) []byte { return testpki.QPDF(t, base, "--linearize") }},
		{"qpdf-rewrite-no-eol", func(t *testing.T) []byte {
			p := testpki.QPDF(t, base, "--object-streams=preserve")
			return bytes.TrimRight(p, "\r\n")
		}},
	}
	for _, in := range inputs {
		for _, keyType := range []string{"ecdsa", "rsa"} {
			for _, level := range []Level{LevelBB, LevelBT} {
				name := in.name + "/" + keyType + "/" + level.String()
				t.Run(name, func(t *testing.T) {
					src := in.pdf(t)
					opt := baseOptions()
					opt.Level = level
					res := signOnce(t, ca, src, keyType, opt)
					keep(t, name, res.pdf)
					if level == LevelBT && res.tsaHit != 1 {
						t.Fatalf("TSA called %d times", res.tsaHit)
					}
					out, sigs := testpki.Pdfsig(t, db, res.pdf)
					if testing.Verbose() {
						t.Log(out)
					}
					if len(sigs) != 1 {
						t.Fatalf("pdfsig found %d signatures:\n%s", len(sigs), out)
					}
					if s := sigs[0]; !s.Valid || !s.Trusted || !s.Total || !s.CAdES {
						t.Fatalf("pdfsig: valid=%v trusted=%v total=%v cades=%v\n%s", s.Valid, s.Trusted, s.Total, s.CAdES, out)
					}
					checkCMS(t, res.pdf, level)

					// A one-byte change in the signed range (in the binary comment on the
					// second line, so the structure stays intact) breaks the signature.
					tampered := bytes.Clone(res.pdf)
					tampered[bytes.IndexByte(tampered, '\n')+2] ^= 0x01
					if _, s := testpki.Pdfsig(t, db, tampered); len(s) != 1 || s[0].Valid {
						t.Fatalf("tampered document: %d signatures, valid=%v", len(s), len(s) == 1 && s[0].Valid)
					}
				})
			}
		}
	}
}

// TestSecondSigner signs a signed document again (the other parent): both signatures
// stay valid and only the last covers the whole file.
func TestSecondSigner(t *testing.T) {
	ca := testpki.NewCA(t)
	db := ca.NSSDB(t)
	for _, variant := range []struct {
		name string
		args []string
	}{{"classic-xref", nil}, {"object-streams", []string{"--object-streams=generate"}}} {
		t.Run(variant.name, func(t *testing.T) {
			src := testpki.MinimalPDF(1)
			if variant.args != nil {
				src = testpki.QPDF(t, src, variant.args...)
			}
			opt := baseOptions()
			opt.Level = LevelBT
			first := signOnce(t, ca, src, "ecdsa", opt)
			opt.Level = LevelBB
			opt.Reason = "Đồng ý — người thứ hai"
			second := signOnce(t, ca, first.pdf, "rsa", opt)
			keep(t, "second-signer-"+variant.name, second.pdf)
			out, sigs := testpki.Pdfsig(t, db, second.pdf)
			if len(sigs) != 2 {
				t.Fatalf("want 2 signatures:\n%s", out)
			}
			for i, s := range sigs {
				if !s.Valid || !s.Trusted || !s.CAdES {
					t.Fatalf("signature %d: valid=%v trusted=%v cades=%v\n%s", i+1, s.Valid, s.Trusted, s.CAdES, out)
				}
			}
			if sigs[0].Total || !sigs[1].Total {
				t.Fatalf("total document signed: first=%v second=%v\n%s", sigs[0].Total, sigs[1].Total, out)
			}
		})
	}
}

// The OIDs and shapes checkCMS reads, written out here rather than taken from
// internal/cms, so the encoder is not checked only against itself.
var (
	oidSignedData             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidAttrMessageDigest      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidAttrSigningCertV2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidAttrSignatureTimeStamp = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
)

type testAttribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue
}

// checkCMS parses the last signature's CMS: signed attributes are exactly contentType,
// messageDigest and signing-certificate-v2 (matching the signer's certificate); B-T
// carries a timestamp token over the signature value.
func checkCMS(t *testing.T, pdf []byte, level Level) {
	t.Helper()
	br, der := lastSignature(t, pdf)
	var ci struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue
	}
	if _, err := asn1.Unmarshal(der, &ci); err != nil || !ci.ContentType.Equal(oidSignedData) {
		t.Fatalf("ContentInfo: %v %v", err, ci.ContentType)
	}
	var sd struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		EncapContentInfo asn1.RawValue
		Certificates     asn1.RawValue `asn1:"tag:0"`
		SignerInfos      []struct {
			Version            int
			SID                asn1.RawValue
			DigestAlgorithm    asn1.RawValue
			SignedAttrs        asn1.RawValue `asn1:"tag:0"`
			SignatureAlgorithm asn1.RawValue
			Signature          []byte
			UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
		} `asn1:"set"`
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		t.Fatalf("SignedData: %v", err)
	}
	certs, err := x509.ParseCertificates(sd.Certificates.Bytes)
	if err != nil || len(certs) == 0 {
		t.Fatalf("certificates: %v", err)
	}
	signer := certs[0]
	si := sd.SignerInfos[0]
	attrs := map[string][]byte{}
	rest := si.SignedAttrs.Bytes
	for len(rest) > 0 {
		var a testAttribute
		var err error
		if rest, err = asn1.Unmarshal(rest, &a); err != nil {
			t.Fatal(err)
		}
		attrs[a.Type.String()] = a.Values.Bytes
	}
	if len(attrs) != 3 {
		t.Errorf("signed attributes: %v", attrs)
	}
	if _, ok := attrs[oidAttrSigningTime.String()]; ok {
		t.Error("signingTime present")
	}
	h := sha256.New()
	h.Write(pdf[br[0] : br[0]+br[1]])
	h.Write(pdf[br[2] : br[2]+br[3]])
	var md []byte
	if _, err := asn1.Unmarshal(attrs[oidAttrMessageDigest.String()], &md); err != nil || !bytes.Equal(md, h.Sum(nil)) {
		t.Errorf("messageDigest does not match the byte range: %v", err)
	}
	var scv2 struct {
		Certs []struct {
			CertHash     []byte
			IssuerSerial struct {
				Issuer asn1.RawValue
				Serial *big.Int
			}
		}
	}
	if _, err := asn1.Unmarshal(attrs[oidAttrSigningCertV2.String()], &scv2); err != nil || len(scv2.Certs) != 1 {
		t.Fatalf("signing-certificate-v2: %v", err)
	}
	want := sha256.Sum256(signer.Raw)
	if !bytes.Equal(scv2.Certs[0].CertHash, want[:]) || scv2.Certs[0].IssuerSerial.Serial.Cmp(signer.SerialNumber) != 0 {
		t.Error("signing-certificate-v2 does not match the signer's certificate")
	}
	if signer.Subject.CommonName != "Lê Công Hảo" {
		t.Errorf("signer CN %q", signer.Subject.CommonName)
	}
	hasTST := len(si.UnsignedAttrs.Bytes) > 0
	if hasTST != (level == LevelBT) {
		t.Errorf("timestamp token present=%v for %v", hasTST, level)
	}
	if hasTST {
		var a testAttribute
		if _, err := asn1.Unmarshal(si.UnsignedAttrs.Bytes, &a); err != nil || !a.Type.Equal(oidAttrSignatureTimeStamp) {
			t.Fatalf("unsigned attribute: %v %v", err, a.Type)
		}
		sum := sha256.Sum256(si.Signature)
		// digitorus/timestamp, not internal/cms, reads the token: an independent check.
		if ts, err := timestamp.Parse(a.Values.Bytes); err != nil || ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, sum[:]) {
			t.Errorf("the timestamp token does not cover the signature value: %v", err)
		}
	}
	if !bytes.Contains(pdf, []byte("/M (D:20260102153000+07'00')")) {
		t.Error("/M is not the signing time in Vietnam time")
	}
}

func TestContentsOverflowSignsOnce(t *testing.T) {
	ca := testpki.NewCA(t)
	cert, key := ca.Citizen(t, "ecdsa")
	cs := &countingSigner{Signer: FromCryptoSigner(key)}
	opt := baseOptions()
	opt.Certificate, opt.Level, opt.Timestamp = cert, LevelBT, ca.Timestamper(nil)
	opt.Timestamp = ca.PaddedTimestamper(3 * DefaultTimestampReserve) // the TSA answers far more than was reserved
	src := testpki.MinimalPDF(1)
	var out bytes.Buffer
	err := Sign(context.Background(), bytes.NewReader(src), int64(len(src)), &out, cs, opt)
	var oe *ContentsOverflowError
	if !errors.As(err, &oe) {
		t.Fatalf("want ContentsOverflowError, got %v", err)
	}
	if cs.calls.Load() != 1 {
		t.Fatalf("signer called %d times", cs.calls.Load())
	}
	if out.Len() != 0 {
		t.Fatal("output written on failure")
	}
}

func TestBadInput(t *testing.T) {
	ca := testpki.NewCA(t)
	cert, key := ca.Citizen(t, "ecdsa")
	good := testpki.MinimalPDF(1)
	zeroPages := bytes.Replace(testpki.MinimalPDF(1), []byte("/Kids [5 0 R ] /Count 1"), []byte("/Kids [      ] /Count 0"), 1)
	tests := []struct {
		name string
		in   []byte
		max  int64
		want error
	}{
		{"empty", nil, 0, ErrInvalidPDF},
		{"not a PDF", []byte("<html>hello</html>\n<!-- %%EOF -->"), 0, ErrInvalidPDF},
		{"truncated", good[:len(good)/2], 0, ErrInvalidPDF},
		{"broken xref", bytes.Replace(good, []byte("startxref\n"), []byte("startxref\n9"), 1), 0, ErrInvalidPDF},
		{"zero pages", zeroPages, 0, ErrInvalidPDF},
		{"too large", good, 100, ErrInputTooLarge},
		{"huge /Size", bytes.Replace(good, []byte("/Size 7"), []byte("/Size 9999999999"), 1), 0, ErrInvalidPDF},
	}
	if _, err := exec.LookPath("qpdf"); err == nil {
		tests = append(tests, struct {
			name string
			in   []byte
			max  int64
			want error
		}{"encrypted", testpki.QPDF(t, good, "--encrypt", "u", "o", "256", "--"), 0, ErrEncrypted})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := &countingSigner{Signer: FromCryptoSigner(key)}
			opt := baseOptions()
			opt.Certificate = cert
			opt.MaxInputSize = tt.max
			var out bytes.Buffer
			err := Sign(context.Background(), bytes.NewReader(tt.in), int64(len(tt.in)), &out, cs, opt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if cs.calls.Load() != 0 || out.Len() != 0 {
				t.Fatalf("signer calls %d, output %d bytes", cs.calls.Load(), out.Len())
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	ca := testpki.NewCA(t)
	cert, key := ca.Citizen(t, "ecdsa")
	_, other := ca.Citizen(t, "ecdsa")
	src := testpki.MinimalPDF(1)
	tests := []struct {
		name string
		s    Signer
		opt  Options
	}{
		{"no certificate", FromCryptoSigner(key), Options{}},
		{"key mismatch", FromCryptoSigner(other), Options{Certificate: cert}},
		{"B-T without TSA", FromCryptoSigner(key), Options{Certificate: cert, Level: LevelBT}},
		{"visible without font", FromCryptoSigner(key), Options{Certificate: cert, Appearance: &Appearance{Rect: [4]float64{0, 0, 100, 50}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Sign(context.Background(), bytes.NewReader(src), int64(len(src)), &bytes.Buffer{}, tt.s, tt.opt)
			if !errors.Is(err, ErrBadOptions) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

// FuzzSignInput feeds arbitrary bytes to the PDF intake: a clear error, never a panic.
func FuzzSignInput(f *testing.F) {
	base := testpki.MinimalPDF(1)
	f.Add(base)
	f.Add(testpki.MinimalPDF(3))
	f.Add([]byte("%PDF-1.7\n%%EOF"))
	f.Add([]byte("%PDF-1.5\n1 0 obj<</Type/XRef/Size 3/W[1 2 1]/Length 0>>stream\n\nendstream\nendobj\nstartxref\n9\n%%EOF\n"))
	for _, c := range append(pdfguardtest.Valid(), pdfguardtest.Hostile()...) {
		if len(c.PDF) < 16<<10 {
			f.Add(c.PDF)
		}
	}
	for _, dir := range []string{"testdata"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && strings.HasSuffix(e.Name(), ".pdf") {
				f.Add(b)
			}
		}
	}
	ca := testpki.NewCA(f)
	// RSA PKCS #1 v1.5 signs deterministically, so coverage does not flicker with
	// ECDSA's random nonces (which made the fuzzer minimise endlessly).
	cert, key := ca.Citizen(f, "rsa")
	signer := FromCryptoSigner(key)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 256<<10 {
			return
		}
		opt := Options{Certificate: cert, MaxInputSize: 256 << 10, Time: time.Unix(0, 0)}
		var out bytes.Buffer
		err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, signer, opt)
		if err == nil {
			if !bytes.HasPrefix(out.Bytes(), in) {
				t.Fatal("signed output does not start with the input")
			}
			return
		}
		if !errors.Is(err, ErrInvalidPDF) && !errors.Is(err, ErrEncrypted) && !errors.Is(err, ErrDocumentLocked) && !errors.Is(err, ErrBadOptions) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}
