package pdfguard_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/pdf"
	"github.com/motlan/motlan/internal/testpdf"

	"github.com/motlan/motlan/signing/internal/pdfguard"
	"github.com/motlan/motlan/signing/internal/pdfguard/pdfguardtest"
)

// safetyNet only keeps a regression from hanging the test binary; it is not a timing
// assertion.
const safetyNet = 10 * time.Second

// openAsync runs Open in a goroutine and fails the test if it has not returned within
// the safety net.
func openAsync(t *testing.T, in []byte) (*pdf.Reader, error) {
	t.Helper()
	type result struct {
		r   *pdf.Reader
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := pdfguard.Open(bytes.NewReader(in), int64(len(in)), pdfguard.Limits{})
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		return res.r, res.err
	case <-time.After(safetyNet):
		t.Fatalf("Open did not return within %v", safetyNet)
		return nil, nil
	}
}

func TestOpenRejectsHostile(t *testing.T) {
	for _, tc := range pdfguardtest.Hostile() {
		t.Run(tc.Name, func(t *testing.T) {
			r, err := openAsync(t, tc.PDF)
			if err == nil && tc.ReaderEnds() {
				if catalogResolves(t, r) {
					t.Fatal("Open accepted it and the catalog resolved")
				}
				return
			}
			if err == nil {
				t.Fatalf("Open accepted it (reader %v)", r != nil)
			}
			if !errors.Is(err, pdfguard.ErrInvalid) || errors.Is(err, pdfguard.ErrEncrypted) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			var ge *pdfguard.Error
			if !errors.As(err, &ge) || ge.Reason == "" {
				t.Fatalf("error %v is not an *Error with a reason", err)
			}
		})
	}
}

