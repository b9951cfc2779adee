package portal

// messages holds every string of every page, Vietnamese first.
var messages = map[string]map[string]string{
	"vi": {
		"lang_name":     "Tiếng Việt",
		"portal":        "Cổng Dịch vụ công tỉnh Thanh Hóa (demo)",
		"home_intro":    "Đăng nhập bằng tài khoản định danh điện tử VNeID để thông tin đã được xác thực của bạn được điền sẵn vào hồ sơ.",
		"login":         "Đăng nhập bằng VNeID",
		"hello":         "Xin chào",
		"open_dossier":  "Mở hồ sơ",
		"logout":        "Đăng xuất",
		"dossier_title": "Tờ khai đăng ký khai sinh",
		"dossier_intro": "Thông tin của người yêu cầu được lấy từ VNeID và không sửa được tại đây.",
		"applicant":     "Thông tin người yêu cầu",
		"acr":           "Mức độ xác thực",
		"acr_unknown":   "Không rõ",
		"verified":      "Đã xác thực qua VNeID",
		"missing":       "Chưa được cung cấp",
		"f_name":        "Họ và tên",
		"f_birthdate":   "Ngày sinh",
		"f_gender":      "Giới tính",
		"f_cccd":        "Số định danh cá nhân",
		"f_address":     "Nơi thường trú",
		"f_phone":       "Số điện thoại",
		"male":          "Nam",
		"female":        "Nữ",
		"choose":        "Chọn",
		"child":         "Thông tin của trẻ",
		"child_intro":   "Bạn chỉ cần nhập thông tin của trẻ.",
		"c_name":        "Họ và tên của trẻ",
		"c_birthdate":   "Ngày sinh của trẻ",
		"c_sex":         "Giới tính của trẻ",
		"c_birthplace":  "Nơi sinh",
		"save":          "Lưu",
		"saved":         "Đã lưu (bản demo: hồ sơ chưa được gửi đi).",
		"footer":        "Bản trình diễn, không dùng cho hồ sơ thật.",
		"home":          "Về trang chủ",
		"retry":         "Đăng nhập lại",
		"error_code":    "Mã lỗi",

		"err_title":                   "Đăng nhập không thành công",
		"err_state":                   "Phiên đăng nhập không hợp lệ hoặc đã hết hạn. Vui lòng đăng nhập lại.",
		"err_issuer":                  "Phản hồi đăng nhập không đến từ hệ thống định danh mong đợi nên đã bị từ chối để bảo vệ bạn. Vui lòng đăng nhập lại.",
		"err_access_denied_title":     "Đăng nhập chưa hoàn tất",
		"err_access_denied":           "Bạn đã hủy đăng nhập hoặc không đồng ý chia sẻ thông tin. Bạn có thể thử lại bất cứ lúc nào.",
		"err_access_denied_acr_title": "Tài khoản chưa đủ mức độ",
		"err_access_denied_acr":       "Tài khoản định danh điện tử của bạn chưa đạt mức độ {acr}, cần để khai hồ sơ cho trẻ. Vui lòng liên hệ cơ quan Công an để nâng cấp tài khoản.",
		"err_provider":                "Hệ thống định danh báo lỗi khi đăng nhập. Vui lòng thử lại sau.",
		"err_unavailable":             "Hệ thống đăng nhập tạm thời chưa sẵn sàng. Vui lòng thử lại sau ít phút.",
		"err_token":                   "Không xác minh được thông tin đăng nhập. Vui lòng đăng nhập lại.",
		"err_csrf_title":              "Không thể lưu biểu mẫu",
		"err_csrf":                    "Biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng tải lại trang và thử lại.",
	},
	"en": {
		"lang_name":     "English",
		"portal":        "Thanh Hóa Province Public Service Portal (demo)",
		"home_intro":    "Log in with your VNeID electronic identity so that your verified information is filled in for you.",
		"login":         "Log in with VNeID",
		"hello":         "Hello",
		"open_dossier":  "Open the application",
		"logout":        "Log out",
		"dossier_title": "Birth registration form",
		"dossier_intro": "The applicant's information comes from VNeID and cannot be edited here.",
		"applicant":     "Applicant",
		"acr":           "Assurance level",
		"acr_unknown":   "Unknown",
		"verified":      "Verified through VNeID",
		"missing":       "Not provided",
		"f_name":        "Full name",
		"f_birthdate":   "Date of birth",
		"f_gender":      "Sex",
		"f_cccd":        "Personal identification number",
		"f_address":     "Permanent residence",
		"f_phone":       "Phone number",
		"male":          "Male",
		"female":        "Female",
		"choose":        "Choose",
		"child":         "The child",
		"child_intro":   "Only the child's details need typing.",
		"c_name":        "Child's full name",
		"c_birthdate":   "Child's date of birth",
		"c_sex":         "Child's sex",
		"c_birthplace":  "Place of birth",
		"save":          "Save",
		"saved":         "Saved (demo: the application has not been submitted).",
		"footer":        "Demonstration only, not for real applications.",
		"home":          "Back to the home page",
		"retry":         "Log in again",
		"error_code":    "Error code",

		"err_title":                   "Login failed",
		"err_state":                   "The login session is invalid or has expired. Please log in again.",
		"err_issuer":                  "The login response did not come from the expected identity provider and was rejected to protect you. Please log in again.",
		"err_access_denied_title":     "Login not completed",
		"err_access_denied":           "You cancelled the login or did not agree to share your information. You can try again at any time.",
		"err_access_denied_acr_title": "Account level too low",
		"err_access_denied_acr":       "Your electronic identification account has not reached level {acr}, which is needed to file an application for a child. Please contact the police to upgrade your account.",
		"err_provider":                "The identity provider reported an error during login. Please try again later.",
		"err_unavailable":             "The login service is temporarily unavailable. Please try again in a few minutes.",
		"err_token":                   "Your login could not be verified. Please log in again.",
		"err_csrf_title":              "The form could not be saved",
		"err_csrf":                    "The form has expired or is invalid. Please reload the page and try again.",
	},
}

