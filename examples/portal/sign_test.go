package portal_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// signAPI is the test provider's signing API, as README "Remote signing" documents it:
// enough to drive the portal's "Ký số" page through every status and failure. The real
// Motlan signs in integration/browser_test.go.
type signAPI struct {
	ccTokens map[string]bool
	reqs     map[string]*fakeRequest
	changed  chan struct{} // closed and replaced on every change
	signDown bool          // every signing call answers 503
	refuse   int           // create answers this status with a problem
	ccRefuse bool          // the token endpoint refuses client_credentials
	seq      int
}

type fakeRequest struct {
	ID, Subject, Status, Reason string
	Version                     int64
	Titles                      []string
	PDFs                        [][]byte
	Placements                  []string
	IdemKey                     string
	ReturnURL                   string
	CancelReason                string
}

func (o *testOP) signingRoutes(mux *http.ServeMux) {
	o.changed = make(chan struct{})
	o.reqs = map[string]*fakeRequest{}
	auth := func(w http.ResponseWriter, r *http.Request) bool {
		at, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		o.mu.Lock()
		ok, down := o.ccTokens[at], o.signDown
		o.mu.Unlock()
		switch {
		case !ok:
			problem(w, http.StatusUnauthorized, "unauthorized")
		case down:
			problem(w, http.StatusServiceUnavailable, "unavailable")
		}
		return ok && !down
	}
	mux.HandleFunc("POST /signing/v1/requests", func(w http.ResponseWriter, r *http.Request) {
		if !auth(w, r) {
			return
		}
		if o.locked(func() bool { return o.refuse != 0 }) {
			o.mu.Lock()
			st := o.refuse
			o.mu.Unlock()
			problem(w, st, map[int]string{422: "not-pdf", 403: "insufficient-scope", 500: "internal"}[st])
			return
		}
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			problem(w, http.StatusBadRequest, "invalid-request")
			return
		}
		fr := &fakeRequest{Subject: r.FormValue("subject"), Reason: r.FormValue("reason"), Status: "pending", Version: 1, ReturnURL: r.FormValue("return_url"),
			Titles: r.MultipartForm.Value["title"], Placements: r.MultipartForm.Value["placement"], IdemKey: r.Header.Get("Idempotency-Key")}
		for _, fh := range r.MultipartForm.File["document"] {
			f, _ := fh.Open()
			b, _ := io.ReadAll(f)
			f.Close()
			fr.PDFs = append(fr.PDFs, b)
		}
		o.mu.Lock()
		for _, old := range o.reqs { // Idempotency-Key: the same request again
			if old.IdemKey == fr.IdemKey {
				o.mu.Unlock()
				writeJSON(w, o.requestJSON(old))
				return
			}
		}
		o.seq++
		fr.ID = fmt.Sprintf("req%d", o.seq)
		o.reqs[fr.ID] = fr
		o.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(o.requestJSON(fr))
	})
	mux.HandleFunc("POST /signing/v1/requests/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		if !auth(w, r) {
			return
		}
		var body struct {
			Reason string `json:"reason"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		o.mu.Lock()
		fr, ok := o.reqs[r.PathValue("id")]
		if ok && (fr.Status == "pending" || fr.Status == "signing") {
			fr.Status, fr.CancelReason = "canceled", body.Reason
			fr.Version++
		}
		o.mu.Unlock()
		if !ok {
			problem(w, http.StatusNotFound, "not-found")
			return
		}
		o.mu.Lock()
		v := o.requestJSON(fr)
		o.mu.Unlock()
		writeJSON(w, v)
	})
	mux.HandleFunc("GET /signing/v1/requests/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !auth(w, r) {
			return
		}
		since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		wait := time.Duration(0)
		if r.URL.Query().Has("wait") {
			wait = 2 * time.Second // the test's stand-in for 25 s
		}
		deadline := time.After(wait)
		for {
			o.mu.Lock()
			fr, ok := o.reqs[r.PathValue("id")]
			var v map[string]any
			if ok {
				v = o.requestJSON(fr)
			}
			changed := o.changed
			final := ok && fr.Status != "pending" && fr.Status != "signing"
			moved := ok && fr.Version > since
			o.mu.Unlock()
			if !ok {
				problem(w, http.StatusNotFound, "not-found")
				return
			}
			if wait == 0 || final || moved {
				writeJSON(w, v)
				return
			}
			select {
			case <-changed:
			case <-deadline:
				writeJSON(w, v)
				return
			case <-r.Context().Done():
				return
			}
		}
	})
}

// requestJSON is a request as the API answers it; call with o.mu held.
func (o *testOP) requestJSON(fr *fakeRequest) map[string]any {
	var docs []map[string]any
	for i, title := range fr.Titles {
		docs = append(docs, map[string]any{"index": i, "title": title, "pages": 1, "sha256": strings.Repeat("a", 64)})
	}
	return map[string]any{
		"id": fr.ID, "status": fr.Status, "subject": fr.Subject, "reason": fr.Reason, "version": fr.Version,
		"expires_at":   time.Date(2026, 11, 27, 4, 15, 0, 0, time.UTC).Format(time.RFC3339),
		"approval_url": o.issuer + "/sign/" + fr.ID, "documents": docs,
	}
}

// setStatus moves request id on, waking long polls.
func (o *testOP) setStatus(id, status string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fr := o.reqs[id]
	fr.Status = status
	fr.Version++
	close(o.changed)
	o.changed = make(chan struct{})
}

func problem(w http.ResponseWriter, status int, typ string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "https://motlan.vn/problems/" + typ, "title": typ, "status": status})
}

var (
	birthForm = url.Values{"child_name": {"Lê Minh Khôi"}, "child_birthdate": {"2026-11-20"}, "child_sex": {"male"},
		"child_birthplace": {"Bệnh viện Đa khoa tỉnh Thanh Hóa"}, "applicant_relation": {"father"}, "applicant_ethnicity": {"Kinh"},
		"child_ethnicity": {"Kinh"}, "child_nationality": {"Việt Nam"}}
	signPath = regexp.MustCompile(`^/ky-so/(req[0-9]+)$`)
)

// submit posts the bundle form at path (the draft), opens the preview and presses "Ký
// số" there; it returns the signing request's id.
func (e *env) submit(t *testing.T, path string, form url.Values) string {
	t.Helper()
	resp, body := e.signForm(t, path, form)
	m := signPath.FindStringSubmatch(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("Ký số: %d to %q\n%.2000s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	return m[1]
}

// signForm saves the form at path, checks the preview it leads to, and posts "Ký số";
// it returns that answer, unfollowed.
func (e *env) signForm(t *testing.T, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	_, page := e.do(t, e.client, "GET", path, nil)
	csrf := csrfRE.FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("no CSRF token on %s", path)
	}
	f := url.Values{"csrf": {csrf[1]}}
	for k, v := range form {
		f[k] = v
	}
	resp, body := e.do(t, e.noRedir, "POST", path, f)
	preview := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(preview, "/xem-truoc") {
		t.Fatalf("saving the form: %d to %q\n%.2000s", resp.StatusCode, preview, body)
	}
	resp, page = e.do(t, e.client, "GET", preview, nil)
	frames := regexp.MustCompile(`<iframe class="pdf-preview" src="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if resp.StatusCode != http.StatusOK || len(frames) != 3 {
		t.Fatalf("preview: %d with %d PDFs\n%.2000s", resp.StatusCode, len(frames), page)
	}
	action := regexp.MustCompile(`<form id="sign-form" method="post" action="([^"]+)">`).FindStringSubmatch(page)
	if action == nil {
		t.Fatalf("preview without the Ký số form:\n%.2000s", page)
	}
	return e.do(t, e.noRedir, "POST", action[1], url.Values{"csrf": {csrf[1]}})
}

