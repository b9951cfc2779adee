package integration

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/internal/testrssp"
)

// rsspStack is Motlan with signing.provider csc against the test RSSP (internal/testrssp,
// written from the CSC text with nothing of Motlan's CSC code), whose CA issued Lê Công
// Hảo a certificate; her credential asks for a PIN.
func rsspStack(t *testing.T, userID string, mods ...func(*config.Config)) (*stack, *testrssp.RSSP, *testpki.CA) {
	t.Helper()
	ca := testpki.NewCA(t)
	r := testrssp.New(t)
	cert, key := ca.Citizen(t, "ecdsa")
	r.Add("cred-hao", &testrssp.Cred{UserID: haoCCCD, Key: key, Chain: []*x509.Certificate{cert, ca.Root}, Mode: "PIN", PIN: "135790"})
	roots := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStackWith(t, "sqlite", false, append([]func(*config.Config){func(c *config.Config) {
		c.Signing.Provider = "csc"
		c.Signing.CSC = &config.CSC{BaseURL: r.BaseURL(), TokenURL: r.TokenURL(), ClientID: testrssp.ClientID,
			ClientSecret: config.Secret{Value: testrssp.ClientSecret}, UserID: userID, TrustRootsFile: roots, Timeout: config.Duration(2e9)}
	}}, mods...)...)
	return s, r, ca
}

