package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pdf"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/testpki"
)

// requestAt creates a signing request for one PDF at a PAdES level.
func (p *signingPortal) requestAt(t *testing.T, s *stack, key, level, title string) (id, approvalURL string) {
	t.Helper()
	return p.requestDossier(t, s, key, level, title)
}

func (p *signingPortal) download(t *testing.T, s *stack, id string) []byte {
	t.Helper()
	resp, err := p.api.Get(fmt.Sprintf("%s/signing/v1/requests/%s/documents/0", s.issuer, id))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("download: %d %.300s", resp.StatusCode, b)
	}
	return b
}

// longTermShape reads what pdfsig does not report: the DSS's OCSP responses and CRLs,
// and whether the last signature field holds a document timestamp.
func longTermShape(t *testing.T, data []byte) (ocsps, crls int, lastIsDocTS bool) {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	root := r.Trailer().Key("Root")
	dss := root.Key("DSS")
	fields := root.Key("AcroForm").Key("Fields")
	if n := fields.Len(); n > 0 {
		v := fields.Index(n - 1).Key("V")
		lastIsDocTS = v.Key("Type").Name() == "DocTimeStamp" && v.Key("SubFilter").Name() == "ETSI.RFC3161"
	}
	return dss.Key("OCSPs").Len(), dss.Key("CRLs").Len(), lastIsDocTS
}

// checkLongTerm checks a B-LT or B-LTA file: pdfsig (trusting the dev CA) finds the
// citizen's signature valid and trusted, then wantDocTS document timestamps; Motlan's
// verifier passes every one; the DSS holds OCSP responses.
func checkLongTerm(t *testing.T, s *stack, api *http.Client, data []byte, wantDocTS int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lt.pdf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	root := fetchCert(t, s.issuer+"/ca/root.crt")
	out, sigs := testpki.PdfsigFile(t, testpki.NSSDB(t, root), path)
	if len(sigs) != 1+wantDocTS {
		t.Fatalf("pdfsig lists %d signatures, want %d:\n%s", len(sigs), 1+wantDocTS, out)
	}
	if c := sigs[0]; !c.Valid || !c.Trusted || !c.CAdES || c.CN != "Lê Công Hảo" {
		t.Fatalf("pdfsig: the citizen's signature valid=%v trusted=%v:\n%s", c.Valid, c.Trusted, out)
	}
	for _, ts := range sigs[1:] {
		// poppler 22.12 cannot validate ETSI.RFC3161 document timestamps; Motlan's
		// verifier checks them below.
		if ts.CN != "Motlan Dev CA Time-Stamping Authority" || (!ts.Valid && !strings.Contains(out, "Unable to validate this type of signature")) {
			t.Fatalf("pdfsig: document timestamp:\n%s", out)
		}
	}
	if wantDocTS > 0 && !sigs[len(sigs)-1].Total {
		t.Fatalf("pdfsig: the last document timestamp does not cover the whole file:\n%s", out)
	}
	ocsps, crls, lastTS := longTermShape(t, data)
	if ocsps < 2 || crls < 1 || lastTS != (wantDocTS > 0) {
		t.Fatalf("DSS: %d OCSP responses (want the signer's and the TSA's), %d CRLs; last field a document timestamp: %v", ocsps, crls, lastTS)
	}
	vreq, _ := http.NewRequest(http.MethodPost, s.issuer+"/signing/v1/verify", bytes.NewReader(data))
	vreq.Header.Set("Content-Type", "application/pdf")
	vresp, err := api.Do(vreq)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Signatures []struct {
			Type       string `json:"type"`
			Indication string `json:"indication"`
		} `json:"signatures"`
	}
	raw := body(t, vresp)
	if json.Unmarshal([]byte(raw), &rep) != nil || len(rep.Signatures) != 1+wantDocTS {
		t.Fatalf("verify: %d %s", vresp.StatusCode, raw)
	}
	for _, sig := range rep.Signatures {
		if sig.Indication != "TOTAL_PASSED" {
			t.Fatalf("verify: %s", raw)
		}
	}
}

// TestLongTermSigning: requests at B-LT and B-LTA, approved by the citizen, give files
// with a DSS (and a document timestamp) that pdfsig and Motlan's verifier accept.
func TestLongTermSigning(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			s := newStack(t, driver)
			p := newSigningPortal(t, s)
			for _, tc := range []struct {
				level string
				docTS int
			}{{"B-LT", 0}, {"B-LTA", 1}} {
				t.Run(tc.level, func(t *testing.T) {
					title := "Tờ khai đăng ký khai sinh " + tc.level
					id, approvalURL := p.requestAt(t, s, "lt-"+tc.level, tc.level, title)
					p.approve(t, approvalURL, title)
					if st := p.wait(t, s, id); st.Status != "signed" {
						t.Fatalf("status %q (%s), want signed", st.Status, st.Failure)
					}
					checkLongTerm(t, s, p.api, p.download(t, s, id), tc.docTS)
				})
			}
		})
	}
}

