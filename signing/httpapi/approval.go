package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/signing"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"inc": func(i int) int { return i + 1 },
}).ParseFS(templateFS, "templates/*.html"))

// vnTime is Vietnam's time zone (UTC+7, no daylight saving), without needing tzdata.
var vnTime = time.FixedZone("ICT", 7*3600)

// messages holds every text the approval pages show; Vietnamese first.
var messages = map[string]map[string]string{
	"vi": {
		"title": "Ký số tài liệu", "brand": "Motlan", "switch": "English",
		"small_print": "Ký số và xác thực qua Motlan",
		"binding":     "đề nghị bạn ký số %d tài liệu. Đăng nhập định danh điện tử để xem và ký.",
		// the link before login (gate.go), the wrong account, the way back, page images
		"superseded": "Yêu cầu đã được thay thế", "superseded_note": "Yêu cầu này đã được thay bằng yêu cầu mới. Hãy mở đường dẫn ký mới nhất từ trang dịch vụ. Không tài liệu nào được ký theo yêu cầu này.",
		"used": "Đường dẫn đã được sử dụng", "used_note": "Yêu cầu ký này đã được trả lời (đã ký hoặc đã từ chối). Bạn không cần đăng nhập lại.",
		"wrong_account": "Yêu cầu dành cho người khác", "wrong_account_note": "Bạn đang đăng nhập bằng tài khoản định danh điện tử của người khác với người được đề nghị ký. Hãy đăng nhập lại bằng đúng tài khoản của mình.",
		"switch_account": "Đăng nhập bằng tài khoản khác",
		"back_to_portal": "Quay lại trang dịch vụ",
		"page_n":         "Trang %d",
		"zoom":           "Chạm vào ảnh để xem cỡ lớn.",
		"no_images":      "Máy chủ này chưa hiển thị được ảnh từng trang. Hãy mở tệp PDF để đọc trước khi ký.",
		"err.no_image":   "Không tạo được ảnh của trang này. Hãy mở tệp PDF để đọc.",
		"sign_title":     "Yêu cầu ký số",
		"asks":           "đề nghị bạn ký số %d tài liệu bằng chữ ký số cá nhân của bạn.",
		"reason":         "Lý do", "location": "Nơi ký", "expires": "Hết hạn lúc",
		"docs": "Tài liệu", "requester": "Bên yêu cầu",
		"pages":       "%d trang",
		"fingerprint": "Mã kiểm tra",
		"view":        "Xem tài liệu (PDF)",
		"note":        "Chữ ký của bạn chỉ áp dụng cho đúng các tài liệu có mã kiểm tra ở trên. Hãy mở và đọc kỹ trước khi ký.",
		"approve":     "Ký tất cả (%d tài liệu)",
		"reject":      "Từ chối",
		"signed":      "Đã ký xong", "signed_note": "Các tài liệu dưới đây đã được ký số. Bạn có thể quay lại trang dịch vụ.",
		"signing": "Đang ký…", "signing_note": "Motlan đang ký các tài liệu. Tải lại trang sau ít giây để xem kết quả.",
		"rejected": "Đã từ chối", "rejected_note": "Bạn đã từ chối. Không tài liệu nào được ký.",
		"canceled": "Yêu cầu đã bị hủy", "canceled_note": "Dịch vụ đã rút lại yêu cầu ký này. Không tài liệu nào được ký.",
		"expired": "Yêu cầu đã hết hạn", "expired_note": "Yêu cầu ký này đã hết hạn. Hãy tạo yêu cầu mới từ trang dịch vụ.",
		"failed": "Không ký được", "failed_note": "Đã có lỗi khi ký. Không tài liệu nào được ký. Hãy thử lại từ trang dịch vụ.",
		"signed_at":       "Đã ký lúc",
		"refresh":         "Tải lại",
		"err.title":       "Không thể tiếp tục",
		"err.not_found":   "Không tìm thấy yêu cầu ký, hoặc yêu cầu này không dành cho tài khoản của bạn.",
		"err.ended":       "Yêu cầu này không còn chờ bạn ký.",
		"err.deleted":     "Tài liệu của yêu cầu này đã được xóa khi hết thời hạn lưu giữ.",
		"err.changed":     "Tài liệu đã thay đổi so với lúc bạn xem. Hãy mở lại yêu cầu và kiểm tra lại.",
		"err.csrf":        "Trang ký đã hết hạn hoặc không hợp lệ. Hãy mở lại yêu cầu.",
		"err.stepup":      "Để ký, bạn cần đăng nhập lại bằng định danh điện tử mức 2.",
		"err.bad_request": "Yêu cầu không hợp lệ.",
		"err.server":      "Đã có lỗi xảy ra. Vui lòng thử lại sau.",
		"err.revoked":     "Chứng thư chữ ký số của bạn đã bị thu hồi nên không thể ký. Vui lòng liên hệ bộ phận hỗ trợ.",
		"reopen":          "Mở lại yêu cầu",
		"login_again":     "Đăng nhập lại",

		// the signing provider's own step and failures (signing.Failure* codes)
		"pin": "Mã PIN chứng thư số", "pin_note": "Nhập mã PIN của chứng thư số do tổ chức cung cấp dịch vụ chứng thực chữ ký số cấp cho bạn.",
		"otp": "Mã OTP", "otp_note": "Tổ chức cung cấp dịch vụ chứng thực chữ ký số vừa gửi mã OTP cho bạn. Nhập mã đó để ký.",
		"wrong_code":                   "Sai mã: mã PIN hoặc mã OTP không đúng. Chưa tài liệu nào được ký. Vui lòng nhập lại.",
		"failed.digest_mismatch":       "Nội dung cần ký đã khác với nội dung bạn đã xác nhận, nên Motlan không gửi đi ký. Không tài liệu nào được ký. Hãy tạo lại yêu cầu từ trang dịch vụ.",
		"failed.no_credential":         "Bạn chưa có chứng thư số tại tổ chức cung cấp dịch vụ chứng thực chữ ký số mà cổng này kết nối, nên chưa thể ký. Hãy đăng ký chứng thư số ký từ xa bằng số định danh cá nhân của bạn, rồi mở lại yêu cầu.",
		"failed.rssp_unavailable":      "Dịch vụ ký số từ xa của tổ chức chứng thực hiện không phản hồi. Không tài liệu nào được ký. Vui lòng thử lại sau.",
		"failed.rssp_timeout":          "Dịch vụ ký số từ xa phản hồi quá chậm. Không tài liệu nào được ký. Vui lòng thử lại sau.",
		"failed.sad_expired":           "Phiên xác nhận ký đã hết hạn. Không tài liệu nào được ký. Hãy tạo lại yêu cầu từ trang dịch vụ.",
		"failed.authentication_failed": "Mã PIN hoặc mã OTP không đúng. Không tài liệu nào được ký. Hãy tạo lại yêu cầu từ trang dịch vụ và nhập lại mã.",
		"failed.credential_suspended":  "Chứng thư số của bạn đang bị tạm dừng nên không thể ký. Vui lòng liên hệ tổ chức cấp chứng thư số.",
		"failed.credential_revoked":    "Chứng thư số của bạn đã bị thu hồi hoặc hết hạn nên không thể ký. Vui lòng liên hệ tổ chức cấp chứng thư số để được cấp lại.",
		"failed.bad_signature":         "Chữ ký nhận được từ dịch vụ ký số không khớp với chứng thư số của bạn. Không tài liệu nào được ký. Vui lòng liên hệ bộ phận hỗ trợ.",
		"failed.activation_required":   "Cần nhập lại mã PIN hoặc OTP để ký. Không tài liệu nào được ký. Hãy tạo lại yêu cầu từ trang dịch vụ.",
		"failed.rssp_error":            "Dịch vụ ký số từ xa đã từ chối yêu cầu ký. Không tài liệu nào được ký. Vui lòng liên hệ bộ phận hỗ trợ.",

		// rate limits (internal/ratelimit)
		"err.rate_limited": "Có quá nhiều lần ký trong thời gian ngắn. Vui lòng đợi một lát rồi mở lại yêu cầu.",
		"err.busy":         "Hệ thống đang bận. Vui lòng thử lại sau ít phút.",
	},
	"en": {
		"title": "Sign documents", "brand": "Motlan", "switch": "Tiếng Việt",
		"small_print": "Signing and authentication by Motlan",
		"binding":     "asks you to sign %d documents. Log in with your national eID to see and sign them.",
		"binding_1":   "asks you to sign %d document. Log in with your national eID to see and sign it.",
		"superseded":  "Request replaced", "superseded_note": "This request was replaced by a newer one. Please open the latest signing link from the service. Nothing was signed for this request.",
		"used": "Link already used", "used_note": "This signing request has already been answered (signed or declined). You do not need to log in again.",
		"wrong_account": "This request is for someone else", "wrong_account_note": "You are logged in with another person's national eID account than the one asked to sign. Please log in again with your own account.",
		"switch_account": "Log in with another account",
		"back_to_portal": "Back to the service",
		"page_n":         "Page %d",
		"zoom":           "Tap an image to see it full size.",
		"no_images":      "This server cannot show the pages as images yet. Please open the PDF to read it before you sign.",
		"err.no_image":   "This page could not be drawn. Please open the PDF to read it.",
		"sign_title":     "Signature request",
		"asks":           "asks you to sign %d documents with your personal digital signature.",
		"asks_1":         "asks you to sign %d document with your personal digital signature.",
		"reason":         "Reason", "location": "Location", "expires": "Expires at",
		"docs": "Documents", "requester": "Requested by",
		"pages": "%d pages", "pages_1": "%d page",
		"fingerprint": "Fingerprint",
		"view":        "View document (PDF)",
		"note":        "Your signature applies only to the documents with the fingerprints above. Open and read them before you sign.",
		"approve":     "Sign all (%d documents)", "approve_1": "Sign (%d document)",
		"reject": "Decline",
		"signed": "Signed", "signed_note": "The documents below are signed. You can go back to the service.",
		"signing": "Signing…", "signing_note": "Motlan is signing the documents. Reload in a few seconds to see the result.",
		"rejected": "Declined", "rejected_note": "You declined. No document was signed.",
		"canceled": "Request withdrawn", "canceled_note": "The service withdrew this request. No document was signed.",
		"expired": "Request expired", "expired_note": "This request has expired. Please start again from the service.",
		"failed": "Signing failed", "failed_note": "Something went wrong while signing. No document was signed. Please try again from the service.",
		"signed_at":       "Signed at",
		"refresh":         "Reload",
		"err.title":       "Cannot continue",
		"err.not_found":   "This signature request does not exist or is not for your account.",
		"err.ended":       "This request no longer waits for your signature.",
		"err.deleted":     "The documents of this request were deleted when their retention period ended.",
		"err.changed":     "The documents changed since you viewed them. Please open the request again and check.",
		"err.csrf":        "This signing page has expired or is not valid. Please open the request again.",
		"err.stepup":      "To sign, log in again with your national eID at level 2.",
		"err.bad_request": "The request is not valid.",
		"err.server":      "Something went wrong. Please try again later.",
		"err.revoked":     "Your signing certificate has been revoked, so you cannot sign. Please contact support.",
		"reopen":          "Open the request again",
		"login_again":     "Log in again",

		// the signing provider's own step and failures (signing.Failure* codes)
		"pin": "Certificate PIN", "pin_note": "Enter the PIN of the signing certificate your trust service provider gave you.",
		"otp": "One-time code", "otp_note": "Your trust service provider has just sent you a one-time code. Enter it to sign.",
		"wrong_code":                   "Wrong code: the PIN or one-time code is not correct. Nothing has been signed yet. Please enter it again.",
		"failed.digest_mismatch":       "What was to be signed no longer matches what you approved, so Motlan did not send it for signing. No document was signed. Please start again from the service.",
		"failed.no_credential":         "You have no signing certificate yet at the trust service provider this portal uses, so you cannot sign. Register for a remote-signing certificate with your personal ID number, then open the request again.",
		"failed.rssp_unavailable":      "The trust service provider's remote signing service is not answering. No document was signed. Please try again later.",
		"failed.rssp_timeout":          "The remote signing service answered too slowly. No document was signed. Please try again later.",
		"failed.sad_expired":           "The signing authorisation expired. No document was signed. Please start again from the service.",
		"failed.authentication_failed": "The PIN or one-time code was wrong. No document was signed. Please start again from the service and enter the code again.",
		"failed.credential_suspended":  "Your signing certificate is suspended, so you cannot sign. Please contact the provider that issued it.",
		"failed.credential_revoked":    "Your signing certificate is revoked or expired, so you cannot sign. Please contact the provider that issued it for a new one.",
		"failed.bad_signature":         "The signature returned by the signing service does not match your certificate. No document was signed. Please contact support.",
		"failed.activation_required":   "Your PIN or one-time code is needed again. No document was signed. Please start again from the service.",
		"failed.rssp_error":            "The remote signing service refused to sign. No document was signed. Please contact support.",

		// rate limits (internal/ratelimit)
		"err.rate_limited": "Too many signing attempts in a short time. Please wait a moment, then open the request again.",
		"err.busy":         "The system is busy. Please try again in a few minutes.",
	},
}

