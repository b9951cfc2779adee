package integration

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/keys/ca"
)

// TestRevoke: a citizen signs once; an operator revokes the citizen's certificate with
// motlan revoke (reason keyCompromise) against the running stack's store; the revocation
// then shows in the CRL and in OCSP, and the citizen's key signs nothing more.
func TestRevoke(t *testing.T) {
	bin := buildMotlan(t)
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) { testRevoke(t, bin, driver) })
	}
}

func testRevoke(t *testing.T, bin, driver string) {
	var cfg *config.Config
	s := newStackWith(t, driver, false, func(c *config.Config) { cfg = c })

	// The citizen signs once.
	title := "Tờ khai đăng ký khai sinh"
	p := newSigningPortal(t, s)
	id, approvalURL := p.request(t, s, "before-revocation", title)
	p.approve(t, approvalURL, title)
	if st := p.wait(t, s, id); st.Status != "signed" {
		t.Fatalf("status %q (%s), want signed", st.Status, st.Failure)
	}
	serial := signerSerial(t, s, p, id)

	// Bad input fails clearly and revokes nothing.
	configFile := writeStackConfig(t, *cfg)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--serial", serial.Text(16), "--reason", "boredom"}, "--reason"},
		{[]string{"--serial", "not-hex"}, "--serial"},
		{[]string{"--serial", "abcdef0123456789"}, "no certificate with serial"},
	} {
		out, err := exec.Command(bin, append([]string{"revoke", "--config", configFile}, tc.args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Fatalf("motlan revoke %v: %v, want an error about %q:\n%s", tc.args, err, tc.want, out)
		}
	}

	// The operator revokes the certificate.
	out, err := exec.Command(bin, "revoke", "--config", configFile, "--serial", serial.Text(16), "--reason", "keyCompromise").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "revoked certificate "+serial.Text(16)) || !strings.Contains(string(out), "keyCompromise") {
		t.Fatalf("motlan revoke: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "revoke", "--config", configFile, "--serial", serial.Text(16)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already revoked (keyCompromise") {
		t.Fatalf("motlan revoke twice: %v, want already revoked:\n%s", err, out)
	}

	// The servers' view of revocations is at most ca.DefaultRefreshInterval stale: poll.
	issuing := fetchCert(t, s.issuer+"/ca/issuing.crt")
	var crlOK, ocspOK bool
	var last string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if !crlOK {
			crlOK, last = crlRevokes(t, s, issuing, serial)
		}
		if crlOK && !ocspOK {
			ocspOK, last = ocspRevoked(t, s, issuing, serial)
		}
		if crlOK && ocspOK {
			break
		}
	}
	if !crlOK || !ocspOK {
		t.Fatalf("after 20 s: CRL lists the serial %v, OCSP says revoked %v; last: %s", crlOK, ocspOK, last)
	}

	// A revoked key never signs again.
	id2, approvalURL2 := p.request(t, s, "after-revocation", title)
	p.approve(t, approvalURL2, title)
	if st := p.wait(t, s, id2); st.Status != "failed" || !strings.Contains(st.Failure, "revoked") {
		t.Fatalf("signing after revocation: status %q failure %q, want failed, certificate revoked", st.Status, st.Failure)
	}
	resp, err := p.api.Get(fmt.Sprintf("%s/signing/v1/requests/%s/documents/0", s.issuer, id2))
	if err != nil {
		t.Fatal(err)
	}
	if raw := body(t, resp); resp.StatusCode == http.StatusOK && bytes.HasPrefix([]byte(raw), []byte("%PDF")) && strings.Contains(raw, "/ByteRange") {
		t.Fatal("a signed document was served for the request that failed")
	}
}

