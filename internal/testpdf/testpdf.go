// Package testpdf holds a corpus of real PDFs from other producers for tests, and builds
// qpdf variants of them (object streams, linearized, encrypted, larger than 10 MB).
//
// The committed files (corpus/, how each was made is in corpus/README.md) are small;
// the variants are made by qpdf at test time, so they are qpdf's real output and the
// repository stays small.
package testpdf

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/motlan/motlan/internal/testenv"
	"github.com/motlan/motlan/internal/testpki"
)

//go:embed corpus/*.pdf
var corpus embed.FS

// Sample is one PDF of the corpus.
type Sample struct {
	Name     string // file or variant name
	Producer string // what wrote it
	Data     []byte
	// Locked: opening it needs a user password; a signer must refuse it.
	Locked bool
	// OwnerOnly: encrypted with an empty user password (opens without one).
	OwnerOnly bool
}

// Producers returns the committed files: a Debian package's manual (pdfTeX), Chromium's
// print to PDF (Skia), LibreOffice Writer, Ghostscript's pdfwrite and a scanner-style
// image PDF (img2pdf of a JPEG).
func Producers(t testing.TB) []Sample {
	t.Helper()
	files := []struct{ name, producer string }{
		{"debian-pdftex.pdf", "pdfTeX-1.40.22 (Debian shared-mime-info manual)"},
		{"chromium.pdf", "Skia/PDF (Chromium --print-to-pdf)"},
		{"libreoffice.pdf", "LibreOffice 7.4 Writer"},
		{"ghostscript.pdf", "GPL Ghostscript 10.00.0 pdfwrite"},
		{"scan-img2pdf.pdf", "img2pdf 0.4.4 (a scanned page as JPEG)"},
	}
	out := make([]Sample, 0, len(files))
	for _, f := range files {
		b, err := corpus.ReadFile("corpus/" + f.name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Sample{Name: f.name, Producer: f.producer, Data: b})
	}
	return out
}

// Variants returns qpdf rewrites of base: object and cross-reference streams,
// linearized, owner-password-only with AES-128 (V4) and AES-256 (V5 R6), and
// user-password AES-256.
func Variants(t testing.TB, base Sample) []Sample {
	t.Helper()
	vs := []struct {
		name        string
		args        []string
		locked, own bool
	}{
		{"objstm", []string{"--object-streams=generate"}, false, false},
		{"linearized", []string{"--linearize"}, false, false},
		{"owner-aes128", []string{"--encrypt", "", "owner-secret", "128", "--use-aes=y", "--"}, false, true},
		{"owner-aes256", []string{"--encrypt", "", "owner-secret", "256", "--"}, false, true},
		{"user-aes256", []string{"--encrypt", "user-secret", "owner-secret", "256", "--"}, true, false},
	}
	out := make([]Sample, 0, len(vs))
	for _, v := range vs {
		out = append(out, Sample{
			Name: base.Name + "+" + v.name, Producer: "qpdf " + v.name + " of " + base.Producer,
			Data: QPDF(t, base.Data, v.args...), Locked: v.locked, OwnerOnly: v.own,
		})
	}
	return out
}

// Large joins copies of base with qpdf until the result has at least min bytes: a real
// qpdf output with a classic cross-reference table at its end (its startxref offset
// grows with the file).
func Large(t testing.TB, base []byte, min int64) []byte {
	t.Helper()
	Need(t, "qpdf")
	dir := t.TempDir()
	n := int(min*6/5/int64(len(base))) + 2 // joins share fonts: a little more than the sum
	// Different file names: qpdf shares the objects of pages taken twice from one file.
	args := []string{"--empty", "--pages"}
	for i := range n {
		f := filepath.Join(dir, fmt.Sprintf("part%d.pdf", i))
		if err := os.WriteFile(f, base, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, f)
	}
	dst := filepath.Join(dir, "large.pdf")
	run(t, append(args, "--", dst)...)
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) < min {
		t.Fatalf("qpdf made %d bytes, want at least %d", len(b), min)
	}
	return b
}

// QPDF rewrites in with qpdf and the given arguments; the result must pass qpdf --check
// without warnings (with the user password "user-secret" when it needs one).
func QPDF(t testing.TB, in []byte, args ...string) []byte {
	t.Helper()
	out := testpki.QPDF(t, in, args...)
	pw := ""
	if bytes.Contains(out, []byte("/Encrypt")) {
		pw = "owner-secret"
	}
	Check(t, out, pw)
	return out
}

// Check runs qpdf --check on pdf (with password, when not empty) and fails t on any
// error or warning.
func Check(t testing.TB, pdf []byte, password string) {
	t.Helper()
	Need(t, "qpdf")
	f := filepath.Join(t.TempDir(), "check.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--check", f}
	if password != "" {
		args = append([]string{"--password=" + password}, args...)
	}
	if out, err := exec.Command("qpdf", args...).CombinedOutput(); err != nil {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
}

func run(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("qpdf", args...).CombinedOutput(); err != nil {
		var ee *exec.ExitError
		// Exit 3 is "warnings": a corpus file must not have any.
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Fatalf("qpdf %v: %v\n%s", args, err, out)
		}
		t.Fatalf("qpdf %v warned:\n%s", args, out)
	}
}

// Need reports each tool that is not on PATH through testenv.Missing.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "%s (Debian: qpdf, poppler-utils)", tool)
		}
	}
}

// Pages returns qpdf's page count of pdf.
func Pages(t testing.TB, pdf []byte) int {
	t.Helper()
	Need(t, "qpdf")
	f := filepath.Join(t.TempDir(), "n.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("qpdf", "--show-npages", f).Output()
	if err != nil {
		t.Fatalf("qpdf --show-npages: %v", err)
	}
	var n int
	if _, err := fmt.Sscan(string(out), &n); err != nil {
		t.Fatalf("qpdf --show-npages: %q", out)
	}
	return n
}
