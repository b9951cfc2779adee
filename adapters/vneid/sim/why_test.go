package sim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestWhyDenied: each way a login ends without a code says why in error_description;
// AskConsent adds a consent step, and the binding message shows on the login pages.
func TestWhyDenied(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.AskConsent = true })
	denied := func(t *testing.T, resp *http.Response, want string) {
		t.Helper()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if q := loc.Query(); q.Get("error") != "access_denied" || q.Get("error_description") != want {
			t.Fatalf("ended with %s, want access_denied: %s", loc, want)
		}
	}
	toOTP := func(t *testing.T, c *http.Client, f flow, number string) string {
		t.Helper()
		page := e.loginPage(t, c, f)
		resp := e.post(t, c, page, url.Values{"action": {"login"}, "cccd": {number}, "password": {DevPassword}})
		_, page = get(t, c, e.srv.URL+resp.Header.Get("Location"))
		return page
	}
	t.Run("cancelled", func(t *testing.T) {
		c := browser(t)
		denied(t, e.post(t, c, e.loginPage(t, c, e.authorize()), url.Values{"action": {"cancel"}}), "the citizen cancelled the login")
	})
	t.Run("wrong passwords", func(t *testing.T) {
		c := browser(t)
		page := e.loginPage(t, c, e.authorize())
		var resp *http.Response
		for range maxFailures {
			resp = e.post(t, c, page, url.Values{"action": {"login"}, "cccd": {"038085001234"}, "password": {"sai"}})
		}
		denied(t, resp, "too many wrong passwords")
	})
	t.Run("level too low", func(t *testing.T) {
		c := browser(t)
		page := toOTP(t, c, e.authorize(oauth2.SetAuthURLParam("acr_values", "2")), "038303002468")
		if !strings.Contains(page, `data-stage="insufficient"`) {
			t.Fatalf("no insufficient page:\n%s", page)
		}
		denied(t, e.post(t, c, page, url.Values{"action": {"cancel"}}), "account level too low")
	})
	consentPage := func(t *testing.T, c *http.Client, f flow) string {
		t.Helper()
		page := toOTP(t, c, f, "038085001234")
		otp := reOTP.FindStringSubmatch(page)
		if otp == nil {
			t.Fatalf("no OTP page:\n%s", page)
		}
		resp := e.post(t, c, page, url.Values{"action": {"otp"}, "otp": {otp[1]}})
		_, page = get(t, c, e.srv.URL+resp.Header.Get("Location"))
		if !strings.Contains(page, `data-stage="consent"`) {
			t.Fatalf("no consent page:\n%s", page)
		}
		return page
	}
	t.Run("consent refused", func(t *testing.T) {
		c := browser(t)
		denied(t, e.post(t, c, consentPage(t, c, e.authorize()), url.Values{"answer": {"deny"}}), "the citizen refused consent")
	})
	t.Run("consent given, with Login too", func(t *testing.T) {
		c := browser(t)
		resp := e.post(t, c, consentPage(t, c, e.authorize()), url.Values{"answer": {"allow"}})
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if !loc.Query().Has("code") {
			t.Fatalf("after consent: %s", loc)
		}
		if cb := e.login(browser(t), e.authorize(), "038092004567"); !cb.Query().Has("code") {
			t.Fatalf("Login through the consent step: %s", cb)
		}
	})
	t.Run("binding message", func(t *testing.T) {
		c := browser(t)
		msg := "Cổng Dịch vụ công đề nghị bạn ký số 3 tài liệu."
		page := e.loginPage(t, c, e.authorize(oauth2.SetAuthURLParam("binding_message", msg)))
		if !strings.Contains(page, `<p class="binding" id="binding-message" role="note">`+msg+`</p>`) {
			t.Fatalf("binding message not shown:\n%s", page)
		}
		page = e.loginPage(t, c, e.authorize(oauth2.SetAuthURLParam("binding_message", "a\nb")))
		if strings.Contains(page, `id="binding-message"`) {
			t.Error("a binding message with a control character was shown")
		}
	})
}
