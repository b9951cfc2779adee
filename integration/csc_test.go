package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/keys"
)

// rsspProcess is a Motlan serving its vault over CSC API v2 ("the CA"), run as its own
// process from the built binary, with its own dev eID.
type rsspProcess struct {
	issuer, secret, rootFile string
	eid                      *httptest.Server
}

const provinceClient = "province-b"

// startRSSP writes a config for Motlan A and runs `motlan serve` on it until t ends.
func startRSSP(t *testing.T, bin string) *rsspProcess {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	a := &rsspProcess{issuer: "http://" + addr, secret: randSecret()}
	eidSecret := randSecret()
	a.eid = httptest.NewServer(nil)
	t.Cleanup(a.eid.Close)
	h, err := sim.New(sim.Config{Issuer: a.eid.URL, Clients: []sim.Client{{ID: "motlan", Secret: eidSecret,
		RedirectURIs: []string{idp.CallbackURL(a.issuer)}, PostLogoutRedirectURIs: []string{idp.LogoutDoneURL(a.issuer)}}}})
	if err != nil {
		t.Fatal(err)
	}
	a.eid.Config.Handler = h
	mkFile := filepath.Join(dir, "master.key")
	if _, err := keys.EnsureMasterKeyFile(mkFile); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`issuer: %s
listen: %q
log: {level: error, format: text}
storage: {driver: sqlite, dsn: {value: %q}}
secrets: {master_key: {file: %q}}
eid:
  issuer: %s
  client_id: motlan
  client_secret: {value: %q}
  scopes: [openid, profile, address, phone]
clients:
  - id: %s
    name: Tỉnh B
    secret: {value: %q}
    redirect_uris: [https://b.example.test/cb]
    scopes: [service]
`, a.issuer, addr, filepath.Join(dir, "a.db"), mkFile, a.eid.URL, eidSecret, provinceClient, a.secret)
	path := filepath.Join(dir, "motlan.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "-config", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(a.issuer + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("motlan serve (the RSSP) did not start: %s", stderr.String())
		}
	}
	root := fetchCert(t, a.issuer+"/ca/root.crt")
	a.rootFile = filepath.Join(dir, "rssp-root.pem")
	if err := os.WriteFile(a.rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

// otp is what the citizen does at the CA: a fresh level-2 eID login on its OTP page, then
// reading the code it shows.
func (a *rsspProcess) otp(t *testing.T, b *browser, cccd string) string {
	t.Helper()
	u := a.issuer + "/csc/otp"
	for hops := 0; hops < 8; hops++ {
		resp := b.get(u)
		if resp.StatusCode == http.StatusOK {
			m := regexp.MustCompile(`<p class="code">(\d{8})</p>`).FindStringSubmatch(body(t, resp))
			if m == nil {
				t.Fatal("the OTP page shows no code")
			}
			return m[1]
		}
		loc := location(t, resp)
		if strings.HasPrefix(loc.String(), a.eid.URL+"/") {
			cb, err := sim.Login(context.Background(), b.client, loc.String(), cccd, sim.DevPassword)
			if err != nil {
				t.Fatalf("eID login at the CA: %v", err)
			}
			loc = cb
		}
		if !loc.IsAbs() {
			loc = &url.URL{Scheme: "http", Host: strings.TrimPrefix(a.issuer, "http://"), Path: loc.Path, RawQuery: loc.RawQuery}
		}
		u = loc.String()
	}
	t.Fatal("no OTP page after 8 redirects")
	return ""
}

// requestDossier creates a signing request for one PDF per title at level (the key makes
// the PDFs differ between requests).
func (p *signingPortal) requestDossier(t *testing.T, s *stack, key, level string, titles ...string) (id, approvalURL string) {
	t.Helper()
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for k, v := range map[string]string{"subject": p.subject, "reason": "Hồ sơ đăng ký khai sinh", "location": "Thanh Hóa", "level": level} {
		_ = mw.WriteField(k, v)
	}
	for _, title := range titles {
		_ = mw.WriteField("title", title)
		fw, _ := mw.CreateFormFile("document", "doc.pdf")
		_, _ = fw.Write(onePagePDF(fmt.Sprintf("%s %d", key, len(title))))
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, s.issuer+"/signing/v1/requests", &form)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Idempotency-Key", key)
	resp, err := p.api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID          string `json:"id"`
		Level       string `json:"level"`
		ApprovalURL string `json:"approval_url"`
	}
	if raw := body(t, resp); resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(raw), &created) != nil || created.Level != level {
		t.Fatalf("create at %s: %d %s", level, resp.StatusCode, raw)
	}
	return created.ID, created.ApprovalURL
}