// signerSerial downloads the signed document of request id and reads the signing
// certificate's serial from Motlan's verification report.
func signerSerial(t *testing.T, s *stack, p *signingPortal, id string) *big.Int {
	t.Helper()
	resp, err := p.api.Get(fmt.Sprintf("%s/signing/v1/requests/%s/documents/0", s.issuer, id))
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %d", resp.StatusCode)
	}
	vreq, _ := http.NewRequest(http.MethodPost, s.issuer+"/signing/v1/verify", bytes.NewReader(signed))
	vreq.Header.Set("Content-Type", "application/pdf")
	vresp, err := p.api.Do(vreq)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Signatures []struct {
			Indication string `json:"indication"`
			Signer     struct {
				Serial string `json:"serial"`
			} `json:"signer"`
		} `json:"signatures"`
	}
	raw := body(t, vresp)
	if json.Unmarshal([]byte(raw), &rep) != nil || len(rep.Signatures) != 1 || rep.Signatures[0].Indication != "TOTAL_PASSED" {
		t.Fatalf("verify: %d %s", vresp.StatusCode, raw)
	}
	n, ok := new(big.Int).SetString(rep.Signatures[0].Signer.Serial, 16)
	if !ok {
		t.Fatalf("signer serial %q", rep.Signatures[0].Signer.Serial)
	}
	return n
}

// writeStackConfig writes the parts of the stack's configuration motlan revoke needs
// (the issuer, the store, the master key file) as a YAML file that config.Load accepts.
func writeStackConfig(t *testing.T, c config.Config) string {
	t.Helper()
	q := strconv.Quote
	yml := fmt.Sprintf(`issuer: %s
log: {level: warn, format: text}
storage:
  driver: %s
  dsn: {value: %s}
secrets:
  master_key: {file: %s}
eid:
  issuer: %s
  client_id: %s
  client_secret: {value: %s}
clients:
  - id: %s
    secret: {value: %s}
    redirect_uris: [%s]
    scopes: [openid]
`, q(c.Issuer), q(c.Storage.Driver), q(c.Storage.DSN.Value), q(c.Secrets.MasterKey.File),
		q(c.EID.Issuer), q(c.EID.ClientID), q(c.EID.ClientSecret.Value),
		q(c.Clients[0].ID), q(c.Clients[0].Secret.Value), q(c.Clients[0].RedirectURIs[0]))
	path := filepath.Join(t.TempDir(), "motlan.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func fetchCert(t *testing.T, u string) *x509.Certificate {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return c
}

// crlRevokes reports whether the published CRL, signed by the issuing CA, lists serial
// with reason keyCompromise.
func crlRevokes(t *testing.T, s *stack, issuing *x509.Certificate, serial *big.Int) (bool, string) {
	t.Helper()
	resp, err := http.Get(s.issuer + "/ca/issuing.crl")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("/ca/issuing.crl: %d: %v", resp.StatusCode, err)
	}
	if err := crl.CheckSignatureFrom(issuing); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			if e.ReasonCode != ca.ReasonKeyCompromise {
				t.Fatalf("CRL lists %x with reason %d, want keyCompromise", serial, e.ReasonCode)
			}
			return true, ""
		}
	}
	return false, fmt.Sprintf("CRL of %s lists %d certificates, not %x", crl.ThisUpdate, len(crl.RevokedCertificateEntries), serial)
}

// ocspRevoked asks the OCSP responder (POST) about serial and reports whether it answers
// revoked, keyCompromise.
func ocspRevoked(t *testing.T, s *stack, issuing *x509.Certificate, serial *big.Int) (bool, string) {
	t.Helper()
	req, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: serial}, issuing, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(s.issuer+"/ca/ocsp", "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r, err := ocsp.ParseResponse(der, issuing)
	if err != nil {
		t.Fatalf("OCSP response: %d: %v", resp.StatusCode, err)
	}
	if r.SerialNumber.Cmp(serial) != 0 {
		t.Fatalf("OCSP answered for %x, asked %x", r.SerialNumber, serial)
	}
	if r.Status != ocsp.Revoked {
		return false, fmt.Sprintf("OCSP status %d", r.Status)
	}
	if r.RevocationReason != ocsp.KeyCompromise {
		t.Fatalf("OCSP revocation reason %d, want keyCompromise", r.RevocationReason)
	}
	return true, ""
}
