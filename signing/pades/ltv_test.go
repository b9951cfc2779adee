package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/ocsp"

	"github.com/motlan/motlan/internal/pdf"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/signing/internal/pdfguard/pdfguardtest"
	"github.com/motlan/motlan/signing/verify"
)

// ltvWorld is a dev CA (root, issuing CA, OCSP responder, CRLs, TSA) served over HTTP so
// pdfsig's online revocation checks reach it, and an NSS database trusting its root.
type ltvWorld struct {
	ca       *ca.DevCA
	tsaID    *ca.Identity
	db       string
	tsaCalls atomic.Int32
}

func newLTVWorld(t *testing.T) *ltvWorld {
	t.Helper()
	ctx := context.Background()
	mk := make([]byte, keys.MasterKeySize)
	rand.Read(mk)
	sealer, err := keys.NewSealer(mk)
	if err != nil {
		t.Fatal(err)
	}
	var dca atomic.Pointer[ca.DevCA]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dca.Load().Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		// pdfsig may leave connections open; Close would wait for them.
		srv.CloseClientConnections()
		srv.Close()
	})
	c, err := ca.New(ctx, ca.Config{Storage: &ca.MemStorage{}, Sealer: sealer, BaseURL: srv.URL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	dca.Store(c)
	id, err := c.TimestampingIdentity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &ltvWorld{ca: c, tsaID: id, db: testpki.NSSDB(t, c.Root())}
}

// timestamp is a TimestampFunc signing with the dev CA's time-stamping identity.
func (w *ltvWorld) timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	w.tsaCalls.Add(1)
	ts := timestamp.Timestamp{
		HashAlgorithm:     h,
		HashedMessage:     digest,
		Time:              time.Now(),
		Policy:            asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1},
		AddTSACertificate: true,
		Certificates:      w.tsaID.Chain,
	}
	resp, err := ts.CreateResponseWithOpts(w.tsaID.Certificate, w.tsaID.Signer, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	parsed, err := timestamp.ParseResponse(resp)
	if err != nil {
		return nil, err
	}
	return parsed.RawToken, nil
}

// signBT signs in at B-T as a new citizen; it returns the PDF and the citizen's certificate.
func (w *ltvWorld) signBT(t *testing.T, in []byte) ([]byte, *x509.Certificate) {
	t.Helper()
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, chain, err := w.ca.IssueCitizenCert(ctx, ca.CitizenCertRequest{PublicKey: key.Public(), FullName: testpki.CitizenName, CCCD: "038092004567", Province: "Thanh Hóa"})
	if err != nil {
		t.Fatal(err)
	}
	opt := baseOptions()
	opt.Time = time.Now()
	opt.Level = LevelBT
	opt.Certificate = cert
	opt.Chain = chain
	opt.Timestamp = w.timestamp
	var out bytes.Buffer
	if err := Sign(ctx, bytes.NewReader(in), int64(len(in)), &out, FromCryptoSigner(key), opt); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), cert
}

// evidence gathers the chain and TSA certificates, OCSP responses for the signer and the
// TSA from the dev CA's responder, and the issuing CA's and root's CRLs.
func (w *ltvWorld) evidence(t *testing.T, signer *x509.Certificate) Evidence {
	t.Helper()
	ctx := context.Background()
	var ev Evidence
	for _, c := range append(w.ca.Chain(), w.tsaID.Certificate) {
		ev.Certs = append(ev.Certs, c.Raw)
	}
	for _, c := range []*x509.Certificate{signer, w.tsaID.Certificate} {
		req, err := ocsp.CreateRequest(c, w.ca.IssuingCA(), &ocsp.RequestOptions{Hash: crypto.SHA256})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := w.ca.OCSPResponse(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ocsp.ParseResponseForCert(resp, c, w.ca.IssuingCA())
		if err != nil || parsed.Status != ocsp.Good {
			t.Fatalf("OCSP for %s: %v status %d", c.Subject.CommonName, err, parsed.Status)
		}
		ev.OCSPs = append(ev.OCSPs, resp)
		if !containsBytes(ev.Certs, parsed.Certificate.Raw) {
			ev.Certs = append(ev.Certs, parsed.Certificate.Raw) // the delegated responder
		}
	}
	crl, err := w.ca.CRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rootCRL, err := w.ca.RootCRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ev.CRLs = [][]byte{crl, rootCRL}
	return ev
}

func containsBytes(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}

func addDSS(t *testing.T, in []byte, ev Evidence) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := AddDSS(context.Background(), bytes.NewReader(in), int64(len(in)), &out, ev); err != nil {
		t.Fatalf("AddDSS: %v", err)
	}
	if !bytes.HasPrefix(out.Bytes(), in) {
		t.Fatal("AddDSS did not preserve the original bytes")
	}
	return out.Bytes()
}