// pickLang is the page language: an explicit switch (form field or ?lang=), else
// Vietnamese, whatever the browser prefers.
func pickLang(r *http.Request, form string) string {
	for _, l := range []string{form, r.URL.Query().Get("lang")} {
		if l == "vi" || l == "en" {
			return l
		}
	}
	return "vi"
}

func otherLang(lang string) string {
	if lang == "en" {
		return "vi"
	}
	return "en"
}

// signPath is the approval page's path as served (BaseURL's path included).
func (a *API) signPath(id string) string {
	u, _ := url.Parse(a.base)
	return strings.TrimRight(u.Path, "/") + "/sign/" + id
}

// citizen is the browser's citizen if they logged in at level 2 within maxAge.
func (a *API) citizen(r *http.Request, maxAge time.Duration) (string, bool) {
	id, acr, at, ok := a.auth.BrowserCitizen(r)
	if !ok || id == "" || acr < "2" || at.IsZero() {
		return "", false
	}
	age := a.now().Sub(at)
	return id, age <= maxAge && age > -time.Minute
}

func (a *API) subjectFor(citizenID string) func(string) string {
	return func(clientID string) string { return a.auth.SubjectFor(clientID, citizenID) }
}

// ---- pages ----

type docView struct {
	Index       int
	Title       string
	Pages       string
	Size        string
	SHA256      string
	Fingerprint string
	ViewURL     string
	SignedAt    string
	Images      []string // page images (images.go); none: a sentence and the PDF link
}