func (e *env) status(t *testing.T, c *http.Client, id, query string) (int, map[string]any) {
	t.Helper()
	resp, body := e.do(t, c, "GET", "/ky-so/"+id+"/trang-thai"+query, nil)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("status endpoint Content-Type %q: %s", ct, body)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("status JSON: %v: %s", err, body)
	}
	return resp.StatusCode, v
}

// TestSignRequestCreated: "Ký số" renders the three forms and creates one request with
// them, for the citizen's subject; the page shows the QR code, the link and the script,
// under a CSP that lets only its own nonce run.
func TestSignRequestCreated(t *testing.T) {
	e := newEnv(t, nil)
	e.do(t, e.client, "GET", "/login", nil)
	id := e.submit(t, "/ho-so", birthForm)

	e.op.mu.Lock()
	fr := *e.op.reqs[id]
	e.op.mu.Unlock()
	if fr.Subject != subject {
		t.Errorf("request subject %q, want %q", fr.Subject, subject)
	}
	wantTitles := []string{"Tờ khai đăng ký khai sinh", "Tờ khai đăng ký thường trú", "Tờ khai tham gia bảo hiểm y tế"}
	if strings.Join(fr.Titles, "|") != strings.Join(wantTitles, "|") || len(fr.PDFs) != 3 || len(fr.Placements) != 3 {
		t.Fatalf("request titles %q, %d PDFs, %d placements", fr.Titles, len(fr.PDFs), len(fr.Placements))
	}
	for i, pdf := range fr.PDFs {
		if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
			t.Errorf("document %d is not a PDF", i)
		}
		var pl struct {
			Page int        `json:"page"`
			Rect [4]float64 `json:"rect"`
		}
		if err := json.Unmarshal([]byte(fr.Placements[i]), &pl); err != nil || pl.Page != 1 ||
			pl.Rect[0] <= 0 || pl.Rect[2] <= pl.Rect[0] || pl.Rect[3] <= pl.Rect[1] || pl.Rect[2] > 595.3 || pl.Rect[3] > 841.9 {
			t.Errorf("document %d placement %s", i, fr.Placements[i])
		}
	}
	if !strings.Contains(fr.Reason, "khai sinh") {
		t.Errorf("reason %q", fr.Reason)
	}

	// A second press of the same form (double click, back and resubmit) is the same request.
	resp, page := e.do(t, e.client, "GET", "/ky-so/"+id, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign page: %d", resp.StatusCode)
	}
	contains(t, page, `id="signing" data-status="pending"`, `<img id="sign-qr" src="/ky-so/`+id+`/qr.png"`,
		`<a id="approval-link" href="`+e.op.issuer+`/sign/`+id+`">`, `id="refresh" class="button secondary" href="/ky-so/`+id+`"`,
		"Tờ khai đăng ký thường trú", "Quét mã QR bằng camera điện thoại")
	nonce := regexp.MustCompile(`<script nonce="([^"]+)">`).FindStringSubmatch(page)
	if csp := resp.Header.Get("Content-Security-Policy"); nonce == nil || !strings.Contains(csp, "script-src 'nonce-"+nonce[1]+"'") ||
		!strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("script nonce %v does not match CSP %q", nonce, csp)
	}
	if regexp.MustCompile(`\son[a-z]+=`).MatchString(page) {
		t.Error("the page has an inline event handler")
	}

	resp, img := e.do(t, e.client, "GET", "/ky-so/"+id+"/qr.png", nil)
	if resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("QR: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if cfg, err := png.DecodeConfig(strings.NewReader(img)); err != nil || cfg.Width < 200 {
		t.Errorf("QR PNG: %v %+v", err, cfg)
	}

	// In English; the language switch stays on the page.
	_, page = e.do(t, e.client, "GET", "/ky-so/"+id+"?lang=en", nil)
	contains(t, page, `<html lang="en">`, "<h1 id=\"sign-title\">Sign the application</h1>", "Scan the QR code with your phone",
		"Birth, permanent residence and health-insurance card for a child under six", `id="lang-switch" href="/ky-so/`+id+`?lang=vi"`)
	_, v := e.status(t, e.client, id, "")
	if !strings.HasPrefix(fmt.Sprint(v["message"]), "Scan the QR code") {
		t.Errorf("status message in English: %v", v)
	}
}

