package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/accesslog"
	"github.com/motlan/motlan/signing"
)

// ProblemBase prefixes every problem type URI. The types are stable: clients branch on them.
const ProblemBase = "https://motlan.vn/problems/"

// Problem types the API answers with, besides ProblemBase + an InputError code
// (e.g. not-pdf, encrypted, too-large), which are 422 except too-large (413).
const (
	ProblemUnauthorized      = ProblemBase + "unauthorized"          // 401
	ProblemInsufficientScope = ProblemBase + "insufficient-scope"    // 403
	ProblemForbidden         = ProblemBase + "forbidden"             // 403: a citizen token naming another subject
	ProblemInvalidRequest    = ProblemBase + "invalid-request"       // 400, with "field"
	ProblemTooLarge          = ProblemBase + "too-large"             // 413, with "limit" and maybe "document_index"
	ProblemNotFound          = ProblemBase + "not-found"             // 404: missing, or another client's
	ProblemIdempotencyReuse  = ProblemBase + "idempotency-key-reuse" // 409: same key, other content
	ProblemConflict          = ProblemBase + "conflict"              // 409: a lost race; retry
	ProblemRequestEnded      = ProblemBase + "request-ended"         // 409: final status
	ProblemNotPending        = ProblemBase + "not-pending"           // 409
	ProblemNotSigned         = ProblemBase + "not-signed-yet"        // 409: document download before the request is signed
	ProblemCertRevoked       = ProblemBase + "certificate-revoked"   // 409: the citizen's certificate is revoked; an operator must act
	ProblemDocumentsChanged  = ProblemBase + "documents-changed"     // 409: approved hashes differ
	ProblemExpired           = ProblemBase + "expired"               // 410
	ProblemDocumentsDeleted  = ProblemBase + "documents-deleted"     // 410: the retention policy deleted the request's PDFs
	ProblemUnavailable       = ProblemBase + "unavailable"           // 503
	ProblemStoreUnavailable  = ProblemBase + "service-unavailable"   // 503 with Retry-After: the store is down; keep the token, retry
	ProblemUpstream          = ProblemBase + "upstream-unavailable"  // 502: a TSA, OCSP responder or CRL could not be reached
	ProblemInternal          = ProblemBase + "internal"              // 500
)

// Problem is an RFC 9457 problem detail. Detail is written for developers and never holds
// personal data or a wrapped cause.
type Problem struct {
	Type          string `json:"type"`
	Title         string `json:"title"`
	Status        int    `json:"status"`
	Detail        string `json:"detail,omitempty"`
	Field         string `json:"field,omitempty"`          // the form field or query parameter at fault
	DocumentIndex *int   `json:"document_index,omitempty"` // the document at fault (0-based)
	Code          string `json:"code,omitempty"`           // InputError code, snake_case
	Limit         int64  `json:"limit,omitempty"`          // the limit exceeded (bytes or count)
	// RequestID is the X-Request-Id of the answer, for support: the same id is on the
	// access log line and the error logs of the request.
	RequestID string `json:"request_id,omitempty"`

	challenge  string // WWW-Authenticate, for 401 and 403 insufficient_scope
	retryAfter int    // seconds, for Retry-After
}

func (p *Problem) Error() string { return p.Type + ": " + p.Detail }

func problem(status int, typ, title, detail string) *Problem {
	return &Problem{Type: typ, Title: title, Status: status, Detail: detail}
}

func badField(field, detail string) *Problem {
	p := problem(http.StatusBadRequest, ProblemInvalidRequest, "Invalid request", detail)
	p.Field = field
	return p
}

func notFound() *Problem {
	return problem(http.StatusNotFound, ProblemNotFound, "Not found", "no such signing request for this caller")
}

// inputTitles names the InputError codes the service reports.
var inputTitles = map[string]string{
	signing.CodeNotPDF:           "Not a PDF",
	signing.CodeEncrypted:        "Encrypted PDF",
	signing.CodePasswordRequired: "Password-protected PDF",
	signing.CodeTooLarge:         "Too large",
	signing.CodeNoPages:          "PDF without pages",
	signing.CodeDamaged:          "Damaged PDF",
	signing.CodeTooMany:          "Too many documents",
	signing.CodeNoDocuments:      "No documents",
	signing.CodeLocked:           "PDF locked against changes",
	signing.CodeBadPlacement:     "Bad signature placement",
	signing.CodeUnsupportedLevel: "Unsupported PAdES level",
	signing.CodeNotSigned:        "PDF not signed",
	signing.CodeUnknownIssuer:    "Unknown certificate issuer",
}

