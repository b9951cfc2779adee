package sim

import (
	"bytes"
	"net/http"
	"net/url"
)

// messages holds every string the pages show, Vietnamese first.
var messages = map[string]map[string]string{
	"vi": {
		"title":           "Đăng nhập định danh điện tử",
		"brand":           "Định danh điện tử — bản mô phỏng",
		"dev":             "Môi trường phát triển: không dùng dữ liệu thật.",
		"switch":          "English",
		"login_title":     "Đăng nhập",
		"login_for":       "Dịch vụ yêu cầu đăng nhập:",
		"level_req":       "Mức độ tài khoản yêu cầu:",
		"cccd":            "Số định danh cá nhân (12 chữ số)",
		"password":        "Mật khẩu",
		"login":           "Đăng nhập",
		"cancel":          "Hủy",
		"citizens":        "Công dân thử nghiệm",
		"col_cccd":        "Số định danh",
		"col_name":        "Họ và tên",
		"col_level":       "Mức",
		"col_password":    "Mật khẩu",
		"bad_credentials": "Số định danh cá nhân hoặc mật khẩu không đúng.",
		"otp_title":       "Xác thực bằng mã OTP",
		"otp_sent":        "Mã xác thực một lần đã được gửi tới thiết bị của bạn.",
		"otp_dev":         "Chỉ trong môi trường phát triển, mã được hiển thị tại đây:",
		"otp_label":       "Nhập mã OTP (6 chữ số)",
		"confirm":         "Xác nhận",
		"bad_otp":         "Mã OTP không đúng. Vui lòng thử lại.",
		"insuff_title":    "Tài khoản chưa đủ mức độ",
		"consent_title":   "Chia sẻ thông tin định danh",
		"consent_body":    "Đồng ý chia sẻ thông tin định danh của bạn với",
		"consent_allow":   "Đồng ý",
		"consent_deny":    "Không đồng ý",
		"insuff_body":     "Dịch vụ này yêu cầu tài khoản định danh điện tử mức độ 2. Tài khoản của bạn hiện ở mức độ 1. Vui lòng liên hệ cơ quan Công an để được cấp tài khoản mức độ 2.",
		"back":            "Quay lại dịch vụ",
		"error_title":     "Không thể tiếp tục",
		"unknown_client":  "Dịch vụ yêu cầu đăng nhập chưa được đăng ký.",
		"bad_redirect":    "Địa chỉ chuyển hướng không hợp lệ.",
		"login_expired":   "Lần đăng nhập này đã kết thúc hoặc đã hết hạn.",
		"expired_title":   "Trang đăng nhập này không còn dùng được",
		"expired_help":    "Điều này thường xảy ra khi bạn bấm nút Quay lại của trình duyệt sau khi đã đăng nhập, hoặc để trang mở quá lâu. Hãy quay lại trang web hoặc ứng dụng của dịch vụ bạn đang sử dụng. Nếu đã đăng nhập xong, bạn vẫn đang đăng nhập ở đó; nếu chưa, hãy bắt đầu đăng nhập lại từ đó.",
		"child":           "trẻ em",
		"bad_request":     "Yêu cầu không hợp lệ.",
		"csrf":            "Biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng quay lại dịch vụ và thử lại.",
		"loggedout_title": "Bạn đã đăng xuất",
		"loggedout_body":  "Phiên đăng nhập định danh điện tử đã kết thúc. Bạn có thể đóng trang này.",
	},
	"en": {
		"title":           "Electronic identification login",
		"brand":           "Electronic identification — simulator",
		"dev":             "Development environment: no real data.",
		"switch":          "Tiếng Việt",
		"login_title":     "Log in",
		"login_for":       "Service asking you to log in:",
		"level_req":       "Account level required:",
		"cccd":            "Personal ID number (12 digits)",
		"password":        "Password",
		"login":           "Log in",
		"cancel":          "Cancel",
		"citizens":        "Test citizens",
		"col_cccd":        "ID number",
		"col_name":        "Full name",
		"col_level":       "Level",
		"col_password":    "Password",
		"bad_credentials": "Wrong personal ID number or password.",
		"otp_title":       "One-time code",
		"otp_sent":        "A one-time code has been sent to your device.",
		"otp_dev":         "Development only: the code is shown here:",
		"otp_label":       "Enter the one-time code (6 digits)",
		"confirm":         "Confirm",
		"bad_otp":         "Wrong one-time code. Please try again.",
		"insuff_title":    "Account level too low",
		"consent_title":   "Share your identity data",
		"consent_body":    "Agree to share your identity data with",
		"consent_allow":   "Agree",
		"consent_deny":    "Do not agree",
		"insuff_body":     "This service requires a level 2 electronic identification account. Your account is level 1. Please contact the police to be issued a level 2 account.",
		"back":            "Return to the service",
		"error_title":     "Cannot continue",
		"unknown_client":  "The service asking you to log in is not registered.",
		"bad_redirect":    "Invalid redirect address.",
		"login_expired":   "This login has ended or expired.",
		"expired_title":   "This login page can no longer be used",
		"expired_help":    "This usually happens when you press the browser's Back button after logging in, or leave the page open too long. Go back to the website or app of the service you came from. If you had finished logging in, you are still logged in there; if not, start the login again from there.",
		"child":           "child",
		"bad_request":     "Invalid request.",
		"csrf":            "The form has expired or is invalid. Please return to the service and try again.",
		"loggedout_title": "You are logged out",
		"loggedout_body":  "Your electronic identification session has ended. You can close this page.",
	},
}

