package pades

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/signing/internal/pdfguard/pdfguardtest"
)

// TestSignHostileInput: on the inputs the PDF reader hangs, spins, recurses or
// allocates without bound on, Sign returns ErrInvalidPDF without calling the signer or
// writing output. The 10 s limit is only a safety net against a regression hanging the
// test binary, not a timing assertion.
func TestSignHostileInput(t *testing.T) {
	ca := testpki.NewCA(t)
	cert, key := ca.Citizen(t, "rsa")
	for _, tc := range pdfguardtest.Hostile() {
		t.Run(tc.Name, func(t *testing.T) {
			cs := &countingSigner{Signer: FromCryptoSigner(key)}
			opt := baseOptions()
			opt.Certificate = cert
			var out bytes.Buffer
			done := make(chan error, 1)
			go func() {
				done <- Sign(context.Background(), bytes.NewReader(tc.PDF), int64(len(tc.PDF)), &out, cs, opt)
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Sign did not return within 10s")
			}
			if !errors.Is(err, ErrInvalidPDF) {
				t.Fatalf("got %v, want ErrInvalidPDF", err)
			}
			if cs.calls.Load() != 0 || out.Len() != 0 {
				t.Fatalf("signer called %d times, %d bytes written", cs.calls.Load(), out.Len())
			}
		})
	}
	// The same shapes' well-formed counterparts sign.
	for _, tc := range pdfguardtest.Valid() {
		t.Run("valid "+tc.Name, func(t *testing.T) {
			opt := baseOptions()
			opt.Certificate = cert
			var out bytes.Buffer
			if err := Sign(context.Background(), bytes.NewReader(tc.PDF), int64(len(tc.PDF)), &out, FromCryptoSigner(key), opt); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(out.Bytes(), tc.PDF) {
				t.Fatal("output does not start with the input")
			}
		})
	}
}