// approvePage opens the approval page and posts it with extra fields; it returns the
// result page.
func (p *signingPortal) approvePage(t *testing.T, approvalURL string, extra url.Values) (int, string) {
	t.Helper()
	_, page := p.openApproval(t, approvalURL) // after the eID login made for it
	form := url.Values{"action": {"approve"}}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([a-z]+)" value="([^"]*)">`).FindAllStringSubmatch(page, -1) {
		form.Add(m[1], m[2])
	}
	for k, v := range extra {
		form[k] = v
	}
	resp := p.b.postForm(approvalURL, form)
	return resp.StatusCode, body(t, resp)
}

// TestCSCAgainstTestRSSP: through the whole stack (portal API, approval page, signing
// service, CSC client) against an RSSP that shares no code with Motlan: a dossier signed
// with the PIN, then each failure the citizen and the portal must see.
func TestCSCAgainstTestRSSP(t *testing.T) {
	s, r, ca := rsspStack(t, "{cccd}")
	r.SetDelay(3e9) // the Slow fault, past the client's 2 s timeout
	p := newSigningPortal(t, s)
	titles := []string{"Tờ khai đăng ký khai sinh", "Giấy chứng sinh"}

	t.Run("signed with the PIN", func(t *testing.T) {
		id, approvalURL := p.requestDossier(t, s, "rssp-ok", "B-T", titles...)
		if _, page := p.openApproval(t, approvalURL); !strings.Contains(page, "Mã PIN chứng thư số") {
			t.Fatalf("the approval page does not ask for the PIN:\n%s", page)
		}
		before := r.Calls()
		if st, page := p.approvePage(t, approvalURL, url.Values{"pin": {"135790"}}); st != 200 || !strings.Contains(page, "Đã ký xong") {
			t.Fatalf("approve: %d\n%s", st, page)
		}
		after := r.Calls()
		if after["signatures/signHash"]-before["signatures/signHash"] != 1 || after["credentials/authorize"]-before["credentials/authorize"] != 1 {
			t.Fatalf("calls before %v, after %v: want one authorize and one signHash", before, after)
		}
		db := ca.NSSDB(t)
		for i := range titles {
			resp, err := p.api.Get(fmt.Sprintf("%s/signing/v1/requests/%s/documents/%d", s.issuer, id, i))
			if err != nil {
				t.Fatal(err)
			}
			signed := []byte(body(t, resp))
			if out, sigs := testpki.Pdfsig(t, db, signed); len(sigs) != 1 || !sigs[0].Valid || !sigs[0].Trusted || sigs[0].CN != "Lê Công Hảo" {
				t.Fatalf("pdfsig, document %d:\n%s", i, out)
			}
			vreq, _ := http.NewRequest(http.MethodPost, s.issuer+"/signing/v1/verify", bytes.NewReader(signed))
			vreq.Header.Set("Content-Type", "application/pdf")
			vresp, err := p.api.Do(vreq)
			if err != nil {
				t.Fatal(err)
			}
			if raw := body(t, vresp); !strings.Contains(raw, `"TOTAL_PASSED"`) {
				t.Fatalf("Motlan's verifier, document %d: %s", i, raw)
			}
		}
	})

	t.Run("wrong PIN asks again", func(t *testing.T) {
		id, approvalURL := p.requestDossier(t, s, "rssp-wrong-pin", "B-T", titles...)
		before := r.Calls()
		if st, page := p.approvePage(t, approvalURL, url.Values{"pin": {"000000"}}); st != http.StatusUnprocessableEntity ||
			!strings.Contains(page, "Sai mã") || !strings.Contains(page, `name="pin"`) {
			t.Fatalf("a wrong PIN: %d\n%s", st, page)
		}
		if st := p.status(t, s, id); st.Status != "pending" {
			t.Fatalf("after a wrong PIN the portal sees %q (%s), want pending", st.Status, st.Failure)
		}
		if st, page := p.approvePage(t, approvalURL, url.Values{"pin": {"135790"}}); st != 200 || !strings.Contains(page, "Đã ký xong") {
			t.Fatalf("the right PIN: %d\n%s", st, page)
		}
		after := r.Calls()
		if after["signatures/signHash"]-before["signatures/signHash"] != 1 || after["credentials/authorize"]-before["credentials/authorize"] != 2 {
			t.Fatalf("calls before %v, after %v: want two authorize and one signHash", before, after)
		}
	})

	for _, tc := range []struct {
		name, fault, pin, failure, says string
	}{
		{"RSSP down", testrssp.Down5xx, "135790", "rssp_unavailable", "không phản hồi"},
		{"SAD expired", testrssp.SADExpired, "135790", "sad_expired", "Phiên xác nhận ký đã hết hạn"},
		{"bad signature", testrssp.BadSignature, "135790", "bad_signature", "không khớp với chứng thư số"},
		{"RSSP slow", testrssp.Slow, "135790", "rssp_timeout", "phản hồi quá chậm"},
		{"credential suspended", testrssp.Suspended, "135790", "credential_suspended", "đang bị tạm dừng"},
		{"certificate revoked", testrssp.Revoked, "135790", "credential_revoked", "đã bị thu hồi hoặc hết hạn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, approvalURL := p.requestDossier(t, s, "rssp-"+strings.ReplaceAll(tc.name, " ", "-"), "B-T", titles...)
			p.openApproval(t, approvalURL) // the page's credential lookup, cached for the approval
			r.Fail(tc.fault)
			defer r.Fail("")
			if _, page := p.approvePage(t, approvalURL, url.Values{"pin": {tc.pin}}); !strings.Contains(page, tc.says) {
				t.Fatalf("the page does not say %q:\n%s", tc.says, page)
			}
			if st := p.status(t, s, id); st.Status != "failed" || st.Failure != tc.failure {
				t.Fatalf("the portal sees %q (%s), want failed (%s)", st.Status, st.Failure, tc.failure)
			}
			if resp, _ := p.api.Get(s.issuer + "/signing/v1/requests/" + id + "/documents/0"); resp.StatusCode == http.StatusOK {
				t.Fatal("a document of a failed request was served")
			} else {
				body(t, resp)
			}
		})
	}
}

// status is the request as the portal reads it now.
func (p *signingPortal) status(t *testing.T, s *stack, id string) requestStatus {
	t.Helper()
	var st requestStatus
	resp, err := p.api.Get(s.issuer + "/signing/v1/requests/" + id)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(body(t, resp)), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// A citizen with no credential at the CA learns it on the approval page, before approving.
func TestCSCNoCredential(t *testing.T) {
	s, _, _ := rsspStack(t, "CCCD:{cccd}") // the RSSP knows her as the bare number
	p := newSigningPortal(t, s)
	_, approvalURL := p.requestDossier(t, s, "rssp-none", "B-T", "Tờ khai")
	pageURL := p.loginForApproval(t, approvalURL) // the eID login made for this link
	resp := p.b.get(pageURL)
	page := body(t, resp)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "Bạn chưa có chứng thư số") || strings.Contains(page, `name="csrf"`) {
		t.Fatalf("%d\n%s", resp.StatusCode, page)
	}
	if en := body(t, p.b.get(pageURL+"&lang=en")); !strings.Contains(en, "You have no signing certificate yet") {
		t.Fatalf("English page:\n%s", en)
	}
}