// TestSignStatusEndpoint drives the JSON endpoint the page polls through each status and
// failure.
func TestSignStatusEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	e.do(t, e.client, "GET", "/login", nil)

	tests := []struct {
		name       string
		to         string // status the phone moves the request to, after 100 ms
		query      string
		wantCode   int
		wantStatus string
		wantFinal  bool
		wantMsg    string
	}{
		{"signed while waiting", "signed", "?since=1", 200, "signed", true, "Đã ký số xong cả ba tờ khai"},
		{"declined on the phone", "rejected", "?since=1", 200, "rejected", true, "Bạn đã từ chối ký trên điện thoại"},
		{"expired", "expired", "?since=1", 200, "expired", true, "Yêu cầu ký đã hết hạn"},
		{"signing in progress", "signing", "?since=1", 200, "signing", false, "Đang ký các tài liệu"},
		{"no change before the wait ends", "", "?since=1", 200, "pending", false, "Quét mã QR"},
		{"no version: at once", "", "", 200, "pending", false, "Quét mã QR"},
		{"bad version: at once", "", "?since=-4", 200, "pending", false, "Quét mã QR"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{}
			for k, v := range birthForm {
				f[k] = v
			}
			// Changed forms: a new request each time (the previous one is superseded).
			f.Set("child_birthplace", "Bệnh viện số "+strconv.Itoa(i))
			id := e.submit(t, "/ho-so", f)
			if tc.to != "" {
				time.AfterFunc(100*time.Millisecond, func() { e.op.setStatus(id, tc.to) })
			}
			start := time.Now()
			code, v := e.status(t, e.client, id, tc.query)
			if code != tc.wantCode || v["status"] != tc.wantStatus || v["final"] != tc.wantFinal ||
				!strings.Contains(fmt.Sprint(v["message"]), tc.wantMsg) {
				t.Fatalf("got %d %v, want %d %s final=%v %q", code, v, tc.wantCode, tc.wantStatus, tc.wantFinal, tc.wantMsg)
			}
			if tc.query == "" && time.Since(start) > time.Second {
				t.Errorf("without a version the endpoint waited %v", time.Since(start))
			}
			if tc.to == "" && tc.query == "?since=1" && time.Since(start) < time.Second {
				t.Errorf("the endpoint did not long-poll: answered after %v", time.Since(start))
			}
		})
	}

	id := e.submit(t, "/ho-so", birthForm)
	t.Run("signing API down", func(t *testing.T) {
		e.op.mu.Lock()
		e.op.signDown = true
		e.op.mu.Unlock()
		defer func() { e.op.mu.Lock(); e.op.signDown = false; e.op.mu.Unlock() }()
		code, v := e.status(t, e.client, id, "?since=1")
		if code != http.StatusServiceUnavailable || v["final"] != false || !strings.Contains(fmt.Sprint(v["message"]), "Không kết nối được với hệ thống ký số") {
			t.Errorf("got %d %v", code, v)
		}
		resp, page := e.do(t, e.client, "GET", "/ky-so/"+id, nil)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "Hệ thống ký số chưa sẵn sàng") || strings.Contains(page, `id="retry-login"`) {
			t.Errorf("sign page with the API down: %d\n%s", resp.StatusCode, page)
		}
	})
	t.Run("another citizen's request", func(t *testing.T) {
		e.op.mu.Lock()
		e.op.reqs[id].Subject = "someone-else"
		e.op.mu.Unlock()
		defer func() { e.op.mu.Lock(); e.op.reqs[id].Subject = subject; e.op.mu.Unlock() }()
		if code, v := e.status(t, e.client, id, ""); code != http.StatusNotFound || v["final"] != true {
			t.Errorf("got %d %v, want 404", code, v)
		}
		for _, path := range []string{"/ky-so/" + id, "/ky-so/" + id + "/qr.png", "/ky-so/" + id + "/tai-lieu/0"} {
			if resp, _ := e.do(t, e.client, "GET", path, nil); resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", path, resp.StatusCode)
			}
		}
	})
	t.Run("unknown or malformed id", func(t *testing.T) {
		for _, id := range []string{"req999", "bad.id", strings.Repeat("x", 200)} {
			if code, _ := e.status(t, e.client, id, ""); code != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", id, code)
			}
		}
	})
	t.Run("no session", func(t *testing.T) {
		anon := &http.Client{Timeout: 10 * time.Second}
		if code, v := e.status(t, anon, id, ""); code != http.StatusUnauthorized || v["status"] != "error" {
			t.Errorf("got %d %v, want 401", code, v)
		}
	})
}

