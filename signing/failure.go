package signing

import "strings"

// FailureInfo is what the portal shows for a failed request: a stable code and a
// sentence in Vietnamese for the citizen (the English reason is Request.Failure).
type FailureInfo struct {
	Code       string `json:"code"`
	Vietnamese string `json:"vi"`
}

// failures maps the start of Request.Failure to its code and sentence. Every reason a
// signing run records is here; TestEveryFailureDescribed keeps it so.
var failures = []struct {
	prefix string
	info   FailureInfo
}{
	{"approval incomplete", FailureInfo{"approval_incomplete", "Yêu cầu ký chưa được phê duyệt đầy đủ. Vui lòng tạo yêu cầu ký mới."}},
	{"citizen key unusable", FailureInfo{"key_unusable", "Khóa ký số của công dân không dùng được. Vui lòng liên hệ bộ phận hỗ trợ."}},
	{"document differs from the approved one", FailureInfo{"document_changed", "Tài liệu đã thay đổi sau khi được phê duyệt nên không được ký. Vui lòng gửi lại hồ sơ."}},
	{"no timestamp authority", FailureInfo{"level_unavailable", "Mức chữ ký yêu cầu hiện không được hỗ trợ. Vui lòng chọn mức B-B hoặc liên hệ bộ phận hỗ trợ."}},
	{"level not available", FailureInfo{"level_unavailable", "Mức chữ ký yêu cầu hiện không được hỗ trợ. Vui lòng chọn mức B-B hoặc liên hệ bộ phận hỗ trợ."}},
	{"document cannot be signed", FailureInfo{"document_unsignable", "Tệp PDF này không ký được (hỏng, khóa hoặc có mật khẩu). Vui lòng gửi bản PDF khác."}},
	{"document cannot be extended", FailureInfo{"ltv_unavailable", "Không thu thập được thông tin kiểm tra chứng thư cho chữ ký của công dân. Vui lòng thử lại sau."}},
	{"certificate revoked", FailureInfo{"certificate_revoked", "Chứng thư số của công dân đã bị thu hồi. Vui lòng liên hệ bộ phận hỗ trợ để được cấp lại."}},
	{"citizen data do not make a certificate", FailureInfo{"citizen_data_invalid", "Thông tin định danh của công dân chưa đủ để cấp chứng thư số. Vui lòng cập nhật trên VNeID rồi thử lại."}},
	{reasonIncomplete, FailureInfo{"signing_incomplete", "Hệ thống chưa ký xong hồ sơ sau nhiều lần thử do lỗi tạm thời. Vui lòng gửi lại yêu cầu ký."}},
	// A remote signing backend's refusals (BackendError codes) are their own codes.
	{FailureUnavailable, FailureInfo{FailureUnavailable, "Hệ thống ký số của nhà cung cấp chứng thư số đang không phản hồi. Vui lòng thử lại sau."}},
	{FailureTimeout, FailureInfo{FailureTimeout, "Nhà cung cấp chứng thư số phản hồi quá chậm. Vui lòng thử lại sau."}},
	{FailureSADExpired, FailureInfo{FailureSADExpired, "Phiên xác thực ký số đã hết hạn. Vui lòng phê duyệt lại yêu cầu ký."}},
	{FailureAuth, FailureInfo{FailureAuth, "Mã PIN hoặc mã OTP không đúng. Vui lòng phê duyệt lại và nhập đúng mã."}},
	{FailureSuspended, FailureInfo{FailureSuspended, "Chứng thư số của bạn đang bị tạm dừng. Vui lòng liên hệ nhà cung cấp chứng thư số."}},
	{FailureRevoked, FailureInfo{FailureRevoked, "Chứng thư số của bạn đã bị thu hồi hoặc hết hạn. Vui lòng liên hệ nhà cung cấp chứng thư số để được cấp lại."}},
	{FailureBadSignature, FailureInfo{FailureBadSignature, "Chữ ký nhận được từ nhà cung cấp không hợp lệ nên hồ sơ không được ký. Vui lòng thử lại hoặc liên hệ bộ phận hỗ trợ."}},
	{FailureNoCredential, FailureInfo{FailureNoCredential, "Bạn chưa có chứng thư số tại nhà cung cấp mà tỉnh sử dụng. Vui lòng đăng ký chứng thư số rồi thử lại."}},
	{FailureActivation, FailureInfo{FailureActivation, "Cần nhập lại mã PIN hoặc mã OTP để hoàn tất việc ký. Vui lòng phê duyệt lại yêu cầu ký."}},
	{FailureProvider, FailureInfo{FailureProvider, "Nhà cung cấp chứng thư số từ chối yêu cầu ký. Vui lòng thử lại sau hoặc liên hệ bộ phận hỗ trợ."}},
}

// reasonIncomplete is the failure of a request whose retries ran out.
const reasonIncomplete = "signing did not complete"

// DescribeFailure returns the code and Vietnamese sentence of a Request.Failure; an
// unknown or empty reason gets the code "failed" and a general sentence.
func DescribeFailure(reason string) FailureInfo {
	for _, f := range failures {
		if strings.HasPrefix(reason, f.prefix) {
			return f.info
		}
	}
	return FailureInfo{"failed", "Không ký được hồ sơ do lỗi hệ thống. Vui lòng thử lại sau hoặc liên hệ bộ phận hỗ trợ."}
}
