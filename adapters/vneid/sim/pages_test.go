package sim

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// A wrong password answers 303 back to the login page (POST-redirect-GET): the page
// keeps the typed ID number and shows the error, and reloading it is a plain GET.
func TestWrongPasswordRedirectsAndKeepsNumber(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	f := e.authorize(oauth2.SetAuthURLParam("ui_locales", "en"))
	page := e.loginPage(t, c, f)
	resp := e.post(t, c, page, url.Values{"action": {"login"}, "cccd": {"038085001234"}, "password": {"wrong"}})
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || loc.Path != "/eid/login" || loc.Query().Get("id") == "" {
		t.Fatalf("wrong password: %d to %q, want 303 to /eid/login?id=...", resp.StatusCode, resp.Header.Get("Location"))
	}
	for i := 0; i < 2; i++ { // the second GET is the citizen reloading the page
		resp, body := get(t, c, e.srv.URL+loc.String())
		if resp.StatusCode != 200 || !strings.Contains(body, `data-stage="password"`) ||
			!strings.Contains(body, `value="038085001234"`) ||
			!strings.Contains(body, `<p class="error" role="alert">Wrong personal ID number or password.</p>`) {
			t.Fatalf("page after a wrong password (GET %d): %d\n%s", i, resp.StatusCode, body)
		}
	}
	// Switching language keeps the number and translates the message.
	_, body := get(t, c, e.srv.URL+loc.String()+"&lang=vi")
	if !strings.Contains(body, `value="038085001234"`) || !strings.Contains(body, "Số định danh cá nhân hoặc mật khẩu không đúng.") {
		t.Fatalf("Vietnamese page after a wrong password:\n%s", body)
	}
	// Only digits (at most 12) are kept: anything else is not echoed back.
	resp = e.post(t, c, body, url.Values{"action": {"login"}, "cccd": {`"><b>x`}, "password": {"wrong"}})
	_, body = get(t, c, e.srv.URL+resp.Header.Get("Location"))
	if !strings.Contains(body, `id="cccd" name="cccd" inputmode="numeric" autocomplete="username" pattern="[0-9]{12}" maxlength="12" required value=""`) {
		t.Fatalf("a non-numeric ID number was echoed:\n%s", body)
	}
	// The right password still works from the re-shown page; the message is gone.
	resp = e.post(t, c, body, url.Values{"action": {"login"}, "cccd": {"038085001234"}, "password": {DevPassword}})
	_, body = get(t, c, e.srv.URL+resp.Header.Get("Location"))
	if !strings.Contains(body, `data-stage="otp"`) || strings.Contains(body, `class="error"`) {
		t.Fatalf("after the right password:\n%s", body)
	}
}

func TestLoginPageShowsClientName(t *testing.T) {
	const name = "Motlan – Cổng đăng nhập tỉnh Thanh Hóa"
	tests := []struct {
		name, clientName, want string
	}{
		{"name set", name, "<strong>" + name + "</strong>"},
		{"default: the id", "", "<strong>" + testClient + "</strong>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, func(c *Config) { c.Clients[0].Name = tt.clientName })
			body := e.loginPage(t, browser(t), e.authorize())
			if !strings.Contains(body, "Dịch vụ yêu cầu đăng nhập: "+tt.want) {
				t.Fatalf("page lacks %q:\n%s", tt.want, body)
			}
			if tt.clientName != "" && strings.Contains(body, "<strong>"+testClient+"</strong>") {
				t.Error("page shows the client id")
			}
		})
	}
}

func TestStylesheet(t *testing.T) {
	e := newEnv(t)
	resp, css := get(t, http.DefaultClient, e.issuer+"/static/sim.css")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Fatalf("sim.css: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"button,input,select,textarea{font:inherit}", // controls in the page's font
		"header .lang{color:#fff;white-space:nowrap}",
		"td code,.nowrap{white-space:nowrap}",
	} {
		if !strings.Contains(css, want) {
			t.Errorf("sim.css lacks %q", want)
		}
	}
	// font:inherit comes before the rules that size the controls, or it would undo them.
	if strings.Index(css, "{font:inherit}") > strings.Index(css, "button{") {
		t.Error("font:inherit comes after the button rule")
	}
}