func msg(lang, key string) string {
	if m, ok := messages[lang]; ok {
		return m[key]
	}
	return messages["vi"][key]
}

type pageData struct {
	Lang      string
	T         map[string]string
	Stage     string
	Base      string
	SwitchURL string
	SwitchTo  string
	Title     string // error pages; empty: the generic error title
	Message   string
	Detail    string // error pages: an explanation under the message
	View      loginView
}

func otherLang(lang string) string {
	if lang == "en" {
		return "vi"
	}
	return "en"
}

func (p *Provider) renderLogin(w http.ResponseWriter, status int, st stage, v loginView) {
	name := "password"
	switch st {
	case stageOTP:
		name = "otp"
	case stageInsufficient:
		name = "insufficient"
	case stageConsent:
		name = "consent"
	}
	d := p.page(v.Lang, name)
	d.View = v
	d.SwitchURL = p.base + "/login?id=" + url.QueryEscape(v.ID) + "&lang=" + d.SwitchTo
	p.write(w, status, d)
}

func (p *Provider) renderError(w http.ResponseWriter, status int, lang, key string) {
	d := p.page(lang, "error")
	d.Message = msg(lang, key)
	p.write(w, status, d)
}

// renderExpired is the page for a login that no longer exists (finished, cancelled or
// expired), typically reached with the back button: it explains what to do and offers
// the other language (the login page's own URL with lang=, which lands here again).
func (p *Provider) renderExpired(w http.ResponseWriter, lang, id string) {
	d := p.page(lang, "error")
	d.Title = msg(d.Lang, "expired_title")
	d.Message = msg(d.Lang, "login_expired")
	d.Detail = msg(d.Lang, "expired_help")
	d.SwitchURL = p.base + "/login?id=" + url.QueryEscape(id) + "&lang=" + d.SwitchTo
	p.write(w, http.StatusBadRequest, d)
}

func (p *Provider) renderPage(w http.ResponseWriter, status int, name, lang string, _ any) {
	p.write(w, status, p.page(lang, name))
}

func (p *Provider) page(lang, stage string) pageData {
	if lang != "en" {
		lang = "vi"
	}
	return pageData{Lang: lang, T: messages[lang], Stage: stage, Base: p.base, SwitchTo: otherLang(lang)}
}

