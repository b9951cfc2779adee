// Package oautherr is the provider's one error type on the OAuth wire: RFC 6749 sections
// 4.1.2.1 (authorization response) and 5.2 (token endpoint), RFC 6750 section 3 (bearer
// resources). Descriptions are written for developers and never carry a wrapped cause,
// which may hold personal data.
package oautherr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/motlan/motlan/idp/store"
)

// Error codes from RFC 6749, RFC 6750, OIDC Core 3.1.2.6 and RFC 9126.
const (
	InvalidRequest          = "invalid_request"
	InvalidClient           = "invalid_client"
	InvalidGrant            = "invalid_grant"
	UnauthorizedClient      = "unauthorized_client"
	UnsupportedGrantType    = "unsupported_grant_type"
	UnsupportedResponseType = "unsupported_response_type"
	InvalidScope            = "invalid_scope"
	AccessDenied            = "access_denied"
	ServerError             = "server_error"
	TemporarilyUnavailable  = "temporarily_unavailable"
	InvalidToken            = "invalid_token"
	InsufficientScope       = "insufficient_scope"
	LoginRequired           = "login_required"
	ConsentRequired         = "consent_required"
	InteractionRequired     = "interaction_required"
	RequestNotSupported     = "request_not_supported"
	RequestURINotSupported  = "request_uri_not_supported"
)

// Error is an OAuth error as it goes on the wire.
type Error struct {
	Code        string
	Description string
	Status      int // HTTP status for direct responses; 0 picks the RFC default
	RetryAfter  int // seconds; >0 sets Retry-After (RFC 9110 10.2.3)
	// cause is what Internal was given: for errors.Is and logs, never for the wire.
	cause error
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// Unwrap returns the cause Internal was given, if any.
func (e *Error) Unwrap() error { return e.cause }

// New returns an error with a formatted description.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// As extracts an *Error from err, or turns any other error into Internal's answer.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// StoreRetryAfter is the Retry-After, in seconds, of an answer to a store outage: long
// enough that clients do not hammer a recovering database, short against a restart.
const StoreRetryAfter = 5

// Internal answers an error the client did not cause, without exposing its text: a store
// outage is temporarily_unavailable (503, Retry-After), anything else server_error.
func Internal(err error) *Error {
	if errors.Is(err, store.ErrUnavailable) {
		return &Error{Code: TemporarilyUnavailable, Description: "the service is temporarily unavailable; retry later",
			Status: http.StatusServiceUnavailable, RetryAfter: StoreRetryAfter, cause: err}
	}
	return &Error{Code: ServerError, Description: "internal error", Status: http.StatusInternalServerError, cause: err}
}

// HTTPStatus is the status a direct response carries.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	switch e.Code {
	case InvalidClient, InvalidToken:
		return http.StatusUnauthorized
	case InsufficientScope:
		return http.StatusForbidden
	case ServerError:
		return http.StatusInternalServerError
	case TemporarilyUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// WriteJSON writes the RFC 6749 5.2 JSON body. basicChallenge adds the WWW-Authenticate
// header RFC 6749 requires when the client tried HTTP Basic authentication.
func WriteJSON(w http.ResponseWriter, e *Error, basicChallenge bool) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	if e.HTTPStatus() == http.StatusUnauthorized && basicChallenge {
		h.Set("WWW-Authenticate", `Basic realm="motlan", charset="UTF-8"`)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.WriteHeader(e.HTTPStatus())
	body := struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.Code, e.Description}
	_ = json.NewEncoder(w).Encode(body)
}

// WriteBearer answers a protected-resource request per RFC 6750 section 3.
func WriteBearer(w http.ResponseWriter, e *Error) {
	challenge := `Bearer realm="motlan"`
	if e.Code != "" {
		challenge += `, error="` + e.Code + `", error_description="` + QuoteSafe(e.Description) + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	if e.Code == "" {
		// RFC 6750 3.1: a request without credentials gets no error information.
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	WriteJSON(w, e, false)
}

// QuoteSafe keeps a description inside a WWW-Authenticate quoted-string's safe characters
// (RFC 6750 3, RFC 9449 7.1).
func QuoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return '\''
		}
		return r
	}, s)
}
