package testpki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/motlan/motlan/internal/testenv"
)

// Need reports each tool that is not on PATH through testenv.Missing.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "%s (Debian: poppler-utils, qpdf, libnss3-tools)", tool)
		}
	}
}

// Run runs name with args and returns its combined output; it fails t if the command fails.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// WritePEM writes certs to path as PEM and returns path.
func WritePEM(t testing.TB, path string, certs ...*x509.Certificate) string {
	t.Helper()
	var b bytes.Buffer
	for _, c := range certs {
		if err := pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// QPDF rewrites in with qpdf and the given arguments (for example
// "--object-streams=generate" or "--linearize") and returns the result.
func QPDF(t testing.TB, in []byte, args ...string) []byte {
	t.Helper()
	Need(t, "qpdf")
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("qpdf", append(append([]string{}, args...), src, dst)...).CombinedOutput(); err != nil {
		// qpdf exits 3 for warnings but still writes the file.
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Fatalf("qpdf %v: %v\n%s", args, err, out)
		}
	}
	out, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// NSSDB creates an NSS database (certutil) trusting root for signing, and removes it
// when t ends. It needs certutil and pdfsig.
func NSSDB(t testing.TB, root *x509.Certificate) string {
	t.Helper()
	Need(t, "certutil", "pdfsig")
	// A short path in the system's temporary directory rather than under t.TempDir,
	// whose name grows with the (sub)test's.
	dir, err := os.MkdirTemp("", "motlan-nss-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pemFile := WritePEM(t, filepath.Join(dir, "root.pem"), root)
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + dir, "--empty-password"},
		{"-A", "-d", "sql:" + dir, "-n", "root", "-t", "CT,C,C", "-i", pemFile},
	} {
		Run(t, "certutil", args...)
	}
	return dir
}

// NSSDB creates an NSS database trusting the CA's root.
func (ca *CA) NSSDB(t testing.TB) string {
	t.Helper()
	return NSSDB(t, ca.Root)
}

// PdfsigSignature is one signature's part of pdfsig's output.
type PdfsigSignature struct {
	Valid   bool   // Signature Validation: Signature is Valid
	Trusted bool   // Certificate Validation: Certificate is Trusted
	Total   bool   // - Total document signed
	CAdES   bool   // Signature Type: ETSI.CAdES.detached
	CN      string // Signer Certificate Common Name
	Text    string // the signature's whole section of the output
}

// Pdfsig runs poppler's pdfsig on pdf trusting the NSS database db, and returns its
// output and each signature's parsed verdicts.
func Pdfsig(t testing.TB, db string, pdf []byte) (string, []PdfsigSignature) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	return PdfsigFile(t, db, f)
}

// PdfsigFile is Pdfsig for a file.
func PdfsigFile(t testing.TB, db, path string) (string, []PdfsigSignature) {
	t.Helper()
	Need(t, "pdfsig")
	// pdfsig exits non-zero for an invalid signature; the verdicts are in the output.
	out, _ := exec.Command("pdfsig", "-nssdir", "sql:"+db, path).CombinedOutput()
	return string(out), ParsePdfsig(string(out))
}

var (
	reSignature = regexp.MustCompile(`(?m)^Signature #\d+:`)
	reValid     = regexp.MustCompile(`Signature Validation: Signature is Valid`)
	reTrusted   = regexp.MustCompile(`Certificate Validation: Certificate is Trusted`)
	reTotal     = regexp.MustCompile(`(?m)^\s*- Total document signed`)
	reCAdES     = regexp.MustCompile(`Signature Type: ETSI\.CAdES\.detached`)
	reCN        = regexp.MustCompile(`Signer Certificate Common Name: (.*)`)
)

// ParsePdfsig splits pdfsig's output into its signatures.
func ParsePdfsig(out string) []PdfsigSignature {
	parts := reSignature.Split(out, -1)
	var r []PdfsigSignature
	for _, p := range parts[1:] {
		s := PdfsigSignature{
			Valid:   reValid.MatchString(p),
			Trusted: reTrusted.MatchString(p),
			Total:   reTotal.MatchString(p),
			CAdES:   reCAdES.MatchString(p),
			Text:    p,
		}
		if m := reCN.FindStringSubmatch(p); m != nil {
			s.CN = m[1]
		}
		r = append(r, s)
	}
	return r
}
