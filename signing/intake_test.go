package signing

import (
	"bytes"
	"context"
	"testing"

	"github.com/motlan/motlan/internal/testpdf"
)

// FuzzIntake feeds arbitrary bytes to Create's PDF check: a page count or an InputError
// with a code, never a panic or an error of ours.
func FuzzIntake(f *testing.F) {
	good := []byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\nxref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000058 00000 n \n0000000115 00000 n \ntrailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n186\n%%EOF\n")
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(bytes.Replace(good, []byte("/Size 4"), []byte("/Size 99999999999"), 1))
	f.Add([]byte("%PDF-1.7\n%%EOF"))
	c, err := newIntakeChecker(1 << 20)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pages, ierr := c.check(context.Background(), b)
		if ierr != nil {
			if ierr.Code == "" {
				t.Fatalf("internal error on input: %s", ierr.Msg)
			}
			return
		}
		if pages < 1 {
			t.Fatalf("accepted with %d pages", pages)
		}
	})
}

// TestIntakeRealPDFs: every producer's file, and a qpdf join of one over 10 MB (its
// startxref offset far past 4 MB), passes intake with qpdf's page count.
func TestIntakeRealPDFs(t *testing.T) {
	c, err := newIntakeChecker(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	samples := testpdf.Producers(t)
	large := testpdf.Large(t, samples[0].Data, 10<<20)
	samples = append(samples, testpdf.Sample{Name: "large", Data: large})
	for _, s := range samples {
		t.Run(s.Name, func(t *testing.T) {
			pages, ierr := c.check(context.Background(), s.Data)
			if ierr != nil {
				t.Fatalf("%d bytes refused: %s %s", len(s.Data), ierr.Code, ierr.Msg)
			}
			if want := testpdf.Pages(t, s.Data); pages != want {
				t.Fatalf("pages %d, qpdf says %d", pages, want)
			}
		})
	}
}
