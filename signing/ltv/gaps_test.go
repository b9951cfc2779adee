package ltv

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/motlan/motlan/internal/testpdf"
	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/signing/pades"
	"github.com/motlan/motlan/signing/verify"
)

// unreachableSigner is a clerk certified by another CA whose OCSP responder, CRL and
// CA certificate live at an address where nothing listens.
func unreachableSigner(t *testing.T) (citizen, string) {
	t.Helper()
	other := testpki.NewCAWith(t, testpki.Config{RootName: "Sở Tư pháp Test CA"})
	base := testpki.ClosedURL(t)
	cert, key := other.UnreachableCitizen(t, "Trịnh Thị Ngọc Ánh", "CCCD:038178003321", base)
	return citizen{key: key.(*ecdsa.PrivateKey), cert: cert, chain: []*x509.Certificate{other.Root}}, base
}

// TestExtendUnreachableOtherSigner: a dossier that already carries a clerk's signature
// whose CA cannot be reached reaches B-LTA for the citizen's signature, with the clerk's
// missing evidence reported; with every signature's evidence mandatory it fails.
func TestExtendUnreachableOtherSigner(t *testing.T) {
	w := newWorld(t)
	db := testpki.NSSDB(t, w.ca.Root())
	e := w.extender(t)
	clerk, base := unreachableSigner(t)
	me := w.newCitizen(t)
	dossier := w.sign(t, clerk, testpdf.Producers(t)[1].Data, pades.LevelBT)
	signed := w.sign(t, me, dossier, pades.LevelBT)
	ctx := context.Background()

	if _, err := e.Extend(ctx, signed, LevelLTA); !errors.Is(err, ErrFetch) {
		t.Fatalf("Extend with all evidence mandatory: %v, want ErrFetch", err)
	}
	res, err := e.ExtendWith(ctx, signed, LevelLTA, ExtendOptions{Mandatory: me.cert})
	if err != nil {
		t.Fatalf("ExtendWith: %v", err)
	}
	if len(res.Gaps) == 0 {
		t.Fatal("no gap reported for the clerk's unreachable CA")
	}
	for _, g := range res.Gaps {
		if g.Field != "Signature1" || !strings.HasPrefix(g.URL, base) || g.Kind == "" || g.Reason == "" {
			t.Errorf("gap %+v: want the clerk's field Signature1 and a URL under %s", g, base)
		}
	}
	testpdf.Check(t, res.PDF, "")
	checkCorpusLevel(t, w, db, res.PDF, 1, "B-LTA")
	rep, err := verify.Verify(ctx, bytesReader(res.PDF), int64(len(res.PDF)), verify.Options{Roots: testRoots(w)})
	if err != nil {
		t.Fatal(err)
	}
	if clerkSig := rep.Signatures[0]; clerkSig.Indication == verify.TotalPassed && clerkSig.Level == "B-LTA" {
		t.Errorf("the clerk's signature claims B-LTA without its evidence: %+v", clerkSig)
	}
}

// checkCorpusLevel checks the citizen's signature (after the before earlier ones) with
// pdfsig and verify.Verify: valid, trusted, at level.
func checkCorpusLevel(t *testing.T, w *world, db string, pdf []byte, before int, level string) {
	t.Helper()
	out, sigs := testpki.Pdfsig(t, db, pdf)
	if len(sigs) <= before {
		t.Fatalf("pdfsig lists %d signatures, want more than %d:\n%s", len(sigs), before, out)
	}
	for i, s := range sigs[:before] {
		if !s.Valid { // earlier signers' CAs need not be trusted here: their bytes must still match
			t.Fatalf("pdfsig: earlier signature %d is no longer valid:\n%s", i+1, out)
		}
	}
	if s := sigs[before]; !s.Valid || !s.Trusted || !s.CAdES {
		t.Fatalf("pdfsig: the citizen's signature valid=%v trusted=%v cades=%v:\n%s", s.Valid, s.Trusted, s.CAdES, out)
	}
	rep, err := verify.Verify(context.Background(), bytes.NewReader(pdf), int64(len(pdf)), verify.Options{Roots: testRoots(w)})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if len(rep.Signatures) <= before {
		t.Fatalf("verify: %d signatures", len(rep.Signatures))
	}
	s := rep.Signatures[before]
	if s.Indication != verify.TotalPassed || s.Level != level || s.Signer == nil || s.Signer.Name != testpki.CitizenName {
		t.Fatalf("verify: the citizen's signature is %s/%s at %s (%v), signer %+v, errors %v", s.Indication, s.SubIndication, s.Level, s.LevelReasons, s.Signer, s.Errors)
	}
}

func testRoots(w *world) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(w.ca.Root())
	return p
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