// The test-citizen table marks citizens under 14 at the sim's (injected) date.
func TestCitizenTableMarksChildren(t *testing.T) {
	tag := regexp.MustCompile(`<td>([^<]+) <span class="tag">(trẻ em|child)</span></td>`)
	tests := []struct {
		name string
		now  time.Time
		lang string
		want []string // names marked
	}{
		{"2026", time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), "vi", []string{"Trương Tuấn Hưng"}},
		{"day before the 14th birthday", time.Date(2030, 8, 14, 12, 0, 0, 0, time.UTC), "en", []string{"Trương Tuấn Hưng"}},
		// 2030-08-14 18:00 UTC is already the 15th in Vietnam.
		{"14th birthday in Vietnam", time.Date(2030, 8, 14, 18, 0, 0, 0, time.UTC), "vi", nil},
		// In 2010 two of today's adults were children, and Hưng was not born yet.
		{"2010", time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC), "vi", []string{"Đặng Quốc Vĩ", "Hoàng Thùy Dương"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.clock.t = tt.now
			body := e.loginPage(t, browser(t), e.authorize(oauth2.SetAuthURLParam("ui_locales", tt.lang)))
			var got []string
			for _, m := range tag.FindAllStringSubmatch(body, -1) {
				got = append(got, m[1])
				if want := map[string]string{"vi": "trẻ em", "en": "child"}[tt.lang]; m[2] != want {
					t.Errorf("tag %q in %s", m[2], tt.lang)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("marked %q, want %q", got, tt.want)
			}
			if !strings.Contains(body, `<td class="nowrap"><code>`+DevPassword+`</code></td>`) {
				t.Error("password cell is not nowrap")
			}
		})
	}
}

func TestAgeOn(t *testing.T) {
	now := time.Date(2026, 3, 14, 10, 0, 0, 0, vietnam)
	for birth, want := range map[string]int{
		"2012-03-14": 14, "2012-03-15": 13, "2012-02-29": 14, "1985-03-14": 41, "bad": -1,
	} {
		if got := ageOn(birth, now); got != want {
			t.Errorf("ageOn(%s) = %d, want %d", birth, got, want)
		}
	}
}

// Back to a finished login (the back button): the page explains what to do and offers
// the other language.
func TestExpiredLoginPage(t *testing.T) {
	e := newEnv(t)
	c := browser(t)
	f := e.authorize()
	resp, _ := get(t, c, f.url)
	loginURL := e.srv.URL + resp.Header.Get("Location")
	e.login(c, f, "038085001234") // a separate flow logs in: the first login stays pending
	e.clock.Advance(pendingTTL + time.Minute)

	resp, body := get(t, c, loginURL)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("expired login page: %d", resp.StatusCode)
	}
	for _, want := range []string{`lang="vi"`, "Trang đăng nhập này không còn dùng được",
		"Lần đăng nhập này đã kết thúc hoặc đã hết hạn.", `<p id="error-help">`,
		"quay lại trang web hoặc ứng dụng của dịch vụ bạn đang sử dụng", `class="lang"`, ">English</a>"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	sw := regexp.MustCompile(`<a class="lang" href="([^"]+)"`).FindStringSubmatch(body)
	if sw == nil {
		t.Fatal("no language switch")
	}
	resp, body = get(t, c, e.srv.URL+strings.ReplaceAll(sw[1], "&amp;", "&"))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `lang="en"`) ||
		!strings.Contains(body, "Go back to the website or app of the service you came from") ||
		!strings.Contains(body, ">Tiếng Việt</a>") {
		t.Fatalf("English expired page: %d\n%s", resp.StatusCode, body)
	}

	// The same page for a form posted to a login that is gone.
	c = browser(t)
	page := e.loginPage(t, c, e.authorize())
	e.clock.Advance(pendingTTL + time.Minute)
	req := url.Values{"action": {"login"}, "cccd": {"038085001234"}, "password": {DevPassword}, "lang": {"en"}}
	for _, m := range reHidden.FindAllStringSubmatch(page, -1) {
		if m[1] != "lang" {
			req.Set(m[1], m[2])
		}
	}
	resp, err := c.PostForm(e.issuer+"/login", req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "This login page can no longer be used") ||
		!strings.Contains(string(b), `<p id="error-help">`) || !strings.Contains(string(b), "&amp;lang=vi\"") {
		t.Fatalf("post to an expired login: %d\n%s", resp.StatusCode, b)
	}
}

func TestFavicon(t *testing.T) {
	e := newEnv(t)
	for _, u := range []string{e.srv.URL + "/favicon.ico", e.issuer + "/favicon.ico"} {
		resp, body := get(t, http.DefaultClient, u)
		if resp.StatusCode != http.StatusNoContent || body != "" {
			t.Errorf("GET %s: %d %q, want 204", u, resp.StatusCode, body)
		}
	}
	body := e.loginPage(t, browser(t), e.authorize())
	if !strings.Contains(body, `<link rel="icon" href="/eid/favicon.ico">`) {
		t.Error("page does not point at the favicon")
	}
}
