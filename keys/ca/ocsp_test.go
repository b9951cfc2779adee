package ca_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/motlan/motlan/internal/testenv"
	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/keys/ca"
)

type ocspFixture struct {
	ca           *ca.DevCA
	srv          *httptest.Server
	good, revked *x509.Certificate
	revokedAt    time.Time
}

func newOCSPFixture(t *testing.T) *ocspFixture {
	t.Helper()
	ctx := context.Background()
	c := newCA(t, &ca.MemStorage{}, newSealer(t), nil)
	f := &ocspFixture{ca: c, srv: httptest.NewServer(c.Handler())}
	t.Cleanup(f.srv.Close)
	var err error
	req := ca.CitizenCertRequest{PublicKey: ecKey(t).Public(), FullName: "Nguyễn Văn Lĩnh", CCCD: "038090001234", Province: "Thanh Hóa"}
	if f.good, _, err = c.IssueCitizenCert(ctx, req); err != nil {
		t.Fatal(err)
	}
	req.PublicKey = ecKey(t).Public()
	if f.revked, _, err = c.IssueCitizenCert(ctx, req); err != nil {
		t.Fatal(err)
	}
	f.revokedAt = time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Second)
	if err := c.Revoke(ctx, f.revked.SerialNumber, ca.ReasonKeyCompromise, f.revokedAt); err != nil {
		t.Fatal(err)
	}
	return f
}

