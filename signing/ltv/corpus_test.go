package ltv

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/motlan/motlan/internal/pdf"
	"github.com/motlan/motlan/internal/testpdf"
	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/signing/pades"
	"github.com/motlan/motlan/signing/verify"
)

// corpus is every real PDF the signer must handle: each producer's file, qpdf variants
// of one of them, an incremental update (a clerk's earlier signature) and a qpdf join
// over 10 MB.
func corpus(t *testing.T, w *world) []testpdf.Sample {
	t.Helper()
	samples := testpdf.Producers(t)
	samples = append(samples, testpdf.Variants(t, samples[2])...)
	clerk := w.newCitizen(t)
	samples = append(samples,
		testpdf.Sample{Name: "incremental (a clerk's signature)", Data: w.sign(t, clerk, samples[1].Data, pades.LevelBT)},
		testpdf.Sample{Name: "large (qpdf join over 10 MB)", Data: testpdf.Large(t, samples[0].Data, 10<<20)})
	return samples
}

// TestCorpus signs every corpus PDF at B-T and extends it to B-LTA, or expects a clear
// refusal, and checks each result with qpdf --check, pdfsig and verify.Verify (what
// `motlan verify` runs).
func TestCorpus(t *testing.T) {
	w := newWorld(t)
	db := testpki.NSSDB(t, w.ca.Root())
	e := w.extender(t)
	c := w.newCitizen(t)
	for _, s := range corpus(t, w) {
		t.Run(s.Name, func(t *testing.T) {
			testpdf.Check(t, s.Data, map[bool]string{true: "user-secret"}[s.Locked])
			before := 0
			if rep, err := verify.Verify(context.Background(), bytes.NewReader(s.Data), int64(len(s.Data)), verify.Options{}); err == nil {
				before = len(rep.Signatures)
			}
			opt := pades.Options{Certificate: c.cert, Chain: c.chain, Reason: "Đăng ký thường trú", Level: pades.LevelBT, Timestamp: w.timestamp}
			var out bytes.Buffer
			err := pades.Sign(context.Background(), bytes.NewReader(s.Data), int64(len(s.Data)), &out, pades.FromCryptoSigner(c.key), opt)
			if s.Locked {
				if !errors.Is(err, pades.ErrPasswordRequired) {
					t.Fatalf("a PDF that needs a password: %v, want ErrPasswordRequired", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sign (%s, %d bytes): %v", s.Producer, len(s.Data), err)
			}
			bt := out.Bytes()
			testpdf.Check(t, bt, "")
			if s.OwnerOnly {
				checkSealed(t, bt, opt.Reason)
			}
			checkCorpusLevel(t, w, db, bt, before, "B-T")

			lta, err := e.Extend(context.Background(), bt, LevelLTA)
			if err != nil {
				t.Fatalf("Extend to B-LTA: %v", err)
			}
			testpdf.Check(t, lta, "")
			checkCorpusLevel(t, w, db, lta, before, "B-LTA")
		})
	}
}

// checkSealed decrypts the signed owner-password-only file with qpdf and reads back the
// signature's strings: the update was encrypted with the document's key, or qpdf would
// turn them into garbage.
func checkSealed(t *testing.T, signed []byte, reason string) {
	t.Helper()
	if !bytes.Contains(signed[bytes.LastIndex(signed, []byte("startxref"))-400:], []byte("/Encrypt")) {
		t.Fatal("the update's trailer has no /Encrypt")
	}
	clear := testpdf.QPDF(t, signed, "--decrypt")
	r, err := pdf.NewReader(bytes.NewReader(clear), int64(len(clear)))
	if err != nil {
		t.Fatal(err)
	}
	fields := r.Trailer().Key("Root").Key("AcroForm").Key("Fields")
	last := fields.Index(fields.Len() - 1)
	if got := last.Key("V").Key("Reason").Text(); got != reason || !strings.HasPrefix(last.Key("T").Text(), "Signature") {
		t.Fatalf("after qpdf --decrypt: field %q reason %q, want %q", last.Key("T").Text(), got, reason)
	}
}
