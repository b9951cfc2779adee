package portal_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestDossierDraftAndSupersede: what was typed is kept server-side (the form shows it
// again, right or wrong); the same forms reuse the pending request; changed forms make a
// new one and cancel the old with reason "superseded"; the request names the way back.
func TestDossierDraftAndSupersede(t *testing.T) {
	e := newEnv(t, nil)
	e.do(t, e.client, "GET", "/login", nil)
	id := e.submit(t, "/ho-so", birthForm)

	// Back to the form: the draft is there.
	_, page := e.do(t, e.client, "GET", "/ho-so", nil)
	contains(t, page, `value="Lê Minh Khôi"`, `value="20/11/2026"`, `<option value="father" selected>Cha</option>`,
		`<option value="Kinh" selected>Kinh</option>`, `<option value="Việt Nam" selected>Việt Nam</option>`)
	// "Hồ sơ của tôi" lists it as a draft.
	_, page = e.do(t, e.client, "GET", "/ho-so-cua-toi", nil)
	contains(t, page, `id="drafts"`, `href="/ho-so/khai-sinh"`)

	// The same forms again: the same request.
	if again := e.submit(t, "/ho-so", birthForm); again != id {
		t.Errorf("the same forms made a second request: %s, %s", id, again)
	}
	// Changed forms: a new request, the old one cancelled as superseded.
	changed := url.Values{}
	for k, v := range birthForm {
		changed[k] = v
	}
	changed.Set("child_birthplace", "Trạm y tế xã Quảng Xương")
	second := e.submit(t, "/ho-so", changed)
	e.op.mu.Lock()
	first, latest := *e.op.reqs[id], *e.op.reqs[second]
	e.op.mu.Unlock()
	if second == id || first.Status != "canceled" || first.CancelReason != "superseded" {
		t.Errorf("after changed forms: new %s (old %s) old status %q reason %q", second, id, first.Status, first.CancelReason)
	}
	if !strings.HasSuffix(latest.ReturnURL, "/ho-so/khai-sinh/ky-so") {
		t.Errorf("return_url %q", latest.ReturnURL)
	}
	// The way back leads to the current request.
	resp, _ := e.do(t, e.noRedir, "GET", "/ho-so/khai-sinh/ky-so", nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/ky-so/"+second {
		t.Errorf("return URL: %d to %q", resp.StatusCode, loc)
	}
	// A wrong field is kept too.
	_, page = e.do(t, e.client, "GET", "/ho-so", nil)
	bad := url.Values{"csrf": {csrfRE.FindStringSubmatch(page)[1]}}
	for k, v := range changed {
		bad[k] = v
	}
	bad.Set("child_name", "Lê Minh 2")
	if resp, _ := e.do(t, e.noRedir, "POST", "/ho-so", bad); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad name: %d", resp.StatusCode)
	}
	_, page = e.do(t, e.client, "GET", "/ho-so", nil)
	contains(t, page, `value="Lê Minh 2"`, `value="Trạm y tế xã Quảng Xương"`)
	// A draft that does not pass has no preview.
	if resp, _ := e.do(t, e.noRedir, "GET", "/ho-so/khai-sinh/xem-truoc", nil); resp.Header.Get("Location") != "/ho-so/khai-sinh" {
		t.Errorf("preview of an invalid draft: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestPreviewPDF: each form of the draft is served inline, framable by the portal's own
// pages only, NFC whatever the keyboard sent.
func TestPreviewPDF(t *testing.T) {
	e := newEnv(t, nil)
	_, page := e.do(t, e.client, "GET", "/login", nil)
	f := url.Values{"csrf": {csrfRE.FindStringSubmatch(page)[1]}}
	for k, v := range birthForm {
		f[k] = v
	}
	f.Set("child_name", "Le\u0302 Minh Kho\u0302i") // NFD, as iOS keyboards send it
	if resp, _ := e.do(t, e.noRedir, "POST", "/ho-so", f); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", resp.StatusCode)
	}
	resp, pdf := e.do(t, e.client, "GET", "/ho-so/khai-sinh/xem-truoc/0", nil)
	h := resp.Header
	if resp.StatusCode != http.StatusOK || h.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(h.Get("Content-Disposition"), "inline;") ||
		!strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'self'") || h.Get("X-Frame-Options") != "SAMEORIGIN" ||
		!strings.HasPrefix(pdf, "%PDF-") {
		t.Fatalf("preview PDF: %d %v %.10q", resp.StatusCode, h, pdf)
	}
	_, page = e.do(t, e.client, "GET", "/ho-so", nil)
	contains(t, page, "value=\"L\u00ea Minh Kh\u00f4i\"")
	for _, path := range []string{"/ho-so/khai-sinh/xem-truoc/3", "/ho-so/khai-sinh/xem-truoc/x"} {
		if resp, _ := e.do(t, e.client, "GET", path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	// Every other page keeps frame-ancestors 'none' and allows frames from itself only.
	resp, _ = e.do(t, e.client, "GET", "/ho-so/khai-sinh/xem-truoc", nil)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "frame-src 'self'") {
		t.Errorf("preview page CSP %q", csp)
	}
}
