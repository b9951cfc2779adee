package web

import (
	"bytes"
	"crypto/rand"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/motlan/motlan/idp/store"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// T returns the texts of a language, vi or en.
func T(lang string) map[string]string { return messages[lang] }

// messages holds every text a page shows; Vietnamese first.
var messages = map[string]map[string]string{
	"vi": {
		"title": "Motlan – Đăng nhập một lần", "brand": "Motlan", "switch": "English",
		"small_print":   "Đăng nhập và ký số qua Motlan",
		"consent_title": "Chia sẻ thông tin", "consent_asks": "muốn nhận các thông tin sau của bạn, đã được xác thực qua định danh điện tử:",
		"consent_note": "Bạn không phải khai lại các thông tin này. Bạn có thể từ chối.",
		"allow":        "Đồng ý chia sẻ", "deny": "Từ chối",
		"claim.name": "Họ và tên", "claim.family_name": "Họ", "claim.middle_name": "Tên đệm", "claim.given_name": "Tên",
		"claim.birthdate": "Ngày sinh", "claim.gender": "Giới tính", "claim.nationality": "Quốc tịch",
		"claim.place_of_origin": "Quê quán", "claim.address": "Nơi thường trú",
		"claim.phone_number": "Số điện thoại", "claim.cccd": "Số định danh cá nhân",
		"claim.offline_access": "Truy cập khi bạn không trực tuyến",
		"gender.male":          "Nam", "gender.female": "Nữ",
		"detail":              "Chi tiết kỹ thuật (cho nhà phát triển)",
		"back":                "Quay lại",
		"err.title":           "Không thể tiếp tục",
		"err.bad_request":     "Yêu cầu không hợp lệ.",
		"err.unknown_client":  "Dịch vụ yêu cầu đăng nhập chưa được đăng ký với Motlan.",
		"err.bad_redirect":    "Địa chỉ chuyển hướng của dịch vụ không khớp với địa chỉ đã đăng ký, nên Motlan không chuyển bạn đến đó.",
		"err.bad_callback":    "Phiên đăng nhập này không thuộc trình duyệt của bạn. Hãy bắt đầu lại từ trang dịch vụ.",
		"err.expired_login":   "Phiên đăng nhập đã hết hạn hoặc đã được dùng. Hãy bắt đầu lại từ trang dịch vụ.",
		"err.unavailable":     "Hệ thống đang bận. Vui lòng thử lại sau ít phút.",
		"err.rate_limited":    "Có quá nhiều yêu cầu trong thời gian ngắn. Vui lòng đợi một lát rồi thử lại.",
		"err.server_error":    "Đã có lỗi xảy ra. Vui lòng thử lại sau.",
		"err.stepup_failed":   "Chưa hoàn tất đăng nhập định danh điện tử mức độ 2, cần để ký số. Vui lòng mở lại đường dẫn ký và thử lại; nếu tài khoản của bạn mới ở mức độ 1, hãy liên hệ cơ quan Công an để nâng cấp.",
		"err.level2_required": "Cần tài khoản định danh điện tử mức độ 2 để ký số. Vui lòng liên hệ cơ quan Công an để nâng cấp tài khoản.",
		// why the eID refused the login for signing, each in its own sentence (eid.Denial)
		"err.stepup_cancelled":   "Bạn đã hủy đăng nhập định danh điện tử nên chưa ký. Không tài liệu nào được ký. Khi sẵn sàng, hãy đăng nhập lại để ký.",
		"err.stepup_credentials": "Bạn đã nhập sai mật khẩu hoặc mã xác thực quá nhiều lần nên định danh điện tử đã dừng lần đăng nhập này. Không tài liệu nào được ký. Hãy kiểm tra lại mật khẩu rồi đăng nhập lại.",
		"err.stepup_consent":     "Bạn đã không đồng ý chia sẻ thông tin định danh cần để ký số, nên chưa ký được. Không tài liệu nào được ký.",
		"retry":                  "Đăng nhập lại để ký",
	},
	"en": {
		"title": "Motlan – Log in once", "brand": "Motlan", "switch": "Tiếng Việt",
		"small_print":   "Login and signing by Motlan",
		"consent_title": "Share your information", "consent_asks": "would like the following information, verified by your national eID:",
		"consent_note": "You will not have to type it again. You may decline.",
		"allow":        "Allow", "deny": "Decline",
		"claim.name": "Full name", "claim.family_name": "Family name", "claim.middle_name": "Middle name", "claim.given_name": "Given name",
		"claim.birthdate": "Date of birth", "claim.gender": "Sex", "claim.nationality": "Nationality",
		"claim.place_of_origin": "Place of origin", "claim.address": "Permanent residence",
		"claim.phone_number": "Phone number", "claim.cccd": "Personal ID number",
		"claim.offline_access": "Access while you are offline",
		"gender.male":          "Male", "gender.female": "Female",
		"detail":                 "Technical detail (for developers)",
		"back":                   "Go back",
		"err.title":              "Cannot continue",
		"err.bad_request":        "The request is not valid.",
		"err.unknown_client":     "The service asking you to log in is not registered with Motlan.",
		"err.bad_redirect":       "The service's redirect address does not match the registered one, so Motlan will not send you there.",
		"err.bad_callback":       "This login does not belong to your browser. Please start again from the service.",
		"err.expired_login":      "This login has expired or was already used. Please start again from the service.",
		"err.unavailable":        "The system is busy. Please try again in a few minutes.",
		"err.rate_limited":       "Too many requests in a short time. Please wait a moment and try again.",
		"err.server_error":       "Something went wrong. Please try again later.",
		"err.stepup_failed":      "The level-2 eID login that signing needs did not complete. Please open the signing link again and retry; if your account is only level 1, ask the police to upgrade it.",
		"err.level2_required":    "Signing needs a level-2 eID account. Please ask the police to upgrade your account.",
		"err.stepup_cancelled":   "You cancelled the national eID login, so nothing was signed. When you are ready, log in again to sign.",
		"err.stepup_credentials": "The password or one-time code was wrong too many times, so the national eID stopped this login. Nothing was signed. Check your password, then log in again.",
		"err.stepup_consent":     "You did not agree to share the identity data that signing needs, so nothing was signed.",
		"retry":                  "Log in again to sign",
	},
}

// PickLocale chooses vi or en: an explicit lang switch wins, then ui_locales, then vi.
func PickLocale(uiLocales []string, lang string) string {
	if lang == "en" || lang == "vi" {
		return lang
	}
	for _, l := range uiLocales {
		l = strings.ToLower(l)
		if strings.HasPrefix(l, "vi") {
			return "vi"
		}
		if strings.HasPrefix(l, "en") {
			return "en"
		}
	}
	return "vi"
}

// OtherLang is the language the switch link offers.
func OtherLang(lang string) string {
	if lang == "en" {
		return "vi"
	}
	return "en"
}

// Pages renders the provider's HTML pages.
type Pages struct {
	Log *slog.Logger
	// Brand is the deployment's name in the header; "": Motlan (then no small print).
	Brand string
}

// Render writes an HTML page with a per-response CSP nonce for its stylesheet.
func (p *Pages) Render(w http.ResponseWriter, r *http.Request, status int, name, lang string, data any) {
	nonce := rand.Text()
	var buf bytes.Buffer
	err := pages.ExecuteTemplate(&buf, name, map[string]any{
		"Lang": lang, "T": messages[lang], "Nonce": nonce, "D": data, "Switch": switchURL(data), "Brand": p.Brand,
	})
	if err != nil {
		p.Log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func switchURL(data any) string {
	if m, ok := data.(map[string]any); ok {
		if s, ok := m["Switch"].(string); ok {
			return s
		}
	}
	return ""
}

// Error shows an error page; the detail is for developers and never holds personal data.
func (p *Pages) Error(w http.ResponseWriter, r *http.Request, e *PageError) {
	lang := PickLocale(nil, r.URL.Query().Get("lang"))
	if e.Lang == "en" || e.Lang == "vi" {
		lang = e.Lang
	}
	t := messages[lang]
	msg, ok := t["err."+e.Key]
	if !ok {
		msg = t["err.server_error"]
	}
	q := r.URL.Query()
	q.Set("lang", OtherLang(lang))
	sw := ""
	if r.Method == http.MethodGet {
		sw = r.URL.Path + "?" + q.Encode()
	}
	p.Render(w, r, e.Status, "error", lang, map[string]any{
		"Title": t["err.title"], "Message": msg, "Detail": e.Detail, "Switch": sw, "Retry": e.Retry, "Key": e.Key,
	})
}

// ReadForm reads a page endpoint's form, GET or POST, bounded to MaxParamBytes and checked
// to be text the store can hold (Storable). It answers any other method, or a form it
// cannot parse or store (with detail on the error page), and then returns false.
func (p *Pages) ReadForm(w http.ResponseWriter, r *http.Request, detail string) bool {
	if MethodNotAllowed(w, r) {
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxParamBytes)
	if err := r.ParseForm(); err != nil || !Storable(r.Form) {
		p.Error(w, r, &PageError{Status: http.StatusBadRequest, Key: "bad_request", Detail: detail})
		return false
	}
	return true
}

// PageError is shown to the person, never redirected: the redirect URI is not trusted.
type PageError struct {
	Status int
	Key    string // message key in messages
	Detail string // developer-facing detail, no personal data
	// Lang is the page's language when the request does not say it (a callback from the
	// eID); "": from the request.
	Lang string
	// Retry is a local path the page offers to try again from (the signing link); "": none.
	Retry string
}

func (e *PageError) Error() string { return e.Key + ": " + e.Detail }

// Failure is the page for an error the browser did not cause: "busy" (503) for a store
// outage (store.ErrUnavailable), else server_error (500).
func Failure(err error) *PageError {
	if errors.Is(err, store.ErrUnavailable) {
		return &PageError{Status: http.StatusServiceUnavailable, Key: "unavailable"}
	}
	return &PageError{Status: http.StatusInternalServerError, Key: "server_error"}
}

// Redirect sends the browser to a validated redirect URI with q added to its query.
func (p *Pages) Redirect(w http.ResponseWriter, r *http.Request, target string, q url.Values) {
	u, err := url.Parse(target)
	if err != nil {
		p.Error(w, r, &PageError{Status: http.StatusInternalServerError, Key: "server_error"})
		return
	}
	existing := u.Query()
	for k, v := range q {
		existing[k] = v
	}
	u.RawQuery = existing.Encode()
	w.Header().Set("Cache-Control", "no-store")
	Found(w, u.String())
}

// Found answers 302 to an absolute target without a body: browsers follow Location, and
// the HTML link http.Redirect adds (the URL escaped again) is work on every login that no
// browser reads.
func Found(w http.ResponseWriter, target string) {
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusFound)
}