func postOCSP(t *testing.T, u string, body []byte) []byte {
	t.Helper()
	resp, err := http.Post(u, "application/ocsp-request", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/ocsp-response" {
		t.Fatalf("HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	b, _ := io.ReadAll(resp.Body)
	return b
}

func getOCSP(t *testing.T, u string, body []byte) []byte {
	t.Helper()
	resp, err := http.Get(u + "/" + url.PathEscape(base64.StdEncoding.EncodeToString(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	return b
}

func TestOCSPResponder(t *testing.T) {
	f := newOCSPFixture(t)
	unknownTmpl := *f.good
	unknownTmpl.SerialNumber = bigOne()
	tests := []struct {
		name       string
		cert       *x509.Certificate
		hash       crypto.Hash
		wantStatus int
	}{
		{"good sha1", f.good, crypto.SHA1, ocsp.Good},
		{"good sha256", f.good, crypto.SHA256, ocsp.Good},
		{"revoked", f.revked, crypto.SHA1, ocsp.Revoked},
		{"unknown serial", &unknownTmpl, crypto.SHA1, ocsp.Unknown},
	}
	for _, tc := range tests {
		for _, method := range []string{"POST", "GET"} {
			t.Run(tc.name+" "+method, func(t *testing.T) {
				req, err := ocsp.CreateRequest(tc.cert, f.ca.IssuingCA(), &ocsp.RequestOptions{Hash: tc.hash})
				if err != nil {
					t.Fatal(err)
				}
				var der []byte
				if method == "POST" {
					der = postOCSP(t, f.srv.URL+"/ca/ocsp", req)
				} else {
					der = getOCSP(t, f.srv.URL+"/ca/ocsp", req)
				}
				resp, err := ocsp.ParseResponseForCert(der, tc.cert, f.ca.IssuingCA())
				if err != nil {
					t.Fatal(err)
				}
				if resp.Status != tc.wantStatus {
					t.Fatalf("status %d, want %d", resp.Status, tc.wantStatus)
				}
				if resp.Status == ocsp.Revoked && (resp.RevocationReason != ca.ReasonKeyCompromise || !resp.RevokedAt.Equal(f.revokedAt)) {
					t.Errorf("revoked info %v %v", resp.RevocationReason, resp.RevokedAt)
				}
				if d := resp.NextUpdate.Sub(resp.ThisUpdate); d <= 0 || d > time.Hour {
					t.Errorf("validity %v", d)
				}
				// Delegated responder: issued by the issuing CA, OCSPSigning, ocsp-nocheck.
				rc := resp.Certificate
				if rc == nil || rc.Equal(f.ca.IssuingCA()) {
					t.Fatal("response not signed by a delegated responder certificate")
				}
				if err := rc.CheckSignatureFrom(f.ca.IssuingCA()); err != nil {
					t.Fatal(err)
				}
				if len(rc.ExtKeyUsage) != 1 || rc.ExtKeyUsage[0] != x509.ExtKeyUsageOCSPSigning {
					t.Errorf("responder EKU %v", rc.ExtKeyUsage)
				}
				noCheck := false
				for _, e := range rc.Extensions {
					noCheck = noCheck || e.Id.Equal(ca.OIDOCSPNoCheck)
				}
				if !noCheck {
					t.Error("responder lacks ocsp-nocheck")
				}
			})
		}
	}
}

func bigOne() *big.Int { return big.NewInt(1) }

func TestOCSPErrors(t *testing.T) {
	f := newOCSPFixture(t)
	u := f.srv.URL + "/ca/ocsp"
	wantErr := func(t *testing.T, der []byte, want ocsp.ResponseStatus) {
		t.Helper()
		_, err := ocsp.ParseResponse(der, nil)
		var re ocsp.ResponseError
		if !errors.As(err, &re) || re.Status != want {
			t.Fatalf("err = %v, want %v", err, want)
		}
	}
	wantErr(t, postOCSP(t, u, []byte("garbage")), ocsp.Malformed)
	wantErr(t, postOCSP(t, u, nil), ocsp.Malformed)
	wantErr(t, postOCSP(t, u, bytes.Repeat([]byte{0x30}, 100<<10)), ocsp.Malformed)
	wantErr(t, getOCSP(t, u, []byte{0x30, 0x03, 0x02, 0x01, 0x01}), ocsp.Malformed)
	// The issuing CA's own status is the root's to tell, not this responder's.
	req, err := ocsp.CreateRequest(f.ca.IssuingCA(), f.ca.Root(), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, postOCSP(t, u, req), ocsp.Unauthorized)
	resp, err := http.Get(u + "/!!not-base64!!")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantErr(t, b, ocsp.Malformed)
	resp, err = http.Post(u, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("wrong media type: HTTP %d", resp.StatusCode)
	}
}

func TestHandlerServesCertsAndCRLs(t *testing.T) {
	f := newOCSPFixture(t)
	for _, tc := range []struct{ path, ct string }{
		{"/ca/root.crt", "application/pkix-cert"},
		{"/ca/issuing.crt", "application/pkix-cert"},
		{"/ca/issuing.crl", "application/pkix-crl"},
		{"/ca/root.crl", "application/pkix-crl"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get(f.srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.ct {
				t.Fatalf("HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if tc.ct == "application/pkix-cert" {
				_, err = x509.ParseCertificate(b)
			} else {
				_, err = x509.ParseRevocationList(b)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	resp, err := http.Get(f.srv.URL + "/ca/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("HTTP %d", resp.StatusCode)
	}
}

// --- cross-checks with the openssl CLI ---

func needOpenSSL(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		testenv.Missing(t, "openssl CLI (Debian package openssl)")
	}
	return p
}

func TestOpenSSLOCSP(t *testing.T) {
	openssl := needOpenSSL(t)
	f := newOCSPFixture(t)
	dir := t.TempDir()
	root := testpki.WritePEM(t, filepath.Join(dir, "root.pem"), f.ca.Root())
	issuing := testpki.WritePEM(t, filepath.Join(dir, "issuing.pem"), f.ca.IssuingCA())
	for _, tc := range []struct {
		name string
		cert *x509.Certificate
		want string
	}{{"good", f.good, ": good"}, {"revoked", f.revked, ": revoked"}} {
		t.Run(tc.name, func(t *testing.T) {
			leaf := testpki.WritePEM(t, filepath.Join(dir, tc.name+".pem"), tc.cert)
			out := testpki.Run(t, openssl, "ocsp", "-issuer", issuing, "-cert", leaf, "-url", f.srv.URL+"/ca/ocsp",
				"-CAfile", root, "-no_nonce", "-resp_text")
			if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, leaf+tc.want) {
				t.Fatalf("openssl ocsp:\n%s", out)
			}
			if tc.name == "revoked" && !strings.Contains(out, "keyCompromise") {
				t.Errorf("reason missing:\n%s", out)
			}
		})
	}
}

func TestOpenSSLCRL(t *testing.T) {
	openssl := needOpenSSL(t)
	f := newOCSPFixture(t)
	dir := t.TempDir()
	issuing := testpki.WritePEM(t, filepath.Join(dir, "issuing.pem"), f.ca.IssuingCA())
	der, err := f.ca.CRL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	crl := filepath.Join(dir, "issuing.crl")
	if err := os.WriteFile(crl, der, 0o600); err != nil {
		t.Fatal(err)
	}
	out := testpki.Run(t, openssl, "crl", "-inform", "DER", "-in", crl, "-CAfile", issuing, "-verify", "-noout", "-text")
	if !strings.Contains(out, "verify OK") || !strings.Contains(strings.ToUpper(out), strings.ToUpper(f.revked.SerialNumber.Text(16))) {
		t.Fatalf("openssl crl:\n%s", out)
	}
	// And the full chain with CRL checking: the good certificate verifies, the revoked one not.
	root := testpki.WritePEM(t, filepath.Join(dir, "root.pem"), f.ca.Root())
	rootCRLDER, err := f.ca.RootCRL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	crls := filepath.Join(dir, "crls.pem")
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "X509 CRL", Bytes: der})
	pem.Encode(&b, &pem.Block{Type: "X509 CRL", Bytes: rootCRLDER})
	os.WriteFile(crls, b.Bytes(), 0o600)
	good := testpki.WritePEM(t, filepath.Join(dir, "good.pem"), f.good)
	revoked := testpki.WritePEM(t, filepath.Join(dir, "revoked.pem"), f.revked)
	testpki.Run(t, openssl, "verify", "-crl_check_all", "-CRLfile", crls, "-CAfile", root, "-untrusted", issuing, good)
	rout, err := exec.Command(openssl, "verify", "-crl_check_all", "-CRLfile", crls, "-CAfile", root, "-untrusted", issuing, revoked).CombinedOutput()
	if err == nil || !strings.Contains(string(rout), "revoked") {
		t.Fatalf("revoked certificate verified:\n%s", rout)
	}
	// openssl shows the CN as UTF-8.
	out = testpki.Run(t, openssl, "x509", "-in", good, "-noout", "-subject", "-nameopt", "utf8,sep_comma_plus_space")
	if !strings.Contains(out, "CN=Nguyễn Văn Lĩnh") || !strings.Contains(out, "UID=CCCD:038090001234") {
		t.Errorf("openssl subject: %s", out)
	}
}

// NSS, which poppler's pdfsig uses, checks a PDF signer's certificate for the e-mail
// signer usage: the default EKUs must pass it, the document-signing EKUs alone do not.
func TestNSSAcceptsCitizenCert(t *testing.T) {
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		testenv.Missing(t, "NSS certutil (Debian package libnss3-tools)")
	}
	for _, tc := range []struct {
		name  string
		ekus  []asn1.ObjectIdentifier
		valid bool
	}{
		{"default", nil, true},
		{"document signing only", []asn1.ObjectIdentifier{ca.OIDDocumentSigning, ca.OIDDocumentSigningMS}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ca.New(context.Background(), ca.Config{Storage: &ca.MemStorage{}, Sealer: newSealer(t), BaseURL: "http://127.0.0.1:9", CitizenEKUs: tc.ekus})
			if err != nil {
				t.Fatal(err)
			}
			cert, _, err := c.IssueCitizenCert(context.Background(), ca.CitizenCertRequest{PublicKey: ecKey(t).Public(), FullName: "Nguyễn Văn Lĩnh", CCCD: "038090001234", Province: "Thanh Hóa"})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			db := "sql:" + filepath.Join(dir, "db")
			os.Mkdir(filepath.Join(dir, "db"), 0o700)
			testpki.Run(t, certutil, "-N", "-d", db, "--empty-password")
			testpki.Run(t, certutil, "-A", "-d", db, "-n", "root", "-t", "C,C,C", "-i", testpki.WritePEM(t, filepath.Join(dir, "root.pem"), c.Root()))
			testpki.Run(t, certutil, "-A", "-d", db, "-n", "issuing", "-t", ",,", "-i", testpki.WritePEM(t, filepath.Join(dir, "issuing.pem"), c.IssuingCA()))
			testpki.Run(t, certutil, "-A", "-d", db, "-n", "leaf", "-t", ",,", "-i", testpki.WritePEM(t, filepath.Join(dir, "leaf.pem"), cert))
			out, err := exec.Command(certutil, "-V", "-d", db, "-n", "leaf", "-u", "S").CombinedOutput()
			if valid := err == nil && strings.Contains(string(out), "certificate is valid"); valid != tc.valid {
				t.Fatalf("certutil -V -u S: valid=%v, want %v:\n%s", valid, tc.valid, out)
			}
		})
	}
}