const baseHTML = `<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .Title}}{{.Title}} · {{end}}{{.T.portal}}</title>
<style nonce="{{.Nonce}}">
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:#1b1b1b;background:#f5f6f8}
header{display:flex;justify-content:space-between;align-items:center;gap:.5rem;padding:.75rem 1rem;background:#a50e0e;color:#fff}
header a{color:#fff}
#lang-switch{white-space:nowrap}
#home-link{font-weight:600;text-decoration:none}
main{max-width:40rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;line-height:1.3}
h2{font-size:1.15rem;margin-top:1.5rem}
section{background:#fff;border-radius:.5rem;padding:1rem;margin:1rem 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
label{display:block;font-weight:600;margin-top:.75rem}
input,select,textarea{display:block;width:100%;padding:.6rem;font:inherit;border:1px solid #b8bcc4;border-radius:.375rem;background:#fff}
input[readonly],textarea[readonly]{background:#eef5ee;border-color:#9cc79f}
textarea[readonly]{resize:none}
input.unverified[readonly],textarea.unverified[readonly]{background:#f1f2f4;border-color:#c9ccd2;border-style:dashed}
.verified{display:inline-block;font-size:.85rem;color:#1d6b2a;margin-top:.2rem}
.missing{display:inline-block;font-size:.85rem;color:#6b6b6b;margin-top:.2rem}
.button{display:block;width:100%;padding:.9rem 1rem;border:0;border-radius:.5rem;font:inherit;font-weight:600;text-align:center;text-decoration:none;cursor:pointer;background:#a50e0e;color:#fff;margin:1rem 0}
.button.big{font-size:1.15rem;padding:1.1rem 1rem}
.button.secondary{background:#fff;color:#a50e0e;border:1px solid #a50e0e}
.status{background:#e6f4e8;border-left:4px solid #1d6b2a;padding:.75rem}
.error{border-left:4px solid #a50e0e}
footer{max-width:40rem;margin:0 auto;padding:1rem;color:#6b6b6b;font-size:.85rem}
@media (min-width:40rem){.button{width:auto;display:inline-block}}
</style>
</head>
<body>
<header>
<a id="home-link" href="/">{{.T.portal}}</a>
<a id="lang-switch" href="{{.SwitchURL}}" lang="{{.SwitchLang}}" hreflang="{{.SwitchLang}}">{{.SwitchLabel}}</a>
</header>
<main>
{{template "content" .}}
</main>
<footer>{{.T.footer}}</footer>
</body>
</html>
`