// approveWithOTP: the citizen opens the approval page, which asks for the CA's code, and
// approves the whole dossier once with it.
func (p *signingPortal) approveWithOTP(t *testing.T, approvalURL, otp string) {
	t.Helper()
	_, page := p.openApproval(t, approvalURL) // after the eID login made for it
	if !strings.Contains(page, `name="otp"`) || !strings.Contains(page, "Mã OTP") {
		t.Fatalf("the approval page does not ask for the CA's OTP:\n%s", page)
	}
	form := url.Values{"action": {"approve"}, "otp": {otp}}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([a-z]+)" value="([^"]*)">`).FindAllStringSubmatch(page, -1) {
		form.Add(m[1], m[2])
	}
	if resp := p.b.postForm(approvalURL, form); resp.StatusCode != http.StatusOK {
		t.Fatalf("approve: %d %s", resp.StatusCode, body(t, resp))
	} else {
		body(t, resp)
	}
}

// TestCSCBetweenTwoMotlans: a province's Motlan (B) signs whole dossiers through a CA's
// remote signing service, here another Motlan (A) in its own process serving CSC API v2
// over its vault: one approval and one OTP per dossier, at B-T and B-LTA, each document
// verified by pdfsig and motlan verify. A wrong OTP is answered on the approval page at
// once, and the request waits for the right one.
func TestCSCBetweenTwoMotlans(t *testing.T) {
	bin := buildMotlan(t)
	a := startRSSP(t, bin)
	b := newStackWith(t, "sqlite", false, func(c *config.Config) {
		c.Signing.Provider = "csc"
		c.Signing.TSAURL = a.issuer + "/tsa" // the CA's time-stamp authority
		c.Signing.LTVAllowPrivateNetworks = true
		c.Signing.CSC = &config.CSC{BaseURL: a.issuer + "/csc/v2", TokenURL: a.issuer + "/token", ClientID: provinceClient,
			ClientSecret: config.Secret{Value: a.secret}, UserID: "{cccd}", TrustRootsFile: a.rootFile,
			Description: "Hồ sơ dịch vụ công tỉnh B"}
	})
	p := newSigningPortal(t, b)
	atCA := newBrowser(t)
	db := testpki.NSSDB(t, fetchCert(t, a.issuer+"/ca/root.crt"))
	titles := []string{"Tờ khai đăng ký khai sinh", "Giấy chứng sinh", "Giấy đăng ký kết hôn"}
	for _, tc := range []struct {
		level string
		docTS int
	}{{"B-T", 0}, {"B-LTA", 1}} {
		t.Run(tc.level, func(t *testing.T) {
			otp := a.otp(t, atCA, haoCCCD)
			id, approvalURL := p.requestDossier(t, b, "csc-"+tc.level, tc.level, titles...)
			p.approveWithOTP(t, approvalURL, otp)
			if st := p.wait(t, b, id); st.Status != "signed" {
				t.Fatalf("status %q (%s), want signed", st.Status, st.Failure)
			}
			dir := t.TempDir()
			var paths []string
			for i := range titles {
				resp, err := p.api.Get(fmt.Sprintf("%s/signing/v1/requests/%s/documents/%d", b.issuer, id, i))
				if err != nil {
					t.Fatal(err)
				}
				signed := []byte(body(t, resp))
				path := filepath.Join(dir, fmt.Sprintf("signed-%d.pdf", i))
				if err := os.WriteFile(path, signed, 0o600); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, path)
				out, sigs := testpki.PdfsigFile(t, db, path)
				if len(sigs) != 1+tc.docTS || !sigs[0].Valid || !sigs[0].Trusted || !sigs[0].CAdES || sigs[0].CN != "Lê Công Hảo" {
					t.Fatalf("pdfsig, document %d:\n%s", i, out)
				}
				if ocsps, _, lastTS := longTermShape(t, signed); tc.docTS > 0 && (ocsps < 2 || !lastTS) {
					t.Fatalf("document %d at B-LTA: %d OCSP responses, document timestamp last: %v", i, ocsps, lastTS)
				}
			}
			out, err := exec.Command(bin, append([]string{"verify", "--root", a.rootFile}, paths...)...).CombinedOutput()
			if err != nil || strings.Count(string(out), `"TOTAL_PASSED"`) != len(titles)*(1+tc.docTS) {
				t.Fatalf("motlan verify: %v\n%s", err, out)
			}
		})
	}
	t.Run("wrong OTP asks again", func(t *testing.T) {
		id, approvalURL := p.requestDossier(t, b, "csc-wrong-otp", "B-T", titles[:2]...)
		if st, page := p.approvePage(t, approvalURL, url.Values{"otp": {"00000000"}}); st != http.StatusUnprocessableEntity || !strings.Contains(page, "Sai mã") {
			t.Fatalf("a wrong OTP: %d\n%s", st, page)
		}
		if st := p.status(t, b, id); st.Status != "pending" {
			t.Fatalf("after a wrong OTP: %q (%s), want pending", st.Status, st.Failure)
		}
		p.approveWithOTP(t, approvalURL, a.otp(t, atCA, haoCCCD))
		if st := p.wait(t, b, id); st.Status != "signed" {
			t.Fatalf("with the right OTP: %q (%s), want signed", st.Status, st.Failure)
		}
	})
}