// TestSignPageStates: the page a final request leaves, and what it offers next.
func TestSignPageStates(t *testing.T) {
	e := newEnv(t, nil)
	e.do(t, e.client, "GET", "/login", nil)
	for i, tc := range []struct {
		status string
		bundle string
		form   url.Values
		want   []string
	}{
		{"rejected", "/ho-so", birthForm, []string{`data-status="rejected"`, "Bạn đã từ chối ký trên điện thoại", `<a id="sign-again" class="button" href="/ho-so/khai-sinh">`}},
		{"expired", "/ho-so/khai-tu", deathForm, []string{`data-status="expired"`, "Yêu cầu ký đã hết hạn trước khi được phê duyệt", `href="/ho-so/khai-tu"`,
			"Khai tử, xóa đăng ký thường trú và trợ cấp mai táng"}},
		{"failed", "/ho-so", birthForm, []string{"Hệ thống ký số gặp lỗi khi ký"}},
		// Signed, but the signed copies cannot be fetched for checking: said per document.
		{"signed", "/ho-so", birthForm, []string{`data-status="signed"`, `class="signed-doc"`, "Chưa kiểm tra được chữ ký lúc này",
			`<a class="download" href="/ky-so/req`}},
	} {
		t.Run(tc.status, func(t *testing.T) {
			f := url.Values{}
			for k, v := range tc.form {
				f[k] = v
			}
			// Changed forms: a new request each time.
			if tc.bundle == "/ho-so" {
				f.Set("child_birthplace", "Bệnh viện số "+strconv.Itoa(i))
			} else {
				f.Set("death_place", "Nhà riêng số "+strconv.Itoa(i))
			}
			id := e.submit(t, tc.bundle, f)
			e.op.setStatus(id, tc.status)
			resp, page := e.do(t, e.client, "GET", "/ky-so/"+id, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d", resp.StatusCode)
			}
			contains(t, page, tc.want...)
			if strings.Contains(page, "<script") || strings.Contains(page, `id="sign-qr"`) {
				t.Error("a final request's page still polls or shows the QR code")
			}
		})
	}
}

