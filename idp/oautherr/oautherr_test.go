package oautherr_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	oe "github.com/motlan/motlan/idp/oautherr"
)

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		name string
		err  *oe.Error
		want int
	}{
		{"invalid_request", oe.New(oe.InvalidRequest, "x"), 400},
		{"invalid_grant", oe.New(oe.InvalidGrant, "x"), 400},
		{"invalid_client", oe.New(oe.InvalidClient, "x"), 401},
		{"invalid_token", oe.New(oe.InvalidToken, "x"), 401},
		{"insufficient_scope", oe.New(oe.InsufficientScope, "x"), 403},
		{"server_error", oe.New(oe.ServerError, "x"), 500},
		{"temporarily_unavailable", oe.New(oe.TemporarilyUnavailable, "x"), 503},
		{"explicit status wins", &oe.Error{Code: oe.InvalidRequest, Status: 405}, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.HTTPStatus(); got != tt.want {
				t.Errorf("HTTPStatus = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestAsHidesCauses(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode string
	}{
		{"wrapped oauth error", fmt.Errorf("ctx: %w", oe.New(oe.InvalidGrant, "bad code")), oe.InvalidGrant},
		{"other error", errors.New("citizen 034090001234 not found"), oe.ServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := oe.As(tt.err)
			if e.Code != tt.wantCode {
				t.Errorf("code = %q, want %q", e.Code, tt.wantCode)
			}
			if strings.Contains(e.Description, "034090001234") {
				t.Errorf("description leaks the cause: %q", e.Description)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name       string
		write      func(w http.ResponseWriter)
		wantStatus int
		wantWWW    string // prefix; "" means absent
	}{
		{"JSON 400", func(w http.ResponseWriter) { oe.WriteJSON(w, oe.New(oe.InvalidRequest, "x"), true) }, 400, ""},
		{"JSON 401 with Basic", func(w http.ResponseWriter) { oe.WriteJSON(w, oe.New(oe.InvalidClient, "x"), true) }, 401, `Basic realm="motlan"`},
		{"JSON 401 without Basic", func(w http.ResponseWriter) { oe.WriteJSON(w, oe.New(oe.InvalidClient, "x"), false) }, 401, ""},
		{"Bearer with code", func(w http.ResponseWriter) { oe.WriteBearer(w, oe.New(oe.InvalidToken, `bad "token"\ é`)) }, 401,
			`Bearer realm="motlan", error="invalid_token", error_description="bad 'token'' '"`},
		{"Bearer without code", func(w http.ResponseWriter) { oe.WriteBearer(w, &oe.Error{Status: 401}) }, 401, `Bearer realm="motlan"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.write(rec)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			www := rec.Header().Get("WWW-Authenticate")
			if tt.wantWWW == "" && www != "" || !strings.HasPrefix(www, tt.wantWWW) {
				t.Errorf("WWW-Authenticate = %q, want %q", www, tt.wantWWW)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", rec.Header().Get("Cache-Control"))
			}
			if tt.name == "Bearer without code" {
				// RFC 6750 3.1: no error information without credentials.
				if rec.Body.Len() != 0 {
					t.Errorf("body %q, want none", rec.Body.String())
				}
				return
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Errorf("body %q: %v", rec.Body.String(), err)
			}
		})
	}
}