// problemFor maps a service error to its problem. Unknown errors become 500 without their
// text, which may hold personal data.
func problemFor(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	if errors.Is(err, store.ErrUnavailable) {
		return storeUnavailable()
	}
	var ie *signing.InputError
	if errors.As(err, &ie) {
		code := strings.ToLower(ie.Code)
		p := &Problem{Type: ProblemBase + slugify(code), Title: inputTitles[code], Status: http.StatusUnprocessableEntity, Detail: ie.Msg, Code: code}
		switch {
		case code == signing.CodeInvalid || slugify(code) == "":
			p.Type, p.Title, p.Status = ProblemInvalidRequest, "Invalid request", http.StatusBadRequest
		case code == signing.CodeTooLarge:
			p.Type, p.Status = ProblemTooLarge, http.StatusRequestEntityTooLarge
		}
		if p.Title == "" {
			p.Title = "Document cannot be signed"
		}
		if ie.Index >= 0 {
			idx := ie.Index
			p.DocumentIndex = &idx
		}
		return p
	}
	switch {
	case errors.Is(err, signing.ErrNotFound), errors.Is(err, signing.ErrForbidden):
		return notFound()
	case errors.Is(err, signing.ErrExpired):
		return problem(http.StatusGone, ProblemExpired, "Request expired", "the signing request expired before the citizen answered")
	case errors.Is(err, signing.ErrPurged):
		return problem(http.StatusGone, ProblemDocumentsDeleted, "Documents deleted", MsgDocumentsDeleted)
	case errors.Is(err, signing.ErrFinal):
		return problem(http.StatusConflict, ProblemRequestEnded, "Request has ended", "the signing request has already ended")
	case errors.Is(err, signing.ErrNotPending):
		return problem(http.StatusConflict, ProblemNotPending, "Request is not pending", "the signing request no longer waits for the citizen")
	case errors.Is(err, signing.ErrMismatch):
		return problem(http.StatusConflict, ProblemDocumentsChanged, "Documents changed", "the approved hashes differ from the documents")
	case errors.Is(err, signing.ErrNotSigned):
		return problem(http.StatusConflict, ProblemNotSigned, "Not signed yet", "signed documents are served once the whole request is signed")
	case errors.Is(err, signing.ErrCertificateRevoked):
		return problem(http.StatusConflict, ProblemCertRevoked, "Certificate revoked", "the citizen's signing certificate is revoked; contact the operator")
	case errors.Is(err, signing.ErrConflict):
		return problem(http.StatusConflict, ProblemConflict, "Conflict", "a concurrent change won; read the request again")
	case errors.Is(err, signing.ErrUpstream):
		return problem(http.StatusBadGateway, ProblemUpstream, "Upstream unavailable", "a timestamp authority, OCSP responder or CRL needed for the level could not be reached; try again later")
	case errors.Is(err, errUnavailable):
		return problem(http.StatusServiceUnavailable, ProblemUnavailable, "Service unavailable", "try again later")
	}
	return problem(http.StatusInternalServerError, ProblemInternal, "Internal error", "")
}

// MsgDocumentsDeleted is the detail of ProblemDocumentsDeleted, in Vietnamese, then English.
const MsgDocumentsDeleted = "Tài liệu của yêu cầu ký này đã được xóa khi hết thời hạn lưu giữ; hãy dùng bản đã tải về trước đó. / " +
	"The documents of this signing request were deleted when their retention period ended; use the copy downloaded before."

var errUnavailable = errors.New("httpapi: unavailable")

// storeUnavailable answers a store outage (store.ErrUnavailable, the one definition of
// it): 503 with Retry-After, so clients keep their tokens and come back.
func storeUnavailable() *Problem {
	p := problem(http.StatusServiceUnavailable, ProblemStoreUnavailable, "Service unavailable", "the service is temporarily unavailable; retry later")
	p.retryAfter = oautherr.StoreRetryAfter
	return p
}

// slugify turns a snake_case code into the last path segment of a type URI.
func slugify(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == '_' || c == '-':
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	if p.challenge != "" {
		h.Set("WWW-Authenticate", p.challenge)
	}
	if p.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Disposition")
	w.WriteHeader(p.Status)
	out := *p // problems may be shared values; the id is this answer's
	out.RequestID = h.Get(accesslog.Header)
	_ = json.NewEncoder(w).Encode(&out)
}
