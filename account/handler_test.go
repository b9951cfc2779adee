package account

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// browserProvider is the provider's view of one browser: who is logged in, at which level
// and when. The freshness and CSRF rules are checked before any record is read.
type browserProvider struct {
	nilProvider
	citizen, acr string
	authTime     time.Time
}

func (b browserProvider) BrowserCitizen(*http.Request) (string, string, time.Time, bool) {
	return b.citizen, b.acr, b.authTime, b.citizen != ""
}

func (b browserProvider) StepUpURL(returnPath, lang string) string {
	return "https://motlan.example/stepup?return=" + url.QueryEscape(returnPath)
}

// TestActionsRefused: revocation and deletion need a level-2 login within FreshLogin,
// every action the citizen's own CSRF token, and a page without a session sends the
// browser to the step-up login; refusals are pages with the same security headers.
func TestActionsRefused(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	page := func(b browserProvider) *Page {
		p, err := New(Config{Store: nilStore{}, Provider: b, Signing: nilSigning{}, Key: []byte(strings.Repeat("k", 32)),
			Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	fresh := browserProvider{citizen: "cit-a", acr: "2", authTime: now.Add(-time.Minute)}
	stale := browserProvider{citizen: "cit-a", acr: "2", authTime: now.Add(-10 * time.Minute)}
	level1 := browserProvider{citizen: "cit-a", acr: "1", authTime: now.Add(-time.Minute)}
	csrf := page(fresh).csrfToken("cit-a", now)
	for _, tc := range []struct {
		name    string
		b       browserProvider
		method  string
		path    string
		form    url.Values
		status  int
		stepUp  bool // the answer leads to the step-up login
		content string
	}{
		{"page without a session", browserProvider{}, "GET", "/me", nil, http.StatusSeeOther, true, ""},
		{"export without a session", browserProvider{}, "GET", "/me/data.json", nil, http.StatusSeeOther, true, ""},
		{"delete after a stale login", stale, "POST", "/me/delete", url.Values{"csrf": {csrf}, "confirm": {"yes"}}, http.StatusForbidden, true, "đăng nhập lại"},
		{"revoke after a stale login", stale, "POST", "/me/certificate/revoke", url.Values{"csrf": {csrf}}, http.StatusForbidden, true, "đăng nhập lại"},
		{"revoke at level 1", level1, "POST", "/me/certificate/revoke", url.Values{"csrf": {csrf}}, http.StatusForbidden, true, "mức 2"},
		{"delete unconfirmed", fresh, "POST", "/me/delete", url.Values{"csrf": {csrf}}, http.StatusBadRequest, false, "xác nhận"},
		{"withdraw without CSRF", fresh, "POST", "/me/consents/portal/withdraw", url.Values{}, http.StatusForbidden, false, "hết hạn"},
		{"withdraw with another citizen's CSRF", fresh, "POST", "/me/consents/portal/withdraw", url.Values{"csrf": {page(fresh).csrfToken("cit-b", now)}}, http.StatusForbidden, false, "hết hạn"},
		{"action without a session", browserProvider{}, "POST", "/me/sessions/x/end", url.Values{"csrf": {csrf}}, http.StatusForbidden, true, "định danh điện tử"},
		{"unknown path", fresh, "GET", "/me/nothing", nil, http.StatusNotFound, false, "Không tìm thấy"},
		{"POST to the page", fresh, "POST", "/me", url.Values{"csrf": {csrf}}, http.StatusMethodNotAllowed, false, "không hợp lệ"},
		{"English", stale, "POST", "/me/delete", url.Values{"csrf": {csrf}, "lang": {"en"}}, http.StatusForbidden, true, "log in again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.form != nil {
				body = strings.NewReader(tc.form.Encode())
			} else {
				body = strings.NewReader("")
			}
			r := httptest.NewRequest(tc.method, tc.path, body)
			if tc.method == "POST" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			w := httptest.NewRecorder()
			page(tc.b).Handler().ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("%d, want %d: %s", w.Code, tc.status, w.Body)
			}
			got := w.Body.String()
			if tc.stepUp && !strings.Contains(w.Header().Get("Location")+got, "https://motlan.example/stepup") {
				t.Errorf("no way to the step-up login: Location %q, body %.300s", w.Header().Get("Location"), got)
			}
			if tc.content != "" && !strings.Contains(got, tc.content) {
				t.Errorf("body lacks %q: %.600s", tc.content, got)
			}
			if w.Code != http.StatusSeeOther {
				h := w.Header()
				if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "style-src 'nonce-") ||
					h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" {
					t.Errorf("headers %v", h)
				}
			}
		})
	}
}
