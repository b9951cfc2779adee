package integration

import (
	"bytes"
	"context"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"fmt"
	"github.com/motlan/motlan/adapters/vneid/sim"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/testhsm"
	"github.com/motlan/motlan/internal/testpki"
)

// onePagePDF writes a small, valid one-page PDF with a classic cross-reference table.
func onePagePDF(text string) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(s string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), s)
	}
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>")
	content := "BT /F1 14 Tf 72 770 Td (" + text + ") Tj ET"
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

// TestRemoteSigning: the portal asks for a citizen's signature on two PDFs, the citizen
// approves once in the browser after a fresh level-2 login, and the portal downloads PAdES
// signatures that Motlan's verifier and poppler's pdfsig both accept.
func TestRemoteSigning(t *testing.T) { testRemoteSigning(t, newStack(t, "sqlite")) }

// TestRemoteSigningInHSM runs the same journey with citizens' keys generated inside a
// PKCS#11 token (SoftHSM2): nothing of the key reaches the database.
func TestRemoteSigningInHSM(t *testing.T) {
	module := testhsm.Module(t)
	s := newStackWith(t, "sqlite", false, func(c *config.Config) {
		c.Signing.Vault = config.Vault{Type: "pkcs11", Module: module, TokenLabel: testhsm.TokenLabel,
			PIN: config.Secret{Value: testhsm.PIN}}
	})
	testRemoteSigning(t, s)
	db, err := sql.Open("sqlite", s.storage.DSN.Value)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM citizen_keys").Scan(&n); err != nil || n != 0 {
		t.Fatalf("citizen_keys rows with the HSM vault: %d (%v), want 0", n, err)
	}
}

func testRemoteSigning(t *testing.T, s *stack) {
	titles := []string{"Tờ khai đăng ký khai sinh", "Tờ khai đăng ký thường trú"}
	p := newSigningPortal(t, s)
	id, approvalURL := p.request(t, s, "dossier-1", titles...)
	p.approve(t, approvalURL, titles...)
	if st := p.wait(t, s, id); st.Status != "signed" {
		t.Fatalf("status %q (%s), want signed", st.Status, st.Failure)
	}
	api := p.api
	dir := t.TempDir()
	for i := range 2 {
		resp, err := api.Get(fmt.Sprintf("%s/signing/v1/requests/%s/documents/%d", s.issuer, id, i))
		if err != nil {
			t.Fatal(err)
		}
		signed, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(signed, []byte("%PDF")) {
			t.Fatalf("download %d: %d", i, resp.StatusCode)
		}
		vreq, _ := http.NewRequest(http.MethodPost, s.issuer+"/signing/v1/verify", bytes.NewReader(signed))
		vreq.Header.Set("Content-Type", "application/pdf")
		vresp, err := api.Do(vreq)
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Signatures []struct {
				Indication string `json:"indication"`
				Level      string `json:"level"`
				Signer     struct {
					Name     string `json:"name"`
					IDMasked string `json:"id_masked"`
				} `json:"signer"`
			} `json:"signatures"`
		}
		if raw := body(t, vresp); json.Unmarshal([]byte(raw), &rep) != nil || len(rep.Signatures) != 1 {
			t.Fatalf("verify %d: %d %s", i, vresp.StatusCode, raw)
		}
		sig := rep.Signatures[0]
		if sig.Indication != "TOTAL_PASSED" || sig.Level != "B-T" || sig.Signer.Name != "Lê Công Hảo" || sig.Signer.IDMasked != "038*******67" {
			t.Fatalf("verification of document %d: %+v", i, sig)
		}
		path := filepath.Join(dir, fmt.Sprintf("signed-%d.pdf", i))
		if err := os.WriteFile(path, signed, 0o600); err != nil {
			t.Fatal(err)
		}
		pdfsigAccepts(t, s, path)
	}

	// The command line verifier agrees, and catches a one-byte tamper.
	bin := buildMotlan(t)
	out, err := exec.Command(bin, "verify", "--issuer", s.issuer, filepath.Join(dir, "signed-0.pdf"), filepath.Join(dir, "signed-1.pdf")).CombinedOutput()
	if err != nil || strings.Count(string(out), `"TOTAL_PASSED"`) != 2 {
		t.Fatalf("motlan verify: %v\n%s", err, out)
	}
	signed, _ := os.ReadFile(filepath.Join(dir, "signed-0.pdf"))
	i := bytes.Index(signed, []byte("BT /F1"))
	signed[i+3] ^= 0x01 // inside the first signed byte range
	tampered := filepath.Join(dir, "tampered.pdf")
	_ = os.WriteFile(tampered, signed, 0o600)
	out, err = exec.Command(bin, "verify", "--issuer", s.issuer, tampered).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "TOTAL_FAILED") {
		t.Fatalf("motlan verify accepted a tampered PDF: %v\n%s", err, out)
	}
}

// signingPortal is the portal with a citizen logged in at level 2: the citizen's browser,
// the citizen's subject at the portal, and the portal server's signing API client.
type signingPortal struct {
	b       *browser
	cccd    string // the citizen's; "": Lê Công Hảo
	subject string
	api     *http.Client
}

// newSigningPortal logs Lê Công Hảo in to the portal, which learns the subject, and gives
// the portal's server a client-credentials token for the signing API.
func newSigningPortal(t *testing.T, s *stack) *signingPortal {
	t.Helper()
	b := newBrowser(t)
	a := s.portal.authorize([]string{"openid", "profile"}, oauth2.SetAuthURLParam("acr_values", "2"))
	cb, _, _ := s.login(t, b, a, haoCCCD, "allow")
	_, idt := s.portal.redeem(t, s, a, cb)
	cc := clientcredentials.Config{ClientID: s.portal.id, ClientSecret: s.portal.secret, TokenURL: s.issuer + "/token",
		Scopes: []string{"signing"}, AuthStyle: oauth2.AuthStyleInHeader}
	return &signingPortal{b: b, subject: idt.Subject, api: cc.Client(context.Background())}
}