// postExtend calls POST /signing/v1/extend with a multipart form.
func postExtend(t *testing.T, s *stack, api *http.Client, level string, doc []byte) (*http.Response, []byte) {
	t.Helper()
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	if level != "" {
		_ = mw.WriteField("level", level)
	}
	fw, _ := mw.CreateFormFile("document", "ho-so.pdf")
	_, _ = fw.Write(doc)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, s.issuer+"/signing/v1/extend", &form)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// TestExtendAPIAndCommand takes a B-T file to B-LTA through the API and through motlan
// extend, renews the archive timestamp, and refuses bad input with problem documents.
func TestExtendAPIAndCommand(t *testing.T) {
	var cfg *config.Config
	s := newStackWith(t, "sqlite", false, func(c *config.Config) { cfg = c })
	p := newSigningPortal(t, s)
	title := "Tờ khai đăng ký thường trú"
	id, approvalURL := p.request(t, s, "bt-for-extend", title)
	p.approve(t, approvalURL, title)
	if st := p.wait(t, s, id); st.Status != "signed" {
		t.Fatalf("status %q (%s)", st.Status, st.Failure)
	}
	bt := p.download(t, s, id)

	// Through the API.
	resp, lta := postExtend(t, s, p.api, "B-LTA", bt)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(lta, bt) {
		t.Fatalf("extend: %d %s %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), lta)
	}
	checkLongTerm(t, s, p.api, lta, 1)
	// The archive's renewal: fresh evidence and a second document timestamp.
	time.Sleep(1100 * time.Millisecond)
	resp, renewed := postExtend(t, s, p.api, "B-LTA", lta)
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(renewed, lta) {
		t.Fatalf("renew: %d %.300s", resp.StatusCode, renewed)
	}
	checkLongTerm(t, s, p.api, renewed, 2)

	// Bad input.
	for _, tc := range []struct {
		name, level string
		doc         []byte
		status      int
		typ         string
	}{
		{"not a PDF", "B-LTA", []byte("Tờ khai, not a PDF"), 422, "not-pdf"},
		{"unsigned PDF", "B-LT", onePagePDF("unsigned"), 422, "not-signed"},
		{"unknown level", "B-LTX", bt, 400, "invalid-request"},
		{"no level", "", bt, 400, "invalid-request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := postExtend(t, s, p.api, tc.level, tc.doc)
			var prob struct {
				Type   string `json:"type"`
				Status int    `json:"status"`
			}
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/problem+json" ||
				json.Unmarshal(b, &prob) != nil || prob.Type != "https://motlan.vn/problems/"+tc.typ || prob.Status != tc.status {
				t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
		})
	}
	resp, _ = postExtend(t, s, http.DefaultClient, "B-LTA", bt)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("extend without a token: %d", resp.StatusCode)
	}

	// Through the command, against the same store (no server needed).
	bin := buildMotlan(t)
	dir := t.TempDir()
	in, outPath := filepath.Join(dir, "bt.pdf"), filepath.Join(dir, "lta.pdf")
	if err := os.WriteFile(in, bt, 0o600); err != nil {
		t.Fatal(err)
	}
	configFile := writeStackConfig(t, *cfg)
	out, err := exec.Command(bin, "extend", "--config", configFile, "--level", "B-LTA", in, "-o", outPath).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "extended "+in+" to B-LTA") {
		t.Fatalf("motlan extend: %v\n%s", err, out)
	}
	fromCmd, err := os.ReadFile(outPath)
	if err != nil || !bytes.HasPrefix(fromCmd, bt) {
		t.Fatalf("motlan extend output: %v", err)
	}
	checkLongTerm(t, s, p.api, fromCmd, 1)
	unsigned := filepath.Join(dir, "unsigned.pdf")
	_ = os.WriteFile(unsigned, onePagePDF("unsigned"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--level", "B-LTA", unsigned, "-o", filepath.Join(dir, "x.pdf")}, "no signature to extend"},
		{[]string{"--level", "B-T", in, "-o", filepath.Join(dir, "x.pdf")}, "want B-LT or B-LTA"},
		{[]string{"--level", "B-LT", in}, "-o OUT.pdf is required"},
		{[]string{"--level", "B-LT", in, "-o", in}, "must differ from the input"},
	} {
		out, err := exec.Command(bin, append([]string{"extend", "--config", configFile}, tc.args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Fatalf("motlan extend %v: %v, want an error about %q:\n%s", tc.args, err, tc.want, out)
		}
	}
}

// TestAdminRevokeAPI: an operator client with scope admin revokes the citizen's
// certificate over HTTP; the CRL and OCSP report it and the citizen's key signs no more.
// Clients not configured with admin cannot get the scope.
func TestAdminRevokeAPI(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) { testAdminRevokeAPI(t, driver) })
	}
}