func addDocTimestamp(t *testing.T, in []byte, tsa TimestampFunc) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := AddDocumentTimestamp(context.Background(), bytes.NewReader(in), int64(len(in)), &out, tsa); err != nil {
		t.Fatalf("AddDocumentTimestamp: %v", err)
	}
	if !bytes.HasPrefix(out.Bytes(), in) {
		t.Fatal("AddDocumentTimestamp did not preserve the original bytes")
	}
	return out.Bytes()
}

// qpdfCheck runs qpdf --check, which fails on errors and (exit 3) on warnings.
func qpdfCheck(t *testing.T, pdfBytes []byte) {
	t.Helper()
	testpki.Need(t, "qpdf")
	f := filepath.Join(t.TempDir(), "check.pdf")
	if err := os.WriteFile(f, pdfBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	testpki.Run(t, "qpdf", "--check", f)
}

// readDSS opens the last revision and returns the decoded streams of /DSS /Certs,
// /OCSPs and /CRLs.
func readDSS(t *testing.T, b []byte) Evidence {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	dss := r.Trailer().Key("Root").Key("DSS")
	if dss.Kind() != pdf.Dict {
		t.Fatalf("no /DSS dictionary: %v", dss)
	}
	get := func(k string) [][]byte {
		var out [][]byte
		a := dss.Key(k)
		for i := 0; i < a.Len(); i++ {
			s := a.Index(i)
			if s.Kind() != pdf.Stream {
				t.Fatalf("/DSS /%s[%d] is %v, not a stream", k, i, s.Kind())
			}
			data, err := io.ReadAll(s.Reader())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, data)
		}
		return out
	}
	return Evidence{Certs: get("Certs"), OCSPs: get("OCSPs"), CRLs: get("CRLs")}
}

var reStartxref = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)