func TestOpenValid(t *testing.T) {
	for _, tc := range pdfguardtest.Valid() {
		t.Run(tc.Name, func(t *testing.T) {
			r, err := openAsync(t, tc.PDF)
			if err != nil {
				t.Fatal(err)
			}
			box := r.Trailer().Key("Root").Key("Pages").Key("Kids").Index(0).Key("MediaBox")
			if box.Len() != 4 || box.Index(2).Int64() != 595 {
				t.Fatalf("MediaBox %v", box)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	valid := pdfguardtest.Valid()[0].PDF
	tests := []struct {
		name string
		in   []byte
		lim  pdfguard.Limits
		want error
	}{
		{"empty", nil, pdfguard.Limits{}, pdfguard.ErrInvalid},
		{"not a PDF", []byte("<html>hello</html>\n<!-- %%EOF -->"), pdfguard.Limits{}, pdfguard.ErrInvalid},
		{"truncated", valid[:len(valid)/2], pdfguard.Limits{}, pdfguard.ErrInvalid},
		{"no %%EOF near the end", append(bytes.Clone(valid), bytes.Repeat([]byte(" "), 4096)...), pdfguard.Limits{}, pdfguard.ErrInvalid},
		{"too large", valid, pdfguard.Limits{MaxSize: 100}, pdfguard.ErrInvalid},
		{"encrypted", pdfguardtest.Classic([]string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>", "<< /Filter /Standard /V 1 /R 2 /O <00> /U <00> /P -4 >>"}, " /Encrypt 3 0 R /ID [<00> <00>]"), pdfguard.Limits{}, pdfguard.ErrEncrypted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pdfguard.Open(bytes.NewReader(tt.in), int64(len(tt.in)), tt.lim)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestOpenRevision(t *testing.T) {
	first := pdfguardtest.Valid()[0].PDF
	// Bytes appended after the first revision, an unclosed array among them: Check
	// reads only the header (the reader refuses such an array where it parses it), and
	// the first revision opens on its own.
	data := append(bytes.Clone(first), []byte("4 0 obj\n[1 2\nendobj\n")...)
	if err := pdfguard.Check(data); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := pdfguard.Check([]byte("<html>not a PDF at all</html>")); !errors.Is(err, pdfguard.ErrInvalid) {
		t.Fatalf("Check of a non-PDF: %v", err)
	}
	if _, err := pdfguard.OpenRevision(data, len(first), pdfguard.Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pdfguard.OpenRevision(data, len(data)+1, pdfguard.Limits{}); !errors.Is(err, pdfguard.ErrInvalid) {
		t.Fatalf("end out of range: %v", err)
	}
}

func TestObjStmDecodedLimit(t *testing.T) {
	in := pdfguardtest.Valid()[1].PDF
	if _, err := pdfguard.Open(bytes.NewReader(in), int64(len(in)), pdfguard.Limits{MaxObjStmDecoded: 8}); !errors.Is(err, pdfguard.ErrInvalid) {
		t.Fatalf("got %v", err)
	}
}

func TestTranslate(t *testing.T) {
	invalid, encrypted := errors.New("x: invalid PDF"), errors.New("x: encrypted PDF")
	_, err := pdfguard.Open(bytes.NewReader([]byte("nope")), 4, pdfguard.Limits{})
	got := pdfguard.Translate(err, invalid, encrypted)
	if !errors.Is(got, invalid) || errors.Is(got, pdfguard.ErrInvalid) || got.Error() != "x: invalid PDF: no %PDF- header" {
		t.Fatalf("got %v", got)
	}
	if got := pdfguard.Translate(&pdfguard.Error{Encrypted: true}, invalid, encrypted); got != encrypted {
		t.Fatalf("got %v", got)
	}
	other := fmt.Errorf("other")
	if got := pdfguard.Translate(other, invalid, encrypted); got != other {
		t.Fatalf("got %v", got)
	}
	if pdfguard.Translate(nil, invalid, encrypted) != nil {
		t.Fatal("nil")
	}
}

// FuzzOpen: Open returns, with a reader or an *Error, never a panic or a hang; what it
// opens can be walked.
func FuzzOpen(f *testing.F) {
	for _, c := range pdfguardtest.Valid() {
		f.Add(c.PDF)
	}
	for _, c := range pdfguardtest.Hostile() {
		if len(c.PDF) < 16<<10 {
			f.Add(c.PDF)
		}
	}
	f.Add([]byte("%PDF-1.7\n%%EOF"))
	// Real producers' files and qpdf's encrypted variants (RC4-era and AES key
	// derivation, per-object decryption) as seeds.
	gs := testpdf.Producers(f)[3]
	f.Add(gs.Data)
	for _, v := range testpdf.Variants(f, gs) {
		f.Add(v.Data)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 256<<10 {
			return
		}
		r, err := pdfguard.Open(bytes.NewReader(in), int64(len(in)), pdfguard.Limits{})
		if err != nil {
			var ge *pdfguard.Error
			if !errors.As(err, &ge) {
				t.Fatalf("error %v is not an *Error", err)
			}
			return
		}
		walk(r)
	})
}

// walk resolves what a caller would: the catalog, the page tree (bounded), every
// object in the cross-reference table. The reader's panics are expected and recovered.
func walk(r *pdf.Reader) {
	func() {
		defer func() { recover() }()
		kids := r.Trailer().Key("Root").Key("Pages").Key("Kids")
		for i := 0; i < kids.Len() && i < 64; i++ {
			_ = kids.Index(i).Key("MediaBox").Len()
		}
	}()
	for i := range r.Xref() {
		if i > 4096 {
			break
		}
		func() {
			defer func() { recover() }()
			v := r.Resolve(r.Xref()[i].Ptr(), r.Xref()[i].Ptr())
			_ = v.Keys()
		}()
	}
}

// catalogResolves resolves the catalog within the safety net; false when the reader
// panicked (as it must on a hostile input it ends by itself).
func catalogResolves(t *testing.T, r *pdf.Reader) bool {
	t.Helper()
	done := make(chan bool, 1)
	go func() {
		defer func() {
			if recover() != nil {
				done <- false
			}
		}()
		done <- r.Trailer().Key("Root").Key("Pages").Kind() == pdf.Dict
	}()
	select {
	case ok := <-done:
		return ok
	case <-time.After(safetyNet):
		t.Fatalf("resolving the catalog did not end within %v", safetyNet)
		return false
	}
}