// TestSignCreateFailures: the signing API refusing or failing is a clear page, and the
// citizen's typed data is not lost (the form is one Back away).
func TestSignCreateFailures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		down     bool
		refuse   int
		status   int
		kind     string
		text     string
		withCode bool
	}{
		{"unavailable", true, 0, 503, "sign_unavailable", "Không kết nối được với hệ thống ký số", true},
		{"document refused", false, 422, 502, "sign_refused", "Hệ thống ký số không nhận hồ sơ này", true},
		{"portal lacks the scope", false, 403, 502, "sign_config", "Cổng dịch vụ chưa được cấu hình đúng", true},
		{"internal error", false, 500, 503, "sign_unavailable", "Không kết nối được với hệ thống ký số", true},
		{"portal's token refused", false, -1, 502, "sign_config", "Cổng dịch vụ chưa được cấu hình đúng", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *testOP) {
				o.signDown, o.refuse, o.ccRefuse = tc.down, max(tc.refuse, 0), tc.refuse < 0
			})
			e.do(t, e.client, "GET", "/login", nil)
			resp, body := e.signForm(t, "/ho-so", birthForm)
			if resp.StatusCode != tc.status {
				t.Fatalf("got %d, want %d\n%s", resp.StatusCode, tc.status, body)
			}
			contains(t, body, `data-error="`+tc.kind+`"`, tc.text, `id="back-home"`)
			if strings.Contains(body, `id="error-code"`) != tc.withCode {
				t.Errorf("error code shown: %v, want %v", !tc.withCode, tc.withCode)
			}
		})
	}
}

var deathForm = url.Values{"deceased_name": {"Lê Văn Lĩnh"}, "deceased_cccd": {"038045001234"}, "deceased_birthdate": {"1945-01-01"},
	"deceased_sex": {"male"}, "death_date": {"2026-11-20"}, "death_place": {"Nhà riêng, thôn Ĩnh, xã Quảng Xương"},
	"deceased_address": {"Thôn Ĩnh, xã Quảng Xương, tỉnh Thanh Hóa"}, "relationship": {"child"}}

