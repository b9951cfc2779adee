package portal_test

import (
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// loginSteps logs in one redirect at a time and returns the callback URL (path and query).
func (e *env) loginSteps(t *testing.T) string {
	t.Helper()
	resp, _ := e.do(t, e.noRedir, "GET", "/login", nil)
	resp, err := e.noRedir.Get(resp.Header.Get("Location")) // the provider
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || cb.Path != "/callback" {
		t.Fatalf("provider answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := e.do(t, e.noRedir, "GET", cb.RequestURI(), nil); resp.StatusCode != http.StatusSeeOther ||
		resp.Header.Get("Location") != "/ho-so" {
		t.Fatalf("callback: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return cb.RequestURI()
}

// Reopening the callback (reload, history) while logged in goes back to the dossier;
// without a session it is a plain "log in again" page that shows no internal code.
func TestCallbackReopened(t *testing.T) {
	e := newEnv(t, nil)
	cb := e.loginSteps(t)
	for _, path := range []string{cb, cb + "&lang=en", "/callback", "/callback?state=forged&code=x"} {
		resp, _ := e.do(t, e.noRedir, "GET", path, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ho-so" {
			t.Errorf("GET %s while logged in: %d to %q, want 303 to /ho-so", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, body := e.do(t, e.client, "GET", cb, nil)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/ho-so" || !strings.Contains(body, `id="claim-name"`) {
		t.Fatalf("reopened callback ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}

	// Logged out, the same URL is an expired login (in English: chosen above).
	csrf := csrfRE.FindStringSubmatch(body)
	e.do(t, e.client, "POST", "/logout", url.Values{"csrf": {csrf[1]}})
	resp, body = e.do(t, e.client, "GET", cb, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("callback after logout: %d", resp.StatusCode)
	}
	contains(t, body, `data-error="state"`, "The login session is invalid or has expired", `id="retry-login"`)
	if strings.Contains(body, `id="error-code"`) || strings.Contains(body, "Error code") || strings.Contains(body, ">state<") {
		t.Errorf("the citizen is shown an internal error code:\n%s", body)
	}
}

func TestDossierPresentation(t *testing.T) {
	noPhone := maps.Clone(userinfoClaims)
	delete(noPhone, "phone_number")
	e := newEnv(t, func(o *testOP) { o.userinfo = noPhone })
	resp, body := e.do(t, e.client, "GET", "/login", nil)
	if resp.Request.URL.Path != "/ho-so" {
		t.Fatalf("login ended at %s", resp.Request.URL)
	}
	contains(t, body,
		// The missing field is neutral, not styled as verified.
		`<input id="claim-phone" type="text" value="" readonly class="unverified">`,
		`<span id="claim-phone-missing" class="missing">Chưa được cung cấp</span>`,
		"input.unverified[readonly],textarea.unverified[readonly]{background:#f1f2f4;",
		// Fields the eID verified say so, with the level of that verification
		// (verified_claims); the login's own level is said once, above them.
		`<input id="claim-name" type="text" value="Lê Công Hảo" readonly>`,
		`<span id="claim-name-verified" class="verified">✓ Đã xác thực qua VNeID, mức 2</span>`,
		`<p>Mức độ xác thực: <strong id="claim-acr">2</strong></p>`,
		// No resize handle on the read-only address.
		"textarea[readonly]{resize:none}",
		// "Tiếng Việt" stays on one line in a narrow header.
		"#lang-switch{white-space:nowrap}",
	)
	if strings.Contains(body, `id="claim-phone-verified"`) || strings.Contains(body, "Mức độ 2") {
		t.Errorf("dossier still shows a verified mark on the empty phone or repeats the level:\n%s", body)
	}
	_, body = e.do(t, e.client, "GET", "/ho-so?lang=en", nil)
	contains(t, body, `<p>Assurance level: <strong id="claim-acr">2</strong></p>`,
		`<span id="claim-phone-missing" class="missing">Not provided</span>`)
}

// A login below the required eID level says so, in both languages.
func TestLevelTooLowPage(t *testing.T) {
	for _, tc := range []struct{ lang, title, text string }{
		{"vi", "Tài khoản chưa đủ mức độ", "Tài khoản định danh điện tử của bạn chưa đạt mức độ 2, cần để khai hồ sơ cho trẻ. " +
			"Vui lòng liên hệ cơ quan Công an để nâng cấp tài khoản."},
		{"en", "Account level too low", "Your electronic identification account has not reached level 2, which is needed " +
			"to file an application for a child. Please contact the police to upgrade your account."},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			e := newEnv(t, func(o *testOP) { o.acr = "1" })
			e.do(t, e.client, "GET", "/?lang="+tc.lang, nil)
			resp, body := e.do(t, e.client, "GET", "/login", nil)
			if resp.StatusCode != http.StatusForbidden || resp.Request.URL.Path != "/callback" {
				t.Fatalf("got %d at %s", resp.StatusCode, resp.Request.URL)
			}
			contains(t, body, `data-error="access_denied"`, `<h1 id="error-title">`+tc.title+`</h1>`,
				`<p id="error-message">`+tc.text+`</p>`)
			if strings.Contains(body, `id="error-code"`) {
				t.Error("the page shows an error code")
			}
			if resp, _ := e.do(t, e.noRedir, "GET", "/ho-so", nil); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("/ho-so after a refused login: %d, want 303", resp.StatusCode)
			}
		})
	}
}

func TestFavicon(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.do(t, e.noRedir, "GET", "/favicon.ico", nil)
	if resp.StatusCode != http.StatusNoContent || body != "" {
		t.Fatalf("favicon: %d %q, want 204", resp.StatusCode, body)
	}
}
