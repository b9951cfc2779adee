package signing_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/keys/tsa"
	"github.com/motlan/motlan/signing"
	"github.com/motlan/motlan/signing/ltv"
	"github.com/motlan/motlan/signing/pades"
	"github.com/motlan/motlan/signing/verify"
)

// withLTV replaces the world's service by one that also extends to B-LT and B-LTA.
func (w *world) withLTV(archive bool) {
	w.t.Helper()
	stamp := func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
		return tsa.Request(ctx, nil, w.tsaURL, digest, h)
	}
	// The test CA listens on loopback.
	cfg := ltv.Config{Roots: []*x509.Certificate{w.devCA.Root()}, AllowPrivateNetworks: true}
	if archive {
		cfg.Timestamp = stamp
	}
	ext, err := ltv.New(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	s, err := signing.NewService(signing.ServiceConfig{
		Store: w.store, Vault: w.vault, CA: w.ca, Citizens: citizens{}, Timestamp: stamp, LTV: ext,
		Font: w.font, CallbackSecret: func(string) []byte { return w.secret }, CallbackBackoff: 10 * time.Millisecond, Now: w.clock.Now,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { s.Close() })
	w.service = s
}

// checkSigned checks pdf with pdfsig and verify.Verify: the citizen's signature valid and
// trusted, then wantTS document timestamps; a /DSS with OCSP responses when wantDSS.
func checkSigned(t *testing.T, w *world, db string, pdf []byte, wantTS int) {
	t.Helper()
	out, sigs := testpki.Pdfsig(t, db, pdf)
	if len(sigs) != 1+wantTS {
		t.Fatalf("pdfsig lists %d signatures, want %d:\n%s", len(sigs), 1+wantTS, out)
	}
	if s := sigs[0]; !s.Valid || !s.Trusted || !s.CAdES || s.CN != citizenName {
		t.Fatalf("pdfsig: valid=%v trusted=%v cades=%v cn=%q\n%s", s.Valid, s.Trusted, s.CAdES, s.CN, out)
	}
	roots := x509.NewCertPool()
	roots.AddCert(w.devCA.Root())
	rep, err := verify.Verify(context.Background(), bytes.NewReader(pdf), int64(len(pdf)), verify.Options{Roots: roots})
	if err != nil || len(rep.Signatures) != 1+wantTS {
		t.Fatalf("verify: %v, %d signatures", err, len(rep.Signatures))
	}
	for i, s := range rep.Signatures {
		if s.Indication != verify.TotalPassed {
			t.Fatalf("verify: signature %d (%s): %s/%s %v", i, s.Type, s.Indication, s.SubIndication, s.Errors)
		}
	}
	if !bytes.Contains(pdf, []byte("/DSS")) || !bytes.Contains(pdf, []byte("/OCSPs")) {
		t.Fatal("no /DSS with OCSP responses")
	}
}

// TestLongTermLevels signs requests at B-LT and B-LTA: the service applies the level after
// signing; a level that cannot be produced is refused at creation.
func TestLongTermLevels(t *testing.T) {
	w := newWorld(t)
	w.withLTV(true)
	db := testpki.NSSDB(t, w.devCA.Root())
	ctx := context.Background()
	for _, tc := range []struct {
		level  signing.Level
		wantTS int
	}{{signing.LevelBLT, 0}, {signing.LevelBLTA, 1}} {
		t.Run(string(tc.level), func(t *testing.T) {
			r := w.create(1, func(in *signing.CreateInput) { in.Level = tc.level })
			if r.Level != tc.level {
				t.Fatalf("created at %q", r.Level)
			}
			done, err := w.service.Approve(ctx, r.ID, citizenID, subjectFor, hashes(r))
			if err != nil || done.Status != signing.StatusSigned {
				t.Fatalf("approve: %v %s (%s)", err, done.Status, done.Failure)
			}
			pdf, err := w.service.SignedPDF(ctx, clientID, r.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			checkSigned(t, w, db, pdf, tc.wantTS)
		})
	}

	// Without an archive timestamp authority B-LTA is refused; without LTV both are.
	w.withLTV(false)
	_, err := w.service.Create(ctx, signing.CreateInput{ClientID: clientID, Subject: subject, Level: signing.LevelBLTA,
		Documents: []signing.DocumentInput{{PDF: minimalPDF(1)}}})
	var ie *signing.InputError
	if !errors.As(err, &ie) || ie.Code != signing.CodeUnsupportedLevel {
		t.Fatalf("B-LTA without archive TSA: %v", err)
	}
	plain := w.newService(w.vault)
	for _, level := range []signing.Level{signing.LevelBLT, signing.LevelBLTA} {
		_, err := plain.Create(ctx, signing.CreateInput{ClientID: clientID, Subject: subject, Level: level,
			Documents: []signing.DocumentInput{{PDF: minimalPDF(1)}}})
		if !errors.As(err, &ie) || ie.Code != signing.CodeUnsupportedLevel {
			t.Fatalf("%s without LTV: %v", level, err)
		}
	}
	_, err = plain.Create(ctx, signing.CreateInput{ClientID: clientID, Subject: subject, Level: "B-LTX",
		Documents: []signing.DocumentInput{{PDF: minimalPDF(1)}}})
	if !errors.As(err, &ie) || ie.Code != signing.CodeInvalid {
		t.Fatalf("unknown level: %v", err)
	}
}

// TestExtendService extends a B-T signature made by the service to B-LTA, and refuses
// bad input with the input error codes the API turns into problems.
func TestExtendService(t *testing.T) {
	w := newWorld(t)
	db := testpki.NSSDB(t, w.devCA.Root())
	ctx := context.Background()
	r := w.create(1, nil)
	if _, err := w.service.Approve(ctx, r.ID, citizenID, subjectFor, hashes(r)); err != nil {
		t.Fatal(err)
	}
	bt, err := w.service.SignedPDF(ctx, clientID, r.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.service.Extend(ctx, bt, signing.LevelBLTA); !isCode(err, signing.CodeUnsupportedLevel) {
		t.Fatalf("Extend without LTV: %v", err)
	}
	w.withLTV(true)
	lta, err := w.service.Extend(ctx, bt, signing.LevelBLTA)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(lta, bt) {
		t.Fatal("Extend rewrote the signed bytes")
	}
	checkSigned(t, w, db, lta, 1)

	for _, tc := range []struct {
		name  string
		pdf   []byte
		level signing.Level
		code  string
	}{
		{"not a PDF", []byte("just text"), signing.LevelBLT, signing.CodeNotPDF},
		{"damaged", bt[:len(bt)/3], signing.LevelBLT, signing.CodeDamaged},
		{"unsigned", minimalPDF(1), signing.LevelBLT, signing.CodeNotSigned},
		{"unknown level", bt, "B-X", signing.CodeInvalid},
		{"B-T is not an extension", bt, signing.LevelBT, signing.CodeInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out, err := w.service.Extend(ctx, tc.pdf, tc.level); !isCode(err, tc.code) || out != nil {
				t.Fatalf("Extend: %v, want code %s", err, tc.code)
			}
		})
	}
}

func isCode(err error, code string) bool {
	var ie *signing.InputError
	return errors.As(err, &ie) && ie.Code == code
}

// TestLongTermUnreachableEarlierSigner: a dossier that already carries a clerk's
// signature whose CA cannot be reached signs at B-LTA at the first attempt; the
// request records the clerk's missing evidence and the citizen's signature is B-LTA.
func TestLongTermUnreachableEarlierSigner(t *testing.T) {
	w := newWorld(t)
	w.withLTV(true)
	ctx := context.Background()
	other := testpki.NewCAWith(t, testpki.Config{RootName: "Sở Tư pháp Test CA"})
	base := testpki.ClosedURL(t)
	cert, key := other.UnreachableCitizen(t, "Trịnh Thị Ngọc Ánh", "CCCD:038178003321", base)
	in := minimalPDF(1)
	var dossier bytes.Buffer
	if err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), &dossier, pades.FromCryptoSigner(key),
		pades.Options{Certificate: cert, Chain: []*x509.Certificate{other.Root}, Reason: "Cán bộ tiếp nhận"}); err != nil {
		t.Fatal(err)
	}
	r := w.create(1, func(in *signing.CreateInput) {
		in.Level = signing.LevelBLTA
		in.Documents[0].PDF = dossier.Bytes()
	})
	done, err := w.service.Approve(ctx, r.ID, citizenID, subjectFor, hashes(r))
	if err != nil || done.Status != signing.StatusSigned {
		t.Fatalf("approve: %v %s (%s)", err, done.Status, done.Failure)
	}
	gaps := done.Documents[0].EvidenceGaps
	if len(gaps) == 0 || gaps[0].Field != "Signature1" || !strings.HasPrefix(gaps[0].URL, base) {
		t.Fatalf("evidence gaps %+v, want the clerk's Signature1 at %s", gaps, base)
	}
	pdf, err := w.service.SignedPDF(ctx, clientID, r.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(w.devCA.Root())
	rep, err := verify.Verify(ctx, bytes.NewReader(pdf), int64(len(pdf)), verify.Options{Roots: roots})
	if err != nil || len(rep.Signatures) != 3 {
		t.Fatalf("verify: %v, %d signatures", err, len(rep.Signatures))
	}
	if s := rep.Signatures[1]; s.Indication != verify.TotalPassed || s.Level != "B-LTA" || s.Signer == nil || s.Signer.Name != citizenName {
		t.Fatalf("the citizen's signature: %s/%s level %s %v", s.Indication, s.SubIndication, s.Level, s.LevelReasons)
	}
}