// TestLongTermLevels takes a B-T signature to B-LT (AddDSS) and B-LTA (a document
// timestamp), for inputs with a cross-reference table and with a cross-reference stream,
// and checks each step with pdfsig, qpdf --check and verify.Verify.
func TestLongTermLevels(t *testing.T) {
	w := newLTVWorld(t)
	base := testpki.MinimalPDF(2)
	for _, variant := range []struct {
		name   string
		stream bool
		pdf    func(t *testing.T) []byte
	}{
		{"classic-xref", false, func(*testing.T) []byte { return base }},
		{"object-streams", true, func(t *testing.T) []byte { return testpki.QPDF(t, base, "--object-streams=generate") }},
	} {
		t.Run(variant.name, func(t *testing.T) {
			signed, cert := w.signBT(t, variant.pdf(t))
			ev := w.evidence(t, cert)

			lt := addDSS(t, signed, ev)
			keep(t, "ltv-"+variant.name+"-B-LT", lt)
			t.Logf("%s: DSS added %d bytes (%d certs, %d OCSP responses, %d CRLs)", variant.name, len(lt)-len(signed), len(ev.Certs), len(ev.OCSPs), len(ev.CRLs))
			checkXrefKind(t, lt, variant.stream)
			qpdfCheck(t, lt)
			got := readDSS(t, lt)
			if len(got.Certs) != len(ev.Certs) || len(got.OCSPs) != len(ev.OCSPs) || len(got.CRLs) != len(ev.CRLs) {
				t.Fatalf("DSS holds %d/%d/%d items, want %d/%d/%d", len(got.Certs), len(got.OCSPs), len(got.CRLs), len(ev.Certs), len(ev.OCSPs), len(ev.CRLs))
			}
			for i := range ev.Certs {
				if !bytes.Equal(got.Certs[i], ev.Certs[i]) {
					t.Fatalf("DSS certificate %d differs", i)
				}
			}
			out, sigs := testpki.Pdfsig(t, w.db, lt)
			if len(sigs) != 1 || !sigs[0].Valid || !sigs[0].Trusted || sigs[0].Total {
				t.Fatalf("B-LT: want one valid, trusted signature not covering the DSS update:\n%s", out)
			}
			checkVerify(t, w, lt, 1)

			lta := addDocTimestamp(t, lt, w.timestamp)
			keep(t, "ltv-"+variant.name+"-B-LTA", lta)
			t.Logf("%s: document timestamp added %d bytes", variant.name, len(lta)-len(lt))
			checkXrefKind(t, lta, variant.stream)
			qpdfCheck(t, lta)
			out, sigs = testpki.Pdfsig(t, w.db, lta)
			if testing.Verbose() {
				t.Logf("pdfsig B-LTA:\n%s", out)
			}
			if len(sigs) != 2 {
				t.Fatalf("B-LTA: pdfsig found %d signatures:\n%s", len(sigs), out)
			}
			if s := sigs[0]; !s.Valid || !s.Trusted || s.Total {
				t.Fatalf("B-LTA: first signature valid=%v trusted=%v total=%v:\n%s", s.Valid, s.Trusted, s.Total, out)
			}
			// pdfsig (poppler 22.12) lists a document timestamp but cannot validate
			// ETSI.RFC3161 ("Unable to validate this type of signature"); when a later
			// poppler does, it must say valid and trusted. The token is checked below and
			// by verify.Verify.
			if s := sigs[1]; !s.Total || s.CN != w.tsaID.Certificate.Subject.CommonName ||
				(s.Valid != s.Trusted) || (!s.Valid && !strings.Contains(out, "Unable to validate this type of signature")) {
				t.Fatalf("B-LTA: document timestamp valid=%v trusted=%v total=%v cn=%q:\n%s", s.Valid, s.Trusted, s.Total, s.CN, out)
			}
			checkDocTimestampToken(t, w, lta)
			rep := checkVerify(t, w, lta, 2)
			ts := rep.Signatures[1]
			if ts.Type != "document_timestamp" || ts.Indication != verify.TotalPassed || ts.Changes != nil {
				t.Fatalf("verify: document timestamp %+v", ts)
			}

			// Extending the DSS later: only what is new is added, the rest is kept.
			again := addDSS(t, lta, Evidence{CRLs: ev.CRLs[:1], Certs: [][]byte{cert.Raw}})
			qpdfCheck(t, again)
			got = readDSS(t, again)
			if len(got.Certs) != len(ev.Certs)+1 || len(got.CRLs) != len(ev.CRLs) || len(got.OCSPs) != len(ev.OCSPs) {
				t.Fatalf("extended DSS holds %d/%d/%d items", len(got.Certs), len(got.OCSPs), len(got.CRLs))
			}
			if _, sigs := testpki.Pdfsig(t, w.db, again); len(sigs) != 2 || !sigs[0].Valid || !sigs[0].Trusted {
				t.Fatal("extending the DSS broke a signature")
			}
			checkVerify(t, w, again, 2)
		})
	}
	if n := w.tsaCalls.Load(); n != 4 {
		t.Fatalf("TSA called %d times, want 2 per variant (signature and document timestamps)", n)
	}
}