type pageView struct {
	ID, Action, Client, Reason, Location, Expires string
	Asks, Approve                                 string
	CSRF                                          string
	Activation                                    string // "", "PIN" or "OTP": what the provider asks for
	Error                                         string // why the last try was refused (a wrong code)
	Docs                                          []docView
	// result and message pages
	Heading, Note, Status string
	LinkURL, LinkText     string
	ReturnURL             string // the portal's return_url: the button back after answering
}

// fingerprint shows the first and last 4 bytes of a SHA-256 in hex groups: "3f2a 91c0 … 7be1 0042".
func fingerprint(hexSum string) string {
	if len(hexSum) != 64 {
		return hexSum
	}
	return hexSum[0:4] + " " + hexSum[4:8] + " … " + hexSum[56:60] + " " + hexSum[60:64]
}

func humanSize(n int64, lang string) string {
	if n <= 0 {
		return ""
	}
	var s string
	switch {
	case n < 1000:
		s = fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		s = fmt.Sprintf("%.0f KB", float64(n)/1000)
	default:
		s = fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	if lang == "vi" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

func formatTime(t time.Time, lang string) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(vnTime)
	if lang == "en" {
		return t.Format("15:04, 2 Jan 2006") + " (UTC+7)"
	}
	return t.Format("15:04, 02/01/2006")
}

func (a *API) view(req signing.Request, lang string) pageView {
	t := messages[lang]
	v := pageView{
		ID: req.ID, Action: a.signPath(req.ID), Client: a.clientName(req.ClientID),
		Reason: req.Reason, Location: req.Location, Expires: formatTime(req.ExpiresAt, lang),
		Asks:    plural(t, "asks", len(req.Documents)),
		Approve: plural(t, "approve", len(req.Documents)),
		Status:  string(req.Status),
	}
	for i, d := range req.Documents {
		v.Docs = append(v.Docs, docView{
			Index: i, Title: d.Title, Pages: plural(t, "pages", d.Pages), Size: humanSize(d.Size, lang),
			SHA256: d.SHA256, Fingerprint: fingerprint(d.SHA256),
			ViewURL:  a.signPath(req.ID) + "/documents/" + strconv.Itoa(i) + "?lang=" + lang,
			SignedAt: formatTime(d.SignedAt, lang),
			Images:   a.imageURLs(req.ID, i, d.Pages, lang),
		})
	}
	return v
}

// plural formats the message key with n, using key_1 for one where the language has it
// (English; Vietnamese nouns do not inflect).
func plural(t map[string]string, key string, n int) string {
	if one, ok := t[key+"_1"]; ok && n == 1 {
		return fmt.Sprintf(one, n)
	}
	return fmt.Sprintf(t[key], n)
}

func (a *API) clientName(clientID string) string {
	if n := a.names[clientID]; n != "" {
		return n
	}
	return clientID
}

// renderPage writes a page with a per-response CSP nonce for its stylesheet.
func (a *API) renderPage(w http.ResponseWriter, r *http.Request, status int, name, lang, switchURL string, v pageView) {
	nonce := rand.Text()
	var buf bytes.Buffer
	err := pages.ExecuteTemplate(&buf, name, map[string]any{
		"Lang": lang, "T": messages[lang], "Nonce": nonce, "D": v, "Switch": switchURL,
		"ShowView": name == "approve", "Brand": a.brand.name(lang), "Logo": a.brand.Logo,
		"Primary": template.CSS(a.brand.Primary), "OnPrimary": template.CSS(a.brand.OnPrimary),
	})
	if err != nil {
		a.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w.Header(), "default-src 'none'; style-src 'nonce-"+nonce+"'; img-src 'self' data:"+a.logoSource()+"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func setPageHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// message renders a short page with a heading, a text and maybe one button link.
func (a *API) message(w http.ResponseWriter, r *http.Request, status int, lang, key, linkURL, linkKey string) {
	t := messages[lang]
	v := pageView{Heading: t["err.title"], Note: t["err."+key], LinkURL: linkURL}
	if linkKey != "" {
		v.LinkText = t[linkKey]
	}
	sw := ""
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		q.Set("lang", otherLang(lang))
		sw = r.URL.Path + "?" + q.Encode()
	}
	a.renderPage(w, r, status, "message", lang, sw, v)
}

// pageError renders the page for a service error on the approval side.
func (a *API) pageError(w http.ResponseWriter, r *http.Request, lang, id string, err error) {
	reopen := a.signPath(id) + "?lang=" + lang
	var be *signing.BackendError
	switch {
	case errors.Is(err, signing.ErrNotFound), errors.Is(err, signing.ErrForbidden):
		a.message(w, r, http.StatusNotFound, lang, "not_found", "", "")
	case errors.Is(err, signing.ErrExpired):
		t := messages[lang]
		a.renderPage(w, r, http.StatusGone, "message", lang, "", pageView{Heading: t["expired"], Note: t["expired_note"]})
	case errors.Is(err, signing.ErrPurged):
		a.message(w, r, http.StatusGone, lang, "deleted", "", "")
	case errors.Is(err, signing.ErrMismatch):
		a.message(w, r, http.StatusConflict, lang, "changed", reopen, "reopen")
	case errors.Is(err, signing.ErrCertificateRevoked):
		a.message(w, r, http.StatusConflict, lang, "revoked", "", "")
	case errors.As(err, &be):
		a.backendFailure(w, r, lang, be)
	case errors.Is(err, errBadActivation):
		a.message(w, r, http.StatusBadRequest, lang, "bad_request", reopen, "reopen")
	case errors.Is(err, signing.ErrFinal), errors.Is(err, signing.ErrNotPending), errors.Is(err, signing.ErrConflict):
		a.message(w, r, http.StatusConflict, lang, "ended", reopen, "reopen")
	case errors.Is(err, store.ErrUnavailable):
		w.Header().Set("Retry-After", strconv.Itoa(oautherr.StoreRetryAfter))
		a.message(w, r, http.StatusServiceUnavailable, lang, "busy", reopen, "reopen")
	default:
		a.log.ErrorContext(r.Context(), "approval page", "method", r.Method, "err", err)
		a.message(w, r, http.StatusInternalServerError, lang, "server", "", "")
	}
}

// result shows a request that no longer waits: signed, signing, rejected, and so on.
func (a *API) result(w http.ResponseWriter, r *http.Request, lang string, req signing.Request) {
	t := messages[lang]
	v := a.view(req, lang)
	v.Heading, v.Note = t[string(req.Status)], t[string(req.Status)+"_note"]
	if v.Heading == "" {
		v.Heading, v.Note = t["err.title"], t["err.ended"]
	}
	if n := failureNote(lang, req); n != "" {
		v.Note = n
	}
	if req.Status == signing.StatusSigning {
		v.LinkURL, v.LinkText = a.signPath(req.ID)+"?lang="+lang, t["refresh"]
	}
	if req.ReturnURL != "" {
		v.ReturnURL = req.ReturnURL
	}
	sw := a.signPath(req.ID) + "?lang=" + otherLang(lang)
	a.renderPage(w, r, http.StatusOK, "result", lang, sw, v)
}

// GET /sign/{id}: the approval page, after an eID login made for this link (gate.go).
// A link that no longer waits says so before any login.
func (a *API) handleApprovalPage(w http.ResponseWriter, r *http.Request) {
	lang := pickLang(r, "")
	id := pathID(r)
	if id == "" {
		a.message(w, r, http.StatusNotFound, lang, "not_found", "", "")
		return
	}
	tk := r.URL.Query().Get("t")
	cid, opened, ok := a.boundCitizen(r, id, tk, 0)
	if !ok {
		if !a.endedBeforeLogin(w, r, lang, id) && a.approvalOpenAllowed(w, r, lang, id) {
			a.stepUpBound(w, r, id, lang)
		}
		return
	}
	req, err := a.svc.ForApproval(r.Context(), id, cid, a.subjectFor(cid))
	if errors.Is(err, signing.ErrForbidden) {
		a.wrongAccount(w, r, lang, id)
		return
	}
	if err != nil {
		a.pageError(w, r, lang, id, err)
		return
	}
	if req.Status != signing.StatusPending {
		a.result(w, r, lang, req)
		return
	}
	v := a.view(req, lang)
	a.bindView(&v, id, tk)
	if !a.activation(w, r, lang, id, cid, &v) {
		return
	}
	v.CSRF = a.csrfToken(id, cid, a.now(), opened)
	a.renderPage(w, r, http.StatusOK, "approve", lang, a.pageURL(id, tk, otherLang(lang)), v)
}

// POST /sign/{id}: approve (with the hashes the page showed) or reject.
func (a *API) handleApprovalPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	perr := r.ParseForm()
	lang := pickLang(r, r.PostForm.Get("lang"))
	id := pathID(r)
	if id == "" {
		a.message(w, r, http.StatusNotFound, lang, "not_found", "", "")
		return
	}
	if perr != nil {
		a.message(w, r, http.StatusBadRequest, lang, "bad_request", "", "")
		return
	}
	// The page was shown at most FreshLogin after the login; the form lives FormTTL more.
	cid, ok := a.citizen(r, a.fresh+a.formTTL)
	if !ok {
		// A page with a link rather than a redirect: form-action 'self' would block the
		// redirect chain to the eID.
		a.message(w, r, http.StatusForbidden, lang, "stepup", a.stepUpURLFor(id, lang), "login_again")
		return
	}
	if !a.approvalAllowed(w, r, lang, id, cid) {
		return
	}
	// The token carries the time the link was opened: the login must not be older.
	if !a.checkCSRF(r, r.PostForm.Get("csrf"), id, cid) {
		a.message(w, r, http.StatusForbidden, lang, "csrf", a.signPath(id)+"?lang="+lang, "reopen")
		return
	}
	var (
		req signing.Request
		err error
	)
	switch r.PostForm.Get("action") {
	case "approve":
		hashes := r.PostForm["hash"]
		if len(hashes) == 0 || len(hashes) > a.maxDocs || !allHex64(hashes) {
			a.message(w, r, http.StatusBadRequest, lang, "bad_request", "", "")
			return
		}
		req, err = a.approve(r, id, cid, hashes)
	case "reject":
		req, err = a.svc.Reject(r.Context(), id, cid, a.subjectFor(cid))
	default:
		a.message(w, r, http.StatusBadRequest, lang, "bad_request", "", "")
		return
	}
	if err != nil {
		if a.askAgain(w, r, lang, cid, req, err) || a.alreadyApproved(w, r, lang, id, cid, err) {
			return
		}
		a.pageError(w, r, lang, id, err)
		return
	}
	a.result(w, r, lang, req)
}

// alreadyApproved answers an approval that finds the request being signed (the citizen's
// approval already went through: a second press, a resend after a lost answer, the
// replica that signed having died and Resume signing now) with the "đang ký" page rather
// than an error. A request that has ended keeps the "no longer waits" answer.
func (a *API) alreadyApproved(w http.ResponseWriter, r *http.Request, lang, id, cid string, err error) bool {
	if r.PostForm.Get("action") != "approve" || !errors.Is(err, signing.ErrNotPending) && !errors.Is(err, signing.ErrFinal) {
		return false
	}
	req, gerr := a.svc.ForApproval(r.Context(), id, cid, a.subjectFor(cid))
	if gerr != nil || req.Status != signing.StatusSigning {
		return false
	}
	a.result(w, r, lang, req)
	return true
}

func allHex64(hs []string) bool {
	for _, h := range hs {
		if len(h) != 64 {
			return false
		}
		for i := 0; i < len(h); i++ {
			if !(h[i] >= '0' && h[i] <= '9' || h[i] >= 'a' && h[i] <= 'f') {
				return false
			}
		}
	}
	return true
}

// GET /sign/{id}/documents/{index}: the original PDF, for the citizen to read before signing.
func (a *API) handleOriginalPDF(w http.ResponseWriter, r *http.Request) {
	lang := pickLang(r, "")
	id := pathID(r)
	i, okIdx := pathIndex(r)
	if id == "" || !okIdx {
		a.message(w, r, http.StatusNotFound, lang, "not_found", "", "")
		return
	}
	cid, _, ok := a.boundCitizen(r, id, r.URL.Query().Get("t"), a.formTTL)
	if !ok {
		a.stepUpBound(w, r, id, lang)
		return
	}
	ctx := r.Context()
	pdf, err := a.svc.OriginalPDF(ctx, id, i, cid, a.subjectFor(cid))
	if err != nil {
		a.pageError(w, r, lang, id, err)
		return
	}
	title := a.docTitle(ctx, id, i, cid)
	// The PDF is the relying party's content: shown inline, sandboxed, never framed.
	setPageHeaders(w.Header(), pdfViewCSP)
	writePDF(w, pdf, title, i, "inline")
}

// pdfViewCSP goes with the original PDFs shown to the citizen. Chrome drops a PDF's CSP
// for its own viewer; Safari is reported to show a blank page for PDFs under "sandbox"
// (adobe/aem-core-wcm-components#2839): check on iPhones before the pilot.
const pdfViewCSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"

func (a *API) docTitle(ctx context.Context, id string, i int, cid string) string {
	req, err := a.svc.ForApproval(ctx, id, cid, a.subjectFor(cid))
	if err != nil || i >= len(req.Documents) {
		return ""
	}
	return req.Documents[i].Title
}

// ---- CSRF ----

// csrfToken binds the approval form to the request, the citizen's session and the time
// the link was opened: the time it was issued, that time, and an HMAC over (id, citizen
// id, both times) under Config.CSRFKey.
func (a *API) csrfToken(id, citizenID string, at, opened time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(at.Unix()))
	binary.BigEndian.PutUint64(b[8:], uint64(opened.Unix()))
	return base64.RawURLEncoding.EncodeToString(append(b[:], a.csrfMAC(id, citizenID, at.Unix(), opened.Unix())...))
}

func (a *API) csrfMAC(id, citizenID string, at, opened int64) []byte {
	m := hmac.New(sha256.New, a.csrfKey)
	m.Write([]byte("motlan/sign-csrf/v2\x00" + id + "\x00" + citizenID + "\x00" + strconv.FormatInt(at, 10) +
		"\x00" + strconv.FormatInt(opened, 10)))
	return m.Sum(nil)
}

// checkCSRF checks the form's token and that the browser's eID login is not older than
// the link's opening the token carries (sole control, gate.go).
func (a *API) checkCSRF(r *http.Request, tok, id, citizenID string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 16+sha256.Size {
		return false
	}
	at := int64(binary.BigEndian.Uint64(raw[:8]))
	opened := int64(binary.BigEndian.Uint64(raw[8:16]))
	if !hmac.Equal(raw[16:], a.csrfMAC(id, citizenID, at, opened)) {
		return false
	}
	if !a.unbound {
		if _, _, authAt, ok := a.auth.BrowserCitizen(r); !ok || authAt.Unix() < opened {
			return false
		}
	}
	age := a.now().Sub(time.Unix(at, 0))
	return age <= a.formTTL && age > -time.Minute
}
