package portal

// The pages of the dossier's way to a receipt (preview, receipt, "Hồ sơ của tôi") and
// their messages, Vietnamese first; added to messages at start.

// docOnPage is what the signedDoc template gets: the page's messages and one document.
type docOnPage struct {
	T map[string]string
	D signedDoc
}

func init() {
	for lang, m := range dossierMessages {
		for k, v := range m {
			messages[lang][k] = v
		}
	}
}

var dossierMessages = map[string]map[string]string{
	"vi": {
		"f_nationality":         "Quốc tịch",
		"c_relation":            "Bạn là cha hay mẹ của trẻ?",
		"c_applicant_ethnicity": "Dân tộc của bạn",
		"c_ethnicity":           "Dân tộc của trẻ",
		"c_nationality":         "Quốc tịch của trẻ",
		"o_name":                "Họ và tên của người mẹ hoặc cha còn lại (để trống cả phần này nếu chưa xác định)",
		"o_birthdate":           "Ngày sinh của người mẹ hoặc cha còn lại",
		"o_ethnicity":           "Dân tộc của người mẹ hoặc cha còn lại",
		"o_nationality":         "Quốc tịch của người mẹ hoặc cha còn lại",
		"o_address":             "Nơi cư trú của người mẹ hoặc cha còn lại",
		"opt_father":            "Cha",
		"opt_mother":            "Mẹ",
		"optional":              "không bắt buộc",
		"v_other_name":          "Nhập họ tên người mẹ hoặc cha còn lại, hoặc để trống cả phần này.",
		"date_hint":             "Nhập theo dạng ngày/tháng/năm (dd/mm/yyyy), ví dụ 05/09/2025.",
		"continue":              "Tiếp tục: xem trước tờ khai",
		"sign_hint":             "Bấm “Tiếp tục” để xem ba tờ khai PDF đúng như sẽ ký, trước khi ký số.",
		"preview_title":         "Xem trước các tờ khai",
		"preview_intro":         "Đây là các tờ khai sẽ được ký, đúng từng chữ. Hãy đọc kỹ trước khi bấm “Ký số”.",
		"preview_open":          "Mở tờ khai (PDF)",
		"edit":                  "Sửa thông tin",
		"sign_pending":          "Quét mã QR bằng camera điện thoại (nếu bạn đang dùng chính điện thoại này, bấm “Mở trên điện thoại này”), đăng nhập VNeID và bấm “Ký tất cả”. Trang này tự cập nhật khi bạn ký xong.",
		"sign_signed":           "Đã ký số xong cả ba tờ khai. Hồ sơ đang được nộp.",
		"open_here":             "Mở trên điện thoại này",
		"ind_passed":            "Chữ ký hợp lệ",
		"details":               "chi tiết",
		"indication":            "Kết quả kiểm tra (ETSI)",
		"receipt_title":         "Biên nhận hồ sơ",
		"receipt_intro":         "Hồ sơ của bạn đã được nộp trực tuyến.",
		"receipt_number":        "Mã hồ sơ",
		"receipt_submitted":     "Thời điểm nộp",
		"receipt_typed":         "Thông tin bạn đã khai",
		"receipt_docs":          "Các tờ khai đã ký số",
		"receipt_next":          "Bước tiếp theo",
		"next_birth":            "Ủy ban nhân dân cấp xã xem xét hồ sơ trong 3 ngày làm việc; giấy khai sinh, thông tin thường trú và thẻ bảo hiểm y tế của trẻ được trả kết quả điện tử tại “Hồ sơ của tôi” và qua số điện thoại của bạn. Khi liên hệ, hãy đọc mã hồ sơ.",
		"next_death":            "Ủy ban nhân dân cấp xã xem xét hồ sơ trong 3 ngày làm việc; trích lục khai tử, việc xóa đăng ký thường trú và quyết định hỗ trợ mai táng được trả kết quả tại “Hồ sơ của tôi” và qua số điện thoại của bạn. Khi liên hệ, hãy đọc mã hồ sơ.",
		"my_dossiers":           "Hồ sơ của tôi",
		"mine_title":            "Hồ sơ của tôi",
		"mine_empty":            "Bạn chưa nộp hồ sơ nào.",
		"mine_drafts":           "Hồ sơ đang khai dở",
		"mine_continue":         "Tiếp tục khai",

		"err_dossier_notfound_title": "Không tìm thấy hồ sơ",
		"err_dossier_notfound":       "Hồ sơ này không tồn tại hoặc không thuộc về bạn.",
	},
	"en": {
		"f_nationality":         "Nationality",
		"c_relation":            "Are you the child's father or mother?",
		"c_applicant_ethnicity": "Your ethnic group",
		"c_ethnicity":           "The child's ethnic group",
		"c_nationality":         "The child's nationality",
		"o_name":                "Full name of the other parent (leave this part empty if not established)",
		"o_birthdate":           "Date of birth of the other parent",
		"o_ethnicity":           "Ethnic group of the other parent",
		"o_nationality":         "Nationality of the other parent",
		"o_address":             "Residence of the other parent",
		"opt_father":            "Father",
		"opt_mother":            "Mother",
		"optional":              "optional",
		"v_other_name":          "Type the other parent's name, or leave this whole part empty.",
		"date_hint":             "Type it as day/month/year (dd/mm/yyyy), for example 05/09/2025.",
		"continue":              "Continue: preview the forms",
		"sign_hint":             "Press “Continue” to see the three PDF forms exactly as they will be signed, before you sign.",
		"preview_title":         "Preview the forms",
		"preview_intro":         "These are the forms you will sign, word for word. Read them before you press “Sign digitally”.",
		"preview_open":          "Open the form (PDF)",
		"edit":                  "Change the details",
		"sign_pending":          "Scan the QR code with your phone's camera (if you are on this phone, press “Open on this phone”), log in with VNeID and press “Sign all”. This page updates by itself when you have signed.",
		"sign_signed":           "All three forms are signed. The application is being submitted.",
		"open_here":             "Open on this phone",
		"ind_passed":            "Valid signature",
		"details":               "details",
		"indication":            "Validation result (ETSI)",
		"receipt_title":         "Application receipt",
		"receipt_intro":         "Your application has been submitted online.",
		"receipt_number":        "Application number",
		"receipt_submitted":     "Submitted at",
		"receipt_typed":         "What you declared",
		"receipt_docs":          "The signed forms",
		"receipt_next":          "Next steps",
		"next_birth":            "The commune People's Committee reviews the application within 3 working days; the birth certificate, the residence record and the child's health-insurance card are delivered electronically under “My applications” and by text to your phone. Quote the application number when you get in touch.",
		"next_death":            "The commune People's Committee reviews the application within 3 working days; the death certificate extract, the removal from the residence register and the funeral allowance decision are delivered under “My applications” and by text to your phone. Quote the application number when you get in touch.",
		"my_dossiers":           "My applications",
		"mine_title":            "My applications",
		"mine_empty":            "You have not submitted any application yet.",
		"mine_drafts":           "Applications in progress",
		"mine_continue":         "Continue",

		"err_dossier_notfound_title": "Application not found",
		"err_dossier_notfound":       "This application does not exist or is not yours.",
	},
}