// checkDocTimestampToken checks the last signature's /Contents: an RFC 3161 token whose
// signature verifies, over the SHA-256 of its ByteRange, from a TSA certificate that
// chains to the dev CA's root for time stamping.
func checkDocTimestampToken(t *testing.T, w *ltvWorld, b []byte) {
	t.Helper()
	br, der := lastSignature(t, b)
	if br[0] != 0 || br[2]+br[3] != int64(len(b)) {
		t.Fatalf("ByteRange %v does not cover the file of %d bytes", br, len(b))
	}
	h := sha256.New()
	h.Write(b[br[0] : br[0]+br[1]])
	h.Write(b[br[2] : br[2]+br[3]])
	t.Logf("document timestamp token: %d bytes DER in %d bytes of /Contents", len(der), br[2]-br[1])
	ts, err := timestamp.Parse(der)
	if err != nil {
		t.Fatalf("document timestamp token: %v", err)
	}
	if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, h.Sum(nil)) {
		t.Fatal("the document timestamp does not cover its ByteRange")
	}
	if len(ts.Certificates) == 0 {
		t.Fatal("the token carries no TSA certificate")
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(w.ca.Root())
	inter.AddCert(w.ca.IssuingCA())
	if _, err := ts.Certificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: ts.Time,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err != nil {
		t.Fatalf("TSA certificate: %v", err)
	}
	if !bytes.Contains(b[br[0]+br[1]-400:br[0]+br[1]], []byte("/Type /DocTimeStamp")) ||
		!bytes.Contains(b[br[0]+br[1]-400:br[0]+br[1]], []byte("/SubFilter /ETSI.RFC3161")) {
		t.Fatal("the signature dictionary is not a /DocTimeStamp with /SubFilter /ETSI.RFC3161")
	}
}

// checkXrefKind checks that the last cross-reference section is a table or a stream as
// the input's was, and that its trailer has /Prev.
func checkXrefKind(t *testing.T, b []byte, stream bool) {
	t.Helper()
	m := reStartxref.FindSubmatch(b)
	if m == nil {
		t.Fatal("no startxref at the end")
	}
	var off int
	for _, c := range m[1] {
		off = off*10 + int(c-'0')
	}
	tail := b[off:]
	isTable := bytes.HasPrefix(tail, []byte("xref"))
	if isTable == stream {
		t.Fatalf("last cross-reference section: table=%v, want stream=%v", isTable, stream)
	}
	if !regexp.MustCompile(`/Prev \d+`).Match(tail) {
		t.Fatal("no /Prev in the last trailer")
	}
}

// checkVerify runs verify.Verify trusting the dev CA: every signature passes and the
// first one's later changes are classified as signatures only.
func checkVerify(t *testing.T, w *ltvWorld, b []byte, want int) verify.Report {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(w.ca.Root())
	rep, err := verify.Verify(context.Background(), bytes.NewReader(b), int64(len(b)), verify.Options{Roots: pool})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if len(rep.Signatures) != want {
		t.Fatalf("verify found %d signatures, want %d", len(rep.Signatures), want)
	}
	first := rep.Signatures[0]
	if first.Indication != verify.TotalPassed {
		t.Fatalf("verify: first signature %s/%s: %v", first.Indication, first.SubIndication, first.Errors)
	}
	if first.Changes == nil {
		t.Fatal("verify: no changes reported after the first signature")
	}
	t.Logf("verify: first signature %s level %s, changes after signing: %s (%d later revisions, %d objects)",
		first.Indication, first.Level, first.Changes.Classification, first.Changes.LaterRevisions, len(first.Changes.Objects))
	if testing.Verbose() || first.Changes.Classification != verify.ChangesSignatures {
		for _, o := range first.Changes.Objects {
			t.Logf("  %s %s type=%s category=%s keys=%v", o.Object, o.Change, o.Type, o.Category, o.Keys)
		}
	}
	if first.Changes.Classification != verify.ChangesSignatures {
		t.Errorf("verify classifies the DSS/timestamp updates as %q", first.Changes.Classification)
	}
	return rep
}

func TestAddDSSRejects(t *testing.T) {
	in := testpki.MinimalPDF(1)
	ctx := context.Background()
	for name, ev := range map[string]Evidence{
		"empty":    {},
		"bad cert": {Certs: [][]byte{{0x30, 0x03, 0x02, 0x01, 0x01}}},
		"bad ocsp": {OCSPs: [][]byte{[]byte("not ocsp")}},
		"bad crl":  {CRLs: [][]byte{[]byte("not a crl")}},
	} {
		var out bytes.Buffer
		if err := AddDSS(ctx, bytes.NewReader(in), int64(len(in)), &out, ev); !errors.Is(err, ErrBadOptions) || out.Len() != 0 {
			t.Errorf("%s: err=%v, %d bytes written", name, err, out.Len())
		}
	}
	var out bytes.Buffer
	ev := Evidence{Certs: [][]byte{testpki.NewCA(t).Root.Raw}}
	if err := AddDSS(ctx, bytes.NewReader([]byte("%PDF-1.4\nnot really")), 19, &out, ev); !errors.Is(err, ErrInvalidPDF) || out.Len() != 0 {
		t.Errorf("broken PDF: err=%v", err)
	}
	// Adding the same evidence twice is refused rather than writing an empty update.
	once := addDSS(t, in, ev)
	if err := AddDSS(ctx, bytes.NewReader(once), int64(len(once)), &out, ev); !errors.Is(err, ErrBadOptions) || out.Len() != 0 {
		t.Errorf("duplicate evidence: err=%v", err)
	}
}