// TestDossierValidation: wrong or missing fields come back as messages beside each field
// and in a summary, with what was typed kept; nothing is sent for signing.
func TestDossierValidation(t *testing.T) {
	e := newEnv(t, nil)
	e.do(t, e.client, "GET", "/login", nil)
	with := func(base url.Values, kv ...string) url.Values {
		f := url.Values{}
		for k, v := range base {
			f[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	tests := []struct {
		name, path string
		form       url.Values
		field      string
		msg        string
		keep       string // a typed value shown again
	}{
		{"empty form", "/ho-so", url.Values{}, "child-name", "Vui lòng nhập thông tin này.", ""},
		{"impossible date", "/ho-so", with(birthForm, "child_birthdate", "2025-02-30"), "child-birthdate", "Ngày không hợp lệ", `value="Lê Minh Khôi"`},
		{"not a date", "/ho-so", with(birthForm, "child_birthdate", "hôm qua"), "child-birthdate", "Ngày không hợp lệ", `value="Bệnh viện Đa khoa tỉnh Thanh Hóa"`},
		{"future birth", "/ho-so", with(birthForm, "child_birthdate", "2099-01-01"), "child-birthdate", "Ngày này chưa đến.", ""},
		{"child too old", "/ho-so", with(birthForm, "child_birthdate", "2015-05-05"), "child-birthdate", "dành cho trẻ dưới 6 tuổi", ""},
		{"digits in a name", "/ho-so", with(birthForm, "child_name", "Lê Minh 2"), "child-name", "Họ tên chỉ gồm chữ cái", `value="Lê Minh 2"`},
		{"sex not offered", "/ho-so", with(birthForm, "child_sex", "x"), "child-sex", "Vui lòng chọn một mục.", ""},
		{"blank place", "/ho-so/khai-sinh", with(birthForm, "child_birthplace", "   "), "child-birthplace", "Vui lòng nhập thông tin này.", ""},
		{"short CCCD", "/ho-so/khai-tu", with(deathForm, "deceased_cccd", "03804500123"), "deceased-cccd", "gồm đúng 12 chữ số", `value="03804500123"`},
		{"CCCD of another birth year", "/ho-so/khai-tu", with(deathForm, "deceased_cccd", "038050001234"), "deceased-cccd", "không khớp với năm sinh và giới tính", ""},
		{"death before birth", "/ho-so/khai-tu", with(deathForm, "death_date", "1944-12-31"), "death-date", "Ngày mất không thể trước ngày sinh.", ""},
		{"relationship missing", "/ho-so/khai-tu", with(deathForm, "relationship", ""), "relationship", "Vui lòng chọn một mục.", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, page := e.do(t, e.client, "GET", tc.path, nil)
			f := with(tc.form, "csrf", csrfRE.FindStringSubmatch(page)[1])
			resp, body := e.do(t, e.noRedir, "POST", tc.path, f)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("got %d, want 422", resp.StatusCode)
			}
			contains(t, body, `id="form-errors"`, `<a href="#`+tc.field+`">`,
				`aria-invalid="true" aria-describedby="`+tc.field+`-error"`)
			m := regexp.MustCompile(`<span id="` + tc.field + `-error" class="field-error">([^<]*)</span>`).FindStringSubmatch(body)
			if m == nil || !strings.Contains(m[1], tc.msg) {
				t.Errorf("message beside #%s: %v, want %q", tc.field, m, tc.msg)
			}
			if tc.keep != "" {
				contains(t, body, tc.keep)
			}
		})
	}
	e.op.mu.Lock()
	n := len(e.op.reqs)
	e.op.mu.Unlock()
	if n != 0 {
		t.Errorf("%d signing requests created from invalid forms", n)
	}
	// English messages.
	_, page := e.do(t, e.client, "GET", "/ho-so?lang=en", nil)
	_, body := e.do(t, e.noRedir, "POST", "/ho-so", url.Values{"csrf": {csrfRE.FindStringSubmatch(page)[1]}})
	contains(t, body, "Please correct the following:", "Please fill in this field.")
}

// TestBundlesOnHome: both bundles are on offer, before and after the login; a bundle's
// login lands on its form.
func TestBundlesOnHome(t *testing.T) {
	e := newEnv(t, nil)
	_, body := e.do(t, e.client, "GET", "/", nil)
	contains(t, body, `<a id="start-khai-sinh" class="button secondary" href="/login?goi=khai-sinh">`,
		`<a id="start-khai-tu" class="button secondary" href="/login?goi=khai-tu">`,
		"Khai sinh, thường trú và thẻ BHYT cho trẻ dưới 6 tuổi", "Khai tử, xóa đăng ký thường trú và trợ cấp mai táng")
	resp, body := e.do(t, e.client, "GET", "/login?goi=khai-tu", nil)
	if resp.Request.URL.Path != "/ho-so/khai-tu" {
		t.Fatalf("bundle login ended at %s", resp.Request.URL)
	}
	contains(t, body, "Thông tin người đã mất", `id="deceased-name"`, `id="deceased-cccd" name="deceased_cccd" type="text" inputmode="numeric"`,
		`<option value="spouse">Vợ hoặc chồng</option>`, `value="Lê Công Hảo" readonly`, `action="/ho-so/khai-tu"`)
	if strings.Contains(body, `id="child-name"`) {
		t.Error("the death bundle asks for the child")
	}
	_, body = e.do(t, e.client, "GET", "/", nil)
	contains(t, body, `<a id="open-khai-sinh" class="button" href="/ho-so">`, `<a id="open-khai-tu" class="button" href="/ho-so/khai-tu">`)
	if resp, _ := e.do(t, e.client, "GET", "/ho-so/khai-hon", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown bundle: %d, want 404", resp.StatusCode)
	}
}
