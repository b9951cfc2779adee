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
		"not_verified":  "VNeID chưa xác thực thông tin này",
		"eid_level":     "mức",
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

		"bundles":              "Các nhóm thủ tục liên thông",
		"start_bundle":         "Đăng nhập và bắt đầu",
		"b_birth":              "Khai sinh, thường trú và thẻ BHYT cho trẻ dưới 6 tuổi",
		"b_birth_intro":        "Ba thủ tục trong một lần khai: đăng ký khai sinh, đăng ký thường trú và cấp thẻ bảo hiểm y tế cho trẻ dưới 6 tuổi.",
		"b_death":              "Khai tử, xóa đăng ký thường trú và trợ cấp mai táng",
		"b_death_intro":        "Ba thủ tục trong một lần khai: đăng ký khai tử, xóa đăng ký thường trú và hỗ trợ chi phí mai táng.",
		"type_once":            "Bạn chỉ nhập một lần; thông tin được điền vào cả ba tờ khai.",
		"deceased":             "Thông tin người đã mất",
		"d_name":               "Họ và tên người đã mất",
		"d_cccd":               "Số định danh cá nhân của người đã mất",
		"d_birthdate":          "Ngày sinh của người đã mất",
		"d_sex":                "Giới tính của người đã mất",
		"d_death_date":         "Ngày mất",
		"d_death_place":        "Nơi mất",
		"d_address":            "Nơi thường trú của người đã mất",
		"d_relationship":       "Quan hệ của bạn với người đã mất",
		"opt_male":             "Nam",
		"opt_female":           "Nữ",
		"opt_child":            "Con",
		"opt_spouse":           "Vợ hoặc chồng",
		"opt_parent":           "Cha hoặc mẹ",
		"opt_sibling":          "Anh, chị hoặc em",
		"opt_other":            "Khác",
		"errors_summary":       "Vui lòng sửa các mục sau:",
		"v_required":           "Vui lòng nhập thông tin này.",
		"v_choose":             "Vui lòng chọn một mục.",
		"v_too_long":           "Nội dung quá dài.",
		"v_name":               "Họ tên chỉ gồm chữ cái, dấu cách, dấu nháy (') và dấu gạch nối (-).",
		"v_cccd":               "Số định danh cá nhân gồm đúng 12 chữ số.",
		"v_cccd_mismatch":      "Số định danh cá nhân không khớp với năm sinh và giới tính (chữ số thứ 4 đến 6).",
		"v_date":               "Ngày không hợp lệ. Nhập theo dạng ngày/tháng/năm, ví dụ 05/09/2025.",
		"v_future":             "Ngày này chưa đến.",
		"v_max_age_5":          "Nhóm thủ tục này dành cho trẻ dưới 6 tuổi.",
		"v_max_age_150":        "Ngày này quá xa, vui lòng kiểm tra lại.",
		"v_death_before_birth": "Ngày mất không thể trước ngày sinh.",
		"sign_button":          "Ký số",
		"sign_title":           "Ký số hồ sơ",
		"sign_signing":         "Đang ký các tài liệu…",
		"sign_rejected":        "Bạn đã từ chối ký trên điện thoại. Hồ sơ chưa được ký.",
		"sign_canceled":        "Yêu cầu ký đã bị hủy. Hồ sơ chưa được ký.",
		"sign_expired":         "Yêu cầu ký đã hết hạn trước khi được phê duyệt. Hồ sơ chưa được ký; bạn có thể tạo lại yêu cầu.",
		"sign_failed":          "Hệ thống ký số gặp lỗi khi ký. Hồ sơ chưa được ký; vui lòng thử lại sau.",
		"qr_alt":               "Mã QR của đường liên kết ký trên điện thoại",
		"approval_link":        "Hoặc mở đường liên kết này trên điện thoại:",
		"expires":              "Yêu cầu hết hạn lúc",
		"refresh":              "Cập nhật trạng thái",
		"sign_again":           "Tạo lại yêu cầu ký",
		"verification":         "Kiểm tra chữ ký",
		"signer":               "Người ký",
		"signed_at":            "Thời điểm ký",
		"level":                "Định dạng chữ ký",
		"ind_failed":           "Không hợp lệ",
		"ind_indeterminate":    "Chưa xác định",
		"verify_unavailable":   "Chưa kiểm tra được chữ ký lúc này. Tải lại trang để thử lại.",
		"download":             "Tải bản đã ký (PDF)",

		"err_sign_unavailable_title": "Hệ thống ký số chưa sẵn sàng",
		"err_sign_unavailable":       "Không kết nối được với hệ thống ký số. Hồ sơ của bạn chưa được gửi ký. Vui lòng thử lại sau ít phút.",
		"err_sign_notfound_title":    "Không tìm thấy yêu cầu ký",
		"err_sign_notfound":          "Yêu cầu ký này không tồn tại hoặc không thuộc về bạn.",
		"err_sign_expired_title":     "Yêu cầu ký đã hết hạn",
		"err_sign_expired":           "Yêu cầu ký đã hết hạn. Vui lòng mở lại hồ sơ và bấm “Ký số”.",
		"err_sign_config_title":      "Cổng dịch vụ chưa sẵn sàng để ký",
		"err_sign_config":            "Cổng dịch vụ chưa được cấu hình đúng để gửi yêu cầu ký. Vui lòng báo cho bộ phận hỗ trợ kèm mã lỗi.",
		"err_sign_refused_title":     "Hệ thống ký số không nhận hồ sơ",
		"err_sign_refused":           "Hệ thống ký số không nhận hồ sơ này. Vui lòng báo cho bộ phận hỗ trợ kèm mã lỗi.",
		"err_sign_not_signed_title":  "Tài liệu chưa được ký",
		"err_sign_not_signed":        "Tài liệu này chưa được ký nên chưa tải được bản đã ký.",
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
		"not_verified":  "Not verified by VNeID",
		"eid_level":     "level",
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

		"bundles":              "Linked procedures",
		"start_bundle":         "Log in and start",
		"b_birth":              "Birth, permanent residence and health-insurance card for a child under six",
		"b_birth_intro":        "Three procedures in one application: birth registration, permanent-residence registration and a health-insurance card for a child under six.",
		"b_death":              "Death registration, removal from the residence register and funeral allowance",
		"b_death_intro":        "Three procedures in one application: death registration, removal from the residence register and the funeral allowance.",
		"type_once":            "You type this once; it fills all three forms.",
		"deceased":             "The deceased",
		"d_name":               "Full name of the deceased",
		"d_cccd":               "Personal identification number of the deceased",
		"d_birthdate":          "Date of birth of the deceased",
		"d_sex":                "Sex of the deceased",
		"d_death_date":         "Date of death",
		"d_death_place":        "Place of death",
		"d_address":            "Permanent residence of the deceased",
		"d_relationship":       "Your relationship to the deceased",
		"opt_male":             "Male",
		"opt_female":           "Female",
		"opt_child":            "Child",
		"opt_spouse":           "Husband or wife",
		"opt_parent":           "Father or mother",
		"opt_sibling":          "Brother or sister",
		"opt_other":            "Other",
		"errors_summary":       "Please correct the following:",
		"v_required":           "Please fill in this field.",
		"v_choose":             "Please choose an option.",
		"v_too_long":           "This is too long.",
		"v_name":               "A name has only letters, spaces, apostrophes (') and hyphens (-).",
		"v_cccd":               "A personal identification number has exactly 12 digits.",
		"v_cccd_mismatch":      "The personal identification number does not match the year of birth and sex (digits 4 to 6).",
		"v_date":               "This is not a valid date. Type it as day/month/year, for example 05/09/2025.",
		"v_future":             "This date is in the future.",
		"v_max_age_5":          "These procedures are for a child under six.",
		"v_max_age_150":        "This date is too far back; please check it.",
		"v_death_before_birth": "The date of death cannot be before the date of birth.",
		"sign_button":          "Sign digitally",
		"sign_title":           "Sign the application",
		"sign_signing":         "Signing the documents…",
		"sign_rejected":        "You declined to sign on your phone. The application is not signed.",
		"sign_canceled":        "The signing request was cancelled. The application is not signed.",
		"sign_expired":         "The signing request expired before it was approved. The application is not signed; you can make a new request.",
		"sign_failed":          "The signing service failed while signing. The application is not signed; please try again later.",
		"qr_alt":               "QR code of the link to sign on your phone",
		"approval_link":        "Or open this link on your phone:",
		"expires":              "The request expires at",
		"refresh":              "Refresh the status",
		"sign_again":           "Make a new signing request",
		"verification":         "Signature check",
		"signer":               "Signed by",
		"signed_at":            "Signed at",
		"level":                "Signature format",
		"ind_failed":           "Not valid",
		"ind_indeterminate":    "Indeterminate",
		"verify_unavailable":   "The signature could not be checked just now. Reload the page to try again.",
		"download":             "Download the signed copy (PDF)",

		"err_sign_unavailable_title": "The signing service is not available",
		"err_sign_unavailable":       "The signing service could not be reached. Your application has not been sent for signing. Please try again in a few minutes.",
		"err_sign_notfound_title":    "Signing request not found",
		"err_sign_notfound":          "This signing request does not exist or is not yours.",
		"err_sign_expired_title":     "The signing request has expired",
		"err_sign_expired":           "The signing request has expired. Please open the application again and press “Sign digitally”.",
		"err_sign_config_title":      "The portal cannot send signing requests",
		"err_sign_config":            "The portal is not configured correctly to send signing requests. Please tell the help desk, quoting the error code.",
		"err_sign_refused_title":     "The signing service refused the application",
		"err_sign_refused":           "The signing service did not accept this application. Please tell the help desk, quoting the error code.",
		"err_sign_not_signed_title":  "The document is not signed",
		"err_sign_not_signed":        "This document is not signed yet, so there is no signed copy to download.",
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
.bundle h2{margin-top:0}
.field-error{display:block;color:#a50e0e;font-size:.9rem;margin-top:.2rem}
[aria-invalid="true"]{border-color:#a50e0e;border-width:2px}
.error-summary{background:#fff;border-left:4px solid #a50e0e;padding:.5rem 1rem;margin:1rem 0}
.error-summary a{color:#a50e0e}
.qr{text-align:center}
#signing[data-status="signing"] #scan{display:none}
.qr img{max-width:100%;height:auto;image-rendering:pixelated}
#approval-link{word-break:break-all}
.signed-doc{margin:.75rem 0}
.report{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .75rem;margin:.4rem 0 0}
.report dt{color:#555}
.report dd{margin:0}
.indication.ok{color:#1d6b2a;font-weight:600}
.indication.bad{color:#a50e0e;font-weight:600}
footer{max-width:40rem;margin:0 auto;padding:1rem;color:#6b6b6b;font-size:.85rem}
header a,#approval-link,a.download,summary{display:inline-block;min-height:44px;padding:.6rem .25rem;line-height:1.5}
input,select{min-height:44px}
.hint{display:block;font-size:.9rem;color:#555;margin-top:.2rem}
.optional{font-weight:400;color:#555}
.preview iframe{display:block;width:100%;height:70vh;border:1px solid #b8bcc4;background:#fff}
#open-here{display:none}
@media (max-width:40rem){#open-here{display:block}.qr{display:none}.preview iframe{display:none}}
.receipt-number{font-size:1.4rem;font-weight:700;letter-spacing:.03em}
@media (min-width:40rem){.button{width:auto;display:inline-block}}
</style>
</head>
<body>
<header>
<a id="home-link" href="/">{{.T.portal}}</a>
<a id="my-data" href="{{.MyDataURL}}">{{if eq .Lang "en"}}My data{{else}}Dữ liệu của tôi{{end}}</a>
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
{{range .V.Bundles}}<section class="bundle" id="bundle-{{.ID}}">
<h2>{{.Name}}</h2>
<p>{{.Intro}}</p>
<a id="open-{{.ID}}" class="button" href="{{.Open}}">{{$.T.open_dossier}}</a>
</section>
{{end}}<a id="mine-link" class="button secondary" href="/ho-so-cua-toi">{{.T.my_dossiers}}</a>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{{.V.CSRF}}"><button id="logout" class="button secondary" type="submit">{{.T.logout}}</button></form>
{{else}}
<a id="login-vneid" class="button big" href="/login">{{.T.login}}</a>
<h2>{{.T.bundles}}</h2>
{{range .V.Bundles}}<section class="bundle" id="bundle-{{.ID}}">
<h2>{{.Name}}</h2>
<p>{{.Intro}}</p>
<a id="start-{{.ID}}" class="button secondary" href="{{.Open}}">{{$.T.start_bundle}}</a>
</section>
{{end}}{{end}}
{{end}}`

const dossierHTML = `{{define "content"}}
<h1 id="dossier-title">{{.V.Title}}</h1>
<p id="bundle-intro">{{.V.Intro}}</p>
<section id="applicant" aria-labelledby="applicant-heading">
<h2 id="applicant-heading">{{.T.applicant}}</h2>
<p>{{.T.dossier_intro}}</p>
<p>{{.T.acr}}: <strong id="claim-acr">{{.V.ACR}}</strong></p>
{{range .V.Fields}}<div class="field">
<label for="claim-{{.ID}}">{{.Label}}</label>
{{if .Multiline}}<textarea id="claim-{{.ID}}" rows="2" readonly{{if not .Value}} class="unverified"{{end}}>{{.Value}}</textarea>{{else}}<input id="claim-{{.ID}}" type="text" value="{{.Value}}" readonly{{if not .Value}} class="unverified"{{end}}>{{end}}
{{if and .Value .Verified}}<span id="claim-{{.ID}}-verified" class="verified">✓ {{$.T.verified}}{{with .Level}}, {{$.T.eid_level}} {{.}}{{end}}</span>{{else if .Value}}<span id="claim-{{.ID}}-unverified" class="missing">{{$.T.not_verified}}</span>{{else}}<span id="claim-{{.ID}}-missing" class="missing">{{$.T.missing}}</span>{{end}}
</div>
{{end}}</section>
<form id="dossier-form" method="post" action="{{.V.Action}}" novalidate data-bundle="{{.V.Bundle}}">
<input type="hidden" name="csrf" value="{{.V.CSRF}}">
{{with .V.Errors}}<div id="form-errors" class="error-summary" role="alert">
<p>{{$.T.errors_summary}}</p>
<ul>{{range .}}<li><a href="#{{.ID}}">{{.Label}}: {{.Error}}</a></li>{{end}}</ul>
</div>
{{end}}<section id="typed" aria-labelledby="typed-heading">
<h2 id="typed-heading">{{.V.Section}}</h2>
<p>{{.T.type_once}}</p>
{{range .V.Inputs}}<label for="{{.ID}}">{{.Label}}{{if .Optional}} <span class="optional">({{$.T.optional}})</span>{{end}}</label>
{{if eq .Kind "select"}}<select id="{{.ID}}" name="{{.Name}}"{{if not .Optional}} required{{end}}{{if .Error}} aria-invalid="true" aria-describedby="{{.ID}}-error"{{end}}>
<option value="">{{$.T.choose}}</option>
{{range .Options}}<option value="{{.Value}}"{{if .Selected}} selected{{end}}>{{.Label}}</option>
{{end}}</select>
{{else if eq .Kind "date"}}<input id="{{.ID}}" name="{{.Name}}" type="text" inputmode="numeric" autocomplete="off" placeholder="dd/mm/yyyy" maxlength="10" value="{{.Value}}"{{if not .Optional}} required{{end}}{{if .Error}} aria-invalid="true" aria-describedby="{{.ID}}-error"{{else}} aria-describedby="{{.ID}}-hint"{{end}}>
<span id="{{.ID}}-hint" class="hint">{{$.T.date_hint}}</span>
{{else if eq .Kind "cccd"}}<input id="{{.ID}}" name="{{.Name}}" type="text" inputmode="numeric" maxlength="12" autocomplete="off" value="{{.Value}}" required{{if .Error}} aria-invalid="true" aria-describedby="{{.ID}}-error"{{end}}>
{{else}}<input id="{{.ID}}" name="{{.Name}}" type="text" maxlength="{{.Max}}" autocomplete="off" value="{{.Value}}"{{if not .Optional}} required{{end}}{{if .Error}} aria-invalid="true" aria-describedby="{{.ID}}-error"{{end}}>
{{end}}{{if .Error}}<span id="{{.ID}}-error" class="field-error">{{.Error}}</span>
{{end}}{{end}}</section>
<p>{{.T.sign_hint}}</p>
<button id="continue" class="button big" type="submit">{{.T.continue}}</button>
</form>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{{.V.CSRF}}"><button id="logout" class="button secondary" type="submit">{{.T.logout}}</button></form>
{{end}}`

const errorHTML = `{{define "content"}}
<section id="error" class="error" data-error="{{.V.Kind}}">
<h1 id="error-title">{{.V.Title}}</h1>
<p id="error-message">{{.V.Message}}</p>
{{with .V.Code}}<p>{{$.T.error_code}}: <code id="error-code">{{.}}</code></p>{{end}}
</section>
{{if .V.Retry}}<a id="retry-login" class="button" href="/login">{{.T.retry}}</a>
{{end}}<a id="back-home" class="button secondary" href="/">{{.T.home}}</a>
{{end}}`

// signHTML is the "Ký số" page. While the request waits, a small script long-polls the
// portal's status endpoint and reloads the page when the request ends; without script,
// the refresh link does the same.
const signHTML = `{{define "content"}}
<h1 id="sign-title">{{.T.sign_title}}</h1>
{{with .V.Bundle}}<p id="sign-bundle">{{.}}</p>{{end}}
<section id="signing" data-status="{{.V.Status}}" data-status-url="/ky-so/{{.V.ID}}/trang-thai" data-version="{{.V.Version}}"{{if and .V.Final (not .V.Signed)}} class="error"{{end}}>
<p id="sign-status"{{if .V.Signed}} class="status"{{end}} role="status" aria-live="polite">{{.V.Message}}</p>
{{if not .V.Final}}<div id="scan">
<div class="qr"><img id="sign-qr" src="/ky-so/{{.V.ID}}/qr.png" width="288" height="288" alt="{{.T.qr_alt}}"></div>
<a id="open-here" class="button big" href="{{.V.ApprovalURL}}">{{.T.open_here}}</a>
<p>{{.T.approval_link}}<br><a id="approval-link" href="{{.V.ApprovalURL}}">{{.V.ApprovalURL}}</a></p>
<p>{{.T.expires}} <strong id="sign-expires">{{.V.Expires}}</strong> (GMT+7)</p>
</div>
<ol id="sign-docs">{{range .V.Docs}}<li>{{.Title}}</li>{{end}}</ol>
<a id="refresh" class="button secondary" href="/ky-so/{{.V.ID}}">{{.T.refresh}}</a>
{{else if .V.Signed}}<ol id="signed-docs">{{range .V.Docs}}
<li class="signed-doc" data-indication="{{.Indication}}">
{{template "signedDoc" (pair $ .)}}
</li>{{end}}</ol>
{{else}}<a id="sign-again" class="button" href="{{.V.RetryURL}}">{{.T.sign_again}}</a>
{{end}}</section>
<a id="back-home" class="button secondary" href="/">{{.T.home}}</a>
{{if not .V.Final}}<script nonce="{{.Nonce}}">
(function () {
  var box = document.getElementById('signing');
  var text = document.getElementById('sign-status');
  var url = box.getAttribute('data-status-url');
  var since = box.getAttribute('data-version');
  var delay = 1000;
  function again() { setTimeout(poll, delay); delay = Math.min(delay * 2, 30000); }
  function poll() {
    fetch(url + '?since=' + encodeURIComponent(since), {headers: {Accept: 'application/json'}, credentials: 'same-origin', cache: 'no-store'})
      .then(function (r) {
        return r.json().then(function (s) {
          if (s.message) { text.textContent = s.message; }
          if (r.ok && s.final) { location.reload(); return; }
          if (r.ok) { delay = 1000; since = s.version; box.setAttribute('data-status', s.status); poll(); return; }
          if (r.status === 401 || r.status === 404) { location.reload(); return; }
          again();
        });
      })
      .catch(again);
  }
  poll();
})();
</script>
{{end}}{{end}}`
