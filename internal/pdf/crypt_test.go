package pdf

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/motlan/motlan/internal/testpdf"
)

// firstPage returns the Info /Producer and the decoded content of the first page.
func firstPage(t *testing.T, data []byte) (string, []byte) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	page := r.Trailer().Key("Root").Key("Pages").Key("Kids").Index(0)
	for page.Key("Type").Name() == "Pages" {
		page = page.Key("Kids").Index(0)
	}
	c := page.Key("Contents")
	if c.Kind() == Array {
		c = c.Index(0)
	}
	b, err := io.ReadAll(c.Reader())
	if err != nil {
		t.Fatal(err)
	}
	return r.Trailer().Key("Info").Key("Producer").Text(), b
}

// TestEncrypted reads qpdf's owner-password-only files (RC4 128, AES-128, AES-256) as
// their unencrypted original, and reports a user-password file as ErrPasswordRequired.
func TestEncrypted(t *testing.T) {
	base := testpdf.Producers(t)[2] // LibreOffice: Info strings and Flate content
	wantProducer, wantContent := firstPage(t, base.Data)
	if wantProducer == "" || len(wantContent) == 0 {
		t.Fatalf("the original has producer %q and %d bytes of content", wantProducer, len(wantContent))
	}
	rc4 := testpdf.QPDF(t, base.Data, "--allow-weak-crypto", "--encrypt", "", "owner-secret", "128", "--use-aes=n", "--")
	samples := append(testpdf.Variants(t, base), testpdf.Sample{Name: "owner-rc4-128", Data: rc4, OwnerOnly: true})
	for _, s := range samples {
		if !s.OwnerOnly && !s.Locked {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			if s.Locked {
				_, err := NewReader(bytes.NewReader(s.Data), int64(len(s.Data)))
				if !errors.Is(err, ErrPasswordRequired) {
					t.Fatalf("NewReader: %v, want ErrPasswordRequired", err)
				}
				return
			}
			producer, content := firstPage(t, s.Data)
			if producer != wantProducer || !bytes.Equal(content, wantContent) {
				t.Fatalf("producer %q (want %q), content %d bytes equal=%v", producer, wantProducer, len(content), bytes.Equal(content, wantContent))
			}
		})
	}
}