// signedDocHTML shows one signed document in the citizen's words; the technical result
// is behind "chi tiết".
const signedDocHTML = `{{define "signedDoc"}}<a class="download" href="{{.D.URL}}" download>{{.D.Title}}</a> · {{.T.download}}
{{if .D.Error}}<p class="verify-error">{{.D.Error}}</p>{{else}}<dl class="report">
<dt>{{.T.verification}}</dt><dd class="indication {{if .D.Passed}}ok{{else}}bad{{end}}">{{if .D.Passed}}✓ {{end}}{{.D.Text}}</dd>
<dt>{{.T.signer}}</dt><dd class="signer">{{.D.Signer}}</dd>
<dt>{{.T.signed_at}}</dt><dd class="signed-time">{{.D.Time}}</dd>
</dl>
<details class="tech"><summary>{{.T.details}}</summary><dl class="report">
<dt>{{.T.indication}}</dt><dd><code class="indication-code">{{.D.Indication}}</code></dd>
<dt>{{.T.level}}</dt><dd class="level">{{.D.Level}}</dd>
</dl></details>{{end}}{{end}}`

const previewHTML = `{{define "content"}}
<h1 id="preview-title">{{.T.preview_title}}</h1>
<p id="preview-bundle">{{.V.Title}}</p>
<p>{{.T.preview_intro}}</p>
{{range $i, $d := .V.Docs}}<section class="preview" data-doc="{{$i}}">
<h2>{{$d.Title}}</h2>
<iframe class="pdf-preview" src="{{$d.URL}}" title="{{$d.Title}}"></iframe>
<a class="button secondary preview-open" href="{{$d.URL}}" target="_blank" rel="noopener">{{$.T.preview_open}}</a>
</section>
{{end}}<form id="sign-form" method="post" action="/ho-so/{{.V.Bundle}}/ky-so">
<input type="hidden" name="csrf" value="{{.V.CSRF}}">
<button id="sign" class="button big" type="submit">{{.T.sign_button}}</button>
</form>
<a id="edit" class="button secondary" href="/ho-so/{{.V.Bundle}}">{{.T.edit}}</a>
{{end}}`

const receiptHTML = `{{define "content"}}
<h1 id="receipt-title">{{.T.receipt_title}}</h1>
<section id="receipt" class="status">
<p>{{.T.receipt_intro}}</p>
<p>{{.T.receipt_number}}: <span id="dossier-number" class="receipt-number">{{.V.Number}}</span></p>
<p>{{.V.Bundle}}</p>
<p>{{.T.receipt_submitted}}: <span id="submitted-at">{{.V.Submitted}}</span></p>
</section>
<section id="receipt-docs">
<h2>{{.T.receipt_docs}}</h2>
<ol id="signed-docs">{{range .V.Docs}}
<li class="signed-doc" data-indication="{{.Indication}}">
{{template "signedDoc" (pair $ .)}}
</li>{{end}}</ol>
</section>
<section id="receipt-typed">
<h2>{{.T.receipt_typed}}</h2>
<dl class="report">{{range .V.Typed}}<dt>{{.Label}}</dt><dd>{{.Value}}</dd>
{{end}}</dl>
</section>
<section id="next-steps">
<h2>{{.T.receipt_next}}</h2>
<p>{{.V.Next}}</p>
</section>
<a id="mine-link" class="button" href="/ho-so-cua-toi">{{.T.my_dossiers}}</a>
<a id="back-home" class="button secondary" href="/">{{.T.home}}</a>
{{end}}`

const mineHTML = `{{define "content"}}
<h1 id="mine-title">{{.T.mine_title}}</h1>
{{with .V.Drafts}}<section id="drafts">
<h2>{{$.T.mine_drafts}}</h2>
{{range .}}<p>{{.Bundle}}</p><a class="button secondary" href="{{.URL}}">{{$.T.mine_continue}}</a>
{{end}}</section>
{{end}}<section id="dossiers">
{{range .V.Dossiers}}<p class="dossier-row"><a class="dossier-link" href="{{.URL}}">{{.Number}}</a> · {{.Bundle}} · {{.Submitted}}</p>
{{else}}<p>{{.T.mine_empty}}</p>
{{end}}</section>
<a id="back-home" class="button secondary" href="/">{{.T.home}}</a>
{{end}}`