func (p *Provider) write(w http.ResponseWriter, status int, d pageData) {
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, "page", d); err != nil {
		p.log.Error("sim: render page", "stage", d.Stage, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// The markup is part of the Login contract: hidden fields are written exactly as
// <input type="hidden" name="N" value="V">, the stage is <main data-stage="S">, and the
// one-time code is <strong id="dev-otp">D</strong>.
const pageTemplates = `{{define "page"}}<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.T.title}}</title>
<link rel="stylesheet" href="{{.Base}}/static/sim.css">
<link rel="icon" href="{{.Base}}/favicon.ico">
</head>
<body>
<header>
<p class="brand">{{.T.brand}}</p>
{{if .SwitchURL}}<a class="lang" href="{{.SwitchURL}}" lang="{{.SwitchTo}}">{{.T.switch}}</a>{{end}}
</header>
<p class="dev" role="note">{{.T.dev}}</p>
<main data-stage="{{.Stage}}">
{{if eq .Stage "password"}}{{template "password" .}}
{{else if eq .Stage "otp"}}{{template "otp" .}}
{{else if eq .Stage "insufficient"}}{{template "insufficient" .}}
{{else if eq .Stage "consent"}}{{template "consent" .}}
{{else if eq .Stage "loggedout"}}<h1>{{.T.loggedout_title}}</h1><p>{{.T.loggedout_body}}</p>
{{else}}<h1>{{or .Title .T.error_title}}</h1><p class="error" role="alert">{{.Message}}</p>
{{with .Detail}}<p id="error-help">{{.}}</p>{{end}}{{end}}
</main>
</body>
</html>
{{end}}
{{define "hidden"}}<input type="hidden" name="id" value="{{.View.ID}}">
<input type="hidden" name="csrf" value="{{.View.CSRF}}">
<input type="hidden" name="lang" value="{{.Lang}}">
{{end}}
{{define "binding"}}{{with .View.Binding}}<p class="binding" id="binding-message" role="note">{{.}}</p>{{end}}{{end}}
{{define "password"}}<h1>{{.T.login_title}}</h1>
{{template "binding" .}}
<p>{{.T.login_for}} <strong>{{.View.Client}}</strong><br>{{.T.level_req}} <strong>{{.View.Level}}</strong></p>
{{if .View.Error}}<p class="error" role="alert">{{.View.Error}}</p>{{end}}
<form method="post" action="{{.Base}}/login">
{{template "hidden" .}}<label for="cccd">{{.T.cccd}}</label>
<input id="cccd" name="cccd" inputmode="numeric" autocomplete="username" pattern="[0-9]{12}" maxlength="12" required value="{{.View.LoginHint}}">
<label for="password">{{.T.password}}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" name="action" value="login">{{.T.login}}</button>
<button type="submit" name="action" value="cancel" class="secondary" formnovalidate>{{.T.cancel}}</button>
</form>
<section class="citizens">
<h2>{{.T.citizens}}</h2>
<table>
<thead><tr><th>{{.T.col_cccd}}</th><th>{{.T.col_name}}</th><th>{{.T.col_level}}</th><th>{{.T.col_password}}</th></tr></thead>
<tbody>{{range .View.Citizens}}<tr><td><code>{{.CCCD}}</code></td><td>{{.Name}}{{if .Child}} <span class="tag">{{$.T.child}}</span>{{end}}</td><td>{{.Level}}</td><td class="nowrap"><code>{{.Password}}</code></td></tr>
{{end}}</tbody>
</table>
</section>
{{end}}
{{define "otp"}}<h1>{{.T.otp_title}}</h1>
{{template "binding" .}}
<p>{{.T.otp_sent}}</p>
<p class="otp-box">{{.T.otp_dev}} <strong id="dev-otp">{{.View.OTP}}</strong></p>
{{if .View.Error}}<p class="error" role="alert">{{.View.Error}}</p>{{end}}
<form method="post" action="{{.Base}}/login">
{{template "hidden" .}}<label for="otp">{{.T.otp_label}}</label>
<input id="otp" name="otp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required>
<button type="submit" name="action" value="otp">{{.T.confirm}}</button>
<button type="submit" name="action" value="cancel" class="secondary" formnovalidate>{{.T.cancel}}</button>
</form>
{{end}}
{{define "consent"}}<h1>{{.T.consent_title}}</h1>
<p>{{.T.consent_body}} <strong>{{.View.Client}}</strong></p>
<form method="post" action="{{.Base}}/login">
{{template "hidden" .}}<input type="hidden" name="action" value="consent">
<button type="submit" name="answer" value="allow">{{.T.consent_allow}}</button>
<button type="submit" name="answer" value="deny" class="secondary">{{.T.consent_deny}}</button>
</form>
{{end}}
{{define "insufficient"}}<h1>{{.T.insuff_title}}</h1>
<p class="error" role="alert">{{.T.insuff_body}}</p>
<form method="post" action="{{.Base}}/login">
{{template "hidden" .}}<button type="submit" name="action" value="cancel">{{.T.back}}</button>
</form>
{{end}}`

const pageCSS = `*{box-sizing:border-box}
.binding{background:#fff7e0;border-left:4px solid #b3191e;padding:.5rem .75rem;font-weight:600}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:#1b1b1b;background:#f4f5f7}
header{display:flex;justify-content:space-between;align-items:center;gap:.5rem;padding:.75rem 1rem;background:#b3191e;color:#fff}
header .brand{margin:0;font-weight:600}
header .lang{color:#fff;white-space:nowrap}
.dev{margin:0;padding:.5rem 1rem;background:#fff4c2;font-size:.875rem}
main{max-width:32rem;margin:0 auto;padding:1rem}
h1{font-size:1.375rem;margin:.5rem 0 1rem}
h2{font-size:1.125rem}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}
button,input,select,textarea{font:inherit}
input{width:100%;padding:.75rem;font-size:1rem;border:1px solid #8a8f98;border-radius:.375rem}
button{display:block;width:100%;margin-top:1rem;padding:.8rem;font-size:1rem;border:0;border-radius:.375rem;background:#b3191e;color:#fff}
button.secondary{background:#e3e5e8;color:#1b1b1b}
.error{color:#8a0c10;background:#fde8e8;padding:.5rem .75rem;border-radius:.375rem}
.otp-box strong{font-size:1.5rem;letter-spacing:.2em}
.citizens{margin-top:2rem;overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.875rem}
th,td{text-align:left;padding:.25rem .375rem;border-bottom:1px solid #d5d8dc}
td code,.nowrap{white-space:nowrap}
.tag{display:inline-block;padding:0 .375rem;border-radius:.75rem;background:#e3e5e8;font-size:.75rem;white-space:nowrap}
`