func TestAddDocumentTimestampTSAFailure(t *testing.T) {
	in := testpki.MinimalPDF(1)
	var out bytes.Buffer
	var calls atomic.Int32
	fail := func(context.Context, []byte, crypto.Hash) ([]byte, error) {
		calls.Add(1)
		return nil, errors.New("TSA down")
	}
	if err := AddDocumentTimestamp(context.Background(), bytes.NewReader(in), int64(len(in)), &out, fail); !errors.Is(err, ErrTimestamp) || out.Len() != 0 || calls.Load() != 1 {
		t.Fatalf("err=%v, %d bytes written, %d calls", err, out.Len(), calls.Load())
	}
	// A token over another digest is refused.
	ca := testpki.NewCA(t)
	wrong := func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
		d := bytes.Clone(digest)
		d[0] ^= 1
		return ca.Timestamper(nil)(ctx, d, h)
	}
	if err := AddDocumentTimestamp(context.Background(), bytes.NewReader(in), int64(len(in)), &out, wrong); !errors.Is(err, ErrTimestamp) || out.Len() != 0 {
		t.Fatalf("wrong digest: err=%v", err)
	}
	if err := AddDocumentTimestamp(context.Background(), bytes.NewReader(in), int64(len(in)), &out, ca.PaddedTimestamper(docTimestampReserve)); err == nil || out.Len() != 0 {
		t.Fatalf("oversized token: err=%v", err)
	} else {
		var oe *ContentsOverflowError
		if !errors.As(err, &oe) {
			t.Fatalf("oversized token: err=%v", err)
		}
	}
}

// TestLTVHostileInput: on the inputs pdfguard rejects, AddDSS and AddDocumentTimestamp
// return ErrInvalidPDF without calling the TSA or writing output; their well-formed
// counterparts are extended.
func TestLTVHostileInput(t *testing.T) {
	ca := testpki.NewCA(t)
	ev := Evidence{Certs: [][]byte{ca.Root.Raw}}
	var calls atomic.Int32
	tsa := ca.Timestamper(&calls)
	run := func(t *testing.T, in []byte) (dssErr, tsErr error, written int) {
		var out bytes.Buffer
		done := make(chan struct{})
		go func() {
			defer close(done)
			dssErr = AddDSS(context.Background(), bytes.NewReader(in), int64(len(in)), &out, ev)
			written += out.Len()
			out.Reset()
			tsErr = AddDocumentTimestamp(context.Background(), bytes.NewReader(in), int64(len(in)), &out, tsa)
			written += out.Len()
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("did not return within 10s")
		}
		return dssErr, tsErr, written
	}
	for _, tc := range pdfguardtest.Hostile() {
		t.Run(tc.Name, func(t *testing.T) {
			calls.Store(0)
			dssErr, tsErr, n := run(t, tc.PDF)
			if !errors.Is(dssErr, ErrInvalidPDF) || !errors.Is(tsErr, ErrInvalidPDF) || n != 0 || calls.Load() != 0 {
				t.Fatalf("AddDSS: %v; AddDocumentTimestamp: %v; %d bytes written, %d TSA calls", dssErr, tsErr, n, calls.Load())
			}
		})
	}
	for _, tc := range pdfguardtest.Valid() {
		t.Run("valid "+tc.Name, func(t *testing.T) {
			if dssErr, tsErr, _ := run(t, tc.PDF); dssErr != nil || tsErr != nil {
				t.Fatalf("AddDSS: %v; AddDocumentTimestamp: %v", dssErr, tsErr)
			}
		})
	}
}
