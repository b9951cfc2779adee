package verify

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/motlan/motlan/signing/internal/pdfguard/pdfguardtest"
)

// TestVerifyHostileInput: on the inputs the PDF reader hangs, spins, recurses or
// allocates without bound on, Verify returns ErrInvalidPDF. The 10 s limit is only a
// safety net against a regression hanging the test binary, not a timing assertion.
func TestVerifyHostileInput(t *testing.T) {
	for _, tc := range pdfguardtest.Hostile() {
		t.Run(tc.Name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := Verify(context.Background(), bytes.NewReader(tc.PDF), int64(len(tc.PDF)), Options{})
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrInvalidPDF) {
					t.Fatalf("got %v, want ErrInvalidPDF", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Verify did not return within 10s")
			}
		})
	}
	for _, tc := range pdfguardtest.Valid() {
		t.Run("valid "+tc.Name, func(t *testing.T) {
			rep, err := Verify(context.Background(), bytes.NewReader(tc.PDF), int64(len(tc.PDF)), Options{})
			if err != nil || len(rep.Signatures) != 0 {
				t.Fatalf("got %v, %d signatures", err, len(rep.Signatures))
			}
		})
	}
}