func testAdminRevokeAPI(t *testing.T, driver string) {
	opsSecret := randSecret()
	var cfg *config.Config
	s := newStackWith(t, driver, false, func(c *config.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "ops", Name: "Vận hành", Secret: config.Secret{Value: opsSecret},
			RedirectURIs: []string{"https://ops.example.test/cb"}, Scopes: []string{"admin"}})
		cfg = c
	})
	title := "Tờ khai đăng ký khai sinh"
	p := newSigningPortal(t, s)
	id, approvalURL := p.request(t, s, "before-admin-revocation", title)
	p.approve(t, approvalURL, title)
	if st := p.wait(t, s, id); st.Status != "signed" {
		t.Fatalf("status %q (%s)", st.Status, st.Failure)
	}
	serial := signerSerial(t, s, p, id)
	revokeURL := fmt.Sprintf("%s/admin/v1/certificates/%x/revoke", s.issuer, serial)

	// The portal may not ask for admin; its signing token is refused by the admin API.
	portalAdmin := clientcredentials.Config{ClientID: s.portal.id, ClientSecret: s.portal.secret, TokenURL: s.issuer + "/token",
		Scopes: []string{"admin"}, AuthStyle: oauth2.AuthStyleInHeader}
	if _, err := portalAdmin.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid_scope") {
		t.Fatalf("portal got an admin token: %v", err)
	}
	post := func(c *http.Client, u, payload string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Post(u, "application/json", strings.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		return resp, body(t, resp)
	}
	if resp, raw := post(p.api, revokeURL, `{"reason":"keyCompromise"}`); resp.StatusCode != http.StatusForbidden || !strings.Contains(raw, "insufficient-scope") {
		t.Fatalf("signing token on the admin API: %d %s", resp.StatusCode, raw)
	}
	if resp, _ := post(http.DefaultClient, revokeURL, `{"reason":"keyCompromise"}`); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", resp.StatusCode)
	}

	ops := (&clientcredentials.Config{ClientID: "ops", ClientSecret: opsSecret, TokenURL: s.issuer + "/token",
		Scopes: []string{"admin"}, AuthStyle: oauth2.AuthStyleInHeader}).Client(context.Background())
	for _, tc := range []struct {
		name, url, body string
		status          int
		typ             string
	}{
		{"bad reason", revokeURL, `{"reason":"boredom"}`, 400, "invalid-request"},
		{"unknown serial", s.issuer + "/admin/v1/certificates/abcdef0123456789/revoke", `{"reason":"keyCompromise"}`, 404, "not-found"},
	} {
		if resp, raw := post(ops, tc.url, tc.body); resp.StatusCode != tc.status || !strings.Contains(raw, "/problems/"+tc.typ) {
			t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, raw)
		}
	}
	resp, raw := post(ops, revokeURL, `{"reason":"keyCompromise"}`)
	var rev struct {
		Serial, Reason string
		RevokedAt      time.Time `json:"revoked_at"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(raw), &rev) != nil || rev.Serial != serial.Text(16) || rev.Reason != "keyCompromise" || rev.RevokedAt.IsZero() {
		t.Fatalf("revoke: %d %s", resp.StatusCode, raw)
	}
	if resp, raw := post(ops, revokeURL, `{"reason":"superseded"}`); resp.StatusCode != http.StatusConflict || !strings.Contains(raw, "already-revoked") || !strings.Contains(raw, "keyCompromise") {
		t.Fatalf("second revocation: %d %s", resp.StatusCode, raw)
	}

	// The act is in the audit log, by the operator client, once.
	st, err := sqlstore.Open(context.Background(), sqlstore.Config{Driver: driver, DSN: cfg.Storage.DSN.Value})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := st.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, r := range recs {
		if r.Kind == "certificate.revoke" && r.Actor == "client:ops" && strings.Contains(string(r.Details), `"serial":"`+serial.Text(16)+`"`) {
			audited++
		}
	}
	if audited != 1 {
		t.Errorf("%d audit records of the API revocation by client:ops, want 1", audited)
	}

	issuing := fetchCert(t, s.issuer+"/ca/issuing.crt")
	var crlOK, ocspOK bool
	var last string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !(crlOK && ocspOK); time.Sleep(250 * time.Millisecond) {
		if !crlOK {
			crlOK, last = crlRevokes(t, s, issuing, serial)
		}
		if !ocspOK {
			ocspOK, last = ocspRevoked(t, s, issuing, serial)
		}
	}
	if !crlOK || !ocspOK {
		t.Fatalf("after 20 s: CRL %v, OCSP %v; last: %s", crlOK, ocspOK, last)
	}

	id2, approvalURL2 := p.request(t, s, "after-admin-revocation", title)
	p.approve(t, approvalURL2, title)
	if st := p.wait(t, s, id2); st.Status != "failed" || !strings.Contains(st.Failure, "revoked") {
		t.Fatalf("signing after revocation: %q %q, want failed, certificate revoked", st.Status, st.Failure)
	}
}
