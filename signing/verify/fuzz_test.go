package verify

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/signing/internal/pdfguard/pdfguardtest"
	"github.com/motlan/motlan/signing/pades"
)

// FuzzVerify feeds arbitrary bytes to Verify, seeded with real signed outputs: a typed
// error or a report, never a panic or a hang.
func FuzzVerify(f *testing.F) {
	ca := newTestCA(f)
	base := testpki.MinimalPDF(1)
	bb := ca.sign(f, base, "rsa", pades.LevelBB, "")
	bt := ca.sign(f, base, "ecdsa", pades.LevelBT, "")
	twice := ca.sign(f, bt, "rsa", pades.LevelBB, "")
	f.Add(base)
	f.Add(bb)
	f.Add(bt)
	f.Add(twice)
	f.Add(appendUpdate(f, bb, map[int]string{6: "<< /Length 0 >>\nstream\n\nendstream"}))
	f.Add([]byte("%PDF-1.7\n%%EOF"))
	f.Add([]byte("%PDF-1.5\n1 0 obj<</Type/XRef/Size 3/W[1 2 1]/Length 0>>stream\n\nendstream\nendobj\nstartxref\n9\n%%EOF\n"))
	for _, c := range append(pdfguardtest.Valid(), pdfguardtest.Hostile()...) {
		if len(c.PDF) < 16<<10 {
			f.Add(c.PDF)
		}
	}
	// Long-term files: a DSS with OCSP responses and a CRL, then a document timestamp,
	// and the hostile DSS variants.
	btCA, cert := ca.signBT(f, base)
	now := time.Now().UTC().Truncate(time.Minute)
	lt := addDSS(f, btCA, pades.Evidence{
		Certs: [][]byte{ca.TSA.Raw},
		OCSPs: [][]byte{ocspDER(f, cert, ca.Root, nil, ca.RootKey, ocsp.Good, time.Time{}, now), ocspDER(f, ca.TSA, ca.Root, nil, ca.RootKey, ocsp.Good, time.Time{}, now)},
		CRLs:  [][]byte{crlDER(f, ca.Root, ca.RootKey, now, now)},
	})
	f.Add(lt)
	var lta bytes.Buffer
	if err := pades.AddDocumentTimestamp(context.Background(), bytes.NewReader(lt), int64(len(lt)), &lta, ca.Timestamper(nil)); err != nil {
		f.Fatal(err)
	}
	f.Add(lta.Bytes())
	for _, h := range hostileDSS(f, ca) {
		if len(h.pdf) < 64<<10 {
			f.Add(h.pdf)
		}
	}
	if _, err := exec.LookPath("qpdf"); err == nil {
		f.Add(ca.sign(f, testpki.QPDF(f, base, "--object-streams=generate"), "rsa", pades.LevelBB, ""))
		f.Add(ca.sign(f, testpki.QPDF(f, base, "--linearize"), "rsa", pades.LevelBB, ""))
	}
	opts := Options{Roots: ca.Pool(), At: time.Now(), MaxSize: 1 << 20}
	valid := map[Indication]bool{TotalPassed: true, TotalFailed: true, Indeterminate: true}
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, err := Verify(context.Background(), bytes.NewReader(in), int64(len(in)), opts)
		if err != nil {
			if !errors.Is(err, ErrInvalidPDF) && !errors.Is(err, ErrEncrypted) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if rep.Signatures == nil {
			t.Fatal("nil Signatures")
		}
		for _, s := range rep.Signatures {
			if !valid[s.Indication] {
				t.Fatalf("indication %q", s.Indication)
			}
			if s.Indication == TotalPassed && (!s.Integrity.DigestMatches || !s.Integrity.SignatureValid || !s.ByteRange.Valid || !s.Chain.Trusted) {
				t.Fatalf("TOTAL_PASSED without the checks: %+v", s)
			}
			for _, cs := range s.Revocation {
				if s.Indication == TotalPassed && cs.Status == StatusRevoked && (cs.Role == "signer" || cs.Role == "signer_ca") {
					t.Fatalf("TOTAL_PASSED with a revoked %s certificate: %+v", cs.Role, s)
				}
			}
		}
	})
}