// request creates a signing request for one small PDF per title and returns its id and
// approval URL.
func (p *signingPortal) request(t *testing.T, s *stack, idempotencyKey string, titles ...string) (id, approvalURL string) {
	t.Helper()
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("subject", p.subject)
	_ = mw.WriteField("reason", "Đăng ký khai sinh cho con")
	_ = mw.WriteField("location", "Thanh Hóa")
	for _, title := range titles {
		_ = mw.WriteField("title", title)
		fw, _ := mw.CreateFormFile("document", title+".pdf")
		_, _ = fw.Write(onePagePDF(title[:8]))
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, s.issuer+"/signing/v1/requests", &form)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Idempotency-Key", idempotencyKey)
	resp, err := p.api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	created := struct {
		ID          string `json:"id"`
		Status      string `json:"status"`
		ApprovalURL string `json:"approval_url"`
	}{}
	if raw := body(t, resp); resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(raw), &created) != nil {
		t.Fatalf("create: %d %s", resp.StatusCode, raw)
	}
	return created.ID, created.ApprovalURL
}

// approve: the citizen opens the approval link, logs in at the eID for it, sees every
// title, approves once.
func (p *signingPortal) approve(t *testing.T, approvalURL string, titles ...string) {
	t.Helper()
	_, page := p.openApproval(t, approvalURL)
	for _, title := range titles {
		if !strings.Contains(page, title) {
			t.Fatalf("approval page lacks %q", title)
		}
	}
	approve := url.Values{"action": {"approve"}}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([a-z]+)" value="([^"]*)">`).FindAllStringSubmatch(page, -1) {
		approve.Add(m[1], m[2])
	}
	if resp := p.b.postForm(approvalURL, approve); resp.StatusCode != http.StatusOK {
		t.Fatalf("approve: %d %s", resp.StatusCode, body(t, resp))
	} else {
		body(t, resp)
	}
}

// loginForApproval opens the approval link as the phone does: every approval needs an
// eID login made for it (sole control), even right after the portal's, so the link goes
// to the step-up login, the dev eID, and back to the page with its ticket, whose URL it
// returns.
func (p *signingPortal) loginForApproval(t *testing.T, approvalURL string) string {
	t.Helper()
	stepUp := location(t, p.b.get(approvalURL))
	if !strings.HasSuffix(stepUp.Path, "/stepup") {
		t.Fatalf("the approval link went to %s, want the step-up login", stepUp)
	}
	upstream := location(t, p.b.get(stepUp.String()))
	if q := upstream.Query(); q.Get("prompt") != "login" || q.Get("max_age") != "0" {
		t.Fatalf("the step-up asked the eID %s, want prompt=login and max_age=0", upstream)
	}
	cccd := p.cccd
	if cccd == "" {
		cccd = haoCCCD
	}
	cb, err := sim.Login(context.Background(), p.b.client, upstream.String(), cccd, sim.DevPassword)
	if err != nil {
		t.Fatalf("eID login for the approval: %v", err)
	}
	back := location(t, p.b.get(cb.String()))
	if !strings.HasPrefix(back.String(), approvalURL+"?t=") {
		t.Fatalf("the step-up came back to %s, want %s with a ticket", back, approvalURL)
	}
	return back.String()
}

// openApproval logs in for the approval (loginForApproval) and returns the page's URL
// and the page.
func (p *signingPortal) openApproval(t *testing.T, approvalURL string) (pageURL, page string) {
	t.Helper()
	pageURL = p.loginForApproval(t, approvalURL)
	resp := p.b.get(pageURL)
	page = body(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("approval page: %d %.500s", resp.StatusCode, page)
	}
	return pageURL, page
}

// requestStatus is what the portal reads of a signing request.
type requestStatus struct {
	Status  string `json:"status"`
	Failure string `json:"failure"`
}

// wait long-polls the request, as the portal does, until its status is final or 30
// seconds pass.
func (p *signingPortal) wait(t *testing.T, s *stack, id string) requestStatus {
	t.Helper()
	var st requestStatus
	final := map[string]bool{"signed": true, "rejected": true, "canceled": true, "expired": true, "failed": true}
	for deadline := time.Now().Add(30 * time.Second); !final[st.Status] && time.Now().Before(deadline); {
		resp, err := p.api.Get(s.issuer + "/signing/v1/requests/" + id + "?wait=5s")
		if err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal([]byte(body(t, resp)), &st)
	}
	return st
}

// buildMotlan builds the motlan command into a temporary directory.
func buildMotlan(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "motlan")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/motlan").CombinedOutput(); err != nil {
		t.Fatalf("build motlan: %v\n%s", err, out)
	}
	return bin
}

// pdfsigAccepts checks a signed PDF with poppler's pdfsig, trusting Motlan's dev CA root.
func pdfsigAccepts(t *testing.T, s *stack, path string) {
	t.Helper()
	resp, err := http.Get(s.issuer + "/ca/root.crt")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	root, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("/ca/root.crt: %v", err)
	}
	out, _ := testpki.PdfsigFile(t, testpki.NSSDB(t, root), path)
	for _, want := range []string{"Signature is Valid", "Certificate is Trusted", "Total document signed", "ETSI.CAdES.detached", "Lê Công Hảo"} {
		if !strings.Contains(out, want) {
			t.Fatalf("pdfsig lacks %q:\n%s", want, out)
		}
	}
}