const homeHTML = `{{define "content"}}
<h1 id="portal-title">{{.T.portal}}</h1>
<p>{{.T.home_intro}}</p>
{{if .V.LoggedIn}}
<p id="greeting">{{.T.hello}}{{with .V.Name}}, {{.}}{{end}}!</p>
<a id="open-dossier" class="button" href="/ho-so">{{.T.open_dossier}}</a>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{{.V.CSRF}}"><button id="logout" class="button secondary" type="submit">{{.T.logout}}</button></form>
{{else}}
<a id="login-vneid" class="button big" href="/login">{{.T.login}}</a>
{{end}}
{{end}}`

const dossierHTML = `{{define "content"}}
<h1 id="dossier-title">{{.T.dossier_title}}</h1>
<section id="applicant" aria-labelledby="applicant-heading">
<h2 id="applicant-heading">{{.T.applicant}}</h2>
<p>{{.T.dossier_intro}}</p>
<p>{{.T.acr}}: <strong id="claim-acr">{{.V.ACR}}</strong></p>
{{range .V.Fields}}<div class="field">
<label for="claim-{{.ID}}">{{.Label}}</label>
{{if .Multiline}}<textarea id="claim-{{.ID}}" rows="2" readonly{{if not .Value}} class="unverified"{{end}}>{{.Value}}</textarea>{{else}}<input id="claim-{{.ID}}" type="text" value="{{.Value}}" readonly{{if not .Value}} class="unverified"{{end}}>{{end}}
{{if .Value}}<span id="claim-{{.ID}}-verified" class="verified">✓ {{$.T.verified}}</span>{{else}}<span id="claim-{{.ID}}-missing" class="missing">{{$.T.missing}}</span>{{end}}
</div>
{{end}}</section>
<form id="dossier-form" method="post" action="/ho-so">
<input type="hidden" name="csrf" value="{{.V.CSRF}}">
<section id="child" aria-labelledby="child-heading">
<h2 id="child-heading">{{.T.child}}</h2>
<p>{{.T.child_intro}}</p>
<label for="child-name">{{.T.c_name}}</label>
<input id="child-name" name="child_name" type="text" maxlength="100" autocomplete="off" value="{{.V.Child.Name}}">
<label for="child-birthdate">{{.T.c_birthdate}}</label>
<input id="child-birthdate" name="child_birthdate" type="date" value="{{.V.Child.Birthdate}}">
<label for="child-sex">{{.T.c_sex}}</label>
<select id="child-sex" name="child_sex">
<option value="">{{.T.choose}}</option>
<option value="male"{{if eq .V.Child.Sex "male"}} selected{{end}}>{{.T.male}}</option>
<option value="female"{{if eq .V.Child.Sex "female"}} selected{{end}}>{{.T.female}}</option>
</select>
<label for="child-birthplace">{{.T.c_birthplace}}</label>
<input id="child-birthplace" name="child_birthplace" type="text" maxlength="200" autocomplete="off" value="{{.V.Child.Birthplace}}">
</section>
{{if .V.Saved}}<p id="saved" class="status" role="status">{{.T.saved}}</p>{{end}}
<button id="save" class="button" type="submit">{{.T.save}}</button>
</form>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{{.V.CSRF}}"><button id="logout" class="button secondary" type="submit">{{.T.logout}}</button></form>
{{end}}`

const errorHTML = `{{define "content"}}
<section id="error" class="error" data-error="{{.V.Kind}}">
<h1 id="error-title">{{.V.Title}}</h1>
<p id="error-message">{{.V.Message}}</p>
{{with .V.Code}}<p>{{$.T.error_code}}: <code id="error-code">{{.}}</code></p>{{end}}
</section>
<a id="retry-login" class="button" href="/login">{{.T.retry}}</a>
<a id="back-home" class="button secondary" href="/">{{.T.home}}</a>
{{end}}`
