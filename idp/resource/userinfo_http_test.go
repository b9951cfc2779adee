package resource_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/motlan/motlan/idp/internal/idptest"
)

// TestUserInfo covers RFC 6750 token presentation at /userinfo and the claims it releases.
func TestUserInfo(t *testing.T) {
	h := idptest.New(t, true)
	all := h.Redeem("web", h.Code(idptest.AuthQuery("web", "scope", "openid profile address phone cccd")))
	if all.Status != 200 {
		t.Fatalf("redeem: %d %s", all.Status, all.Raw)
	}
	at, idt := all.Str("access_token"), all.Str("id_token")
	onlyOpenID := h.Redeem("web", h.Code(idptest.AuthQuery("web", "scope", "openid"))).Str("access_token")

	type req struct {
		method, query, auth, body string
	}
	tests := []struct {
		name       string
		req        req
		wantStatus int
		wantError  string // "" on 401 means: no error code (RFC 6750 3.1)
		wantClaims map[string]any
		wantAbsent []string
	}{
		{name: "no token", req: req{method: "GET"}, wantStatus: 401},
		{name: "no token POST", req: req{method: "POST", body: "foo=bar"}, wantStatus: 401},
		{name: "garbage token", req: req{method: "GET", auth: "Bearer garbage"}, wantStatus: 401, wantError: "invalid_token"},
		{name: "JWT-shaped garbage", req: req{method: "GET", auth: "Bearer eyJhbGciOiJFUzI1NiJ9.e30.AAAA"}, wantStatus: 401, wantError: "invalid_token"},
		{name: "tampered access token", req: req{method: "GET", auth: "Bearer " + at[:len(at)-4] + "AAAA"}, wantStatus: 401, wantError: "invalid_token"},
		{name: "ID token as access token", req: req{method: "GET", auth: "Bearer " + idt}, wantStatus: 401, wantError: "invalid_token"},
		{name: "Basic scheme", req: req{method: "GET", auth: "Basic d2ViOng="}, wantStatus: 400, wantError: "invalid_request"},
		{name: "Bearer without token", req: req{method: "GET", auth: "Bearer "}, wantStatus: 400, wantError: "invalid_request"},
		{name: "token in query", req: req{method: "GET", query: "access_token=" + at}, wantStatus: 400, wantError: "invalid_request"},
		{name: "token in query and header", req: req{method: "GET", query: "access_token=" + at, auth: "Bearer " + at}, wantStatus: 400, wantError: "invalid_request"},
		{name: "token in header and body", req: req{method: "POST", auth: "Bearer " + at, body: "access_token=" + at}, wantStatus: 400, wantError: "invalid_request"},
		{name: "token twice in body", req: req{method: "POST", body: "access_token=" + at + "&access_token=" + at}, wantStatus: 400, wantError: "invalid_request"},
		{name: "PUT", req: req{method: "PUT", auth: "Bearer " + at}, wantStatus: 405, wantError: "invalid_request"},
		{name: "valid token GET", req: req{method: "GET", auth: "Bearer " + at}, wantStatus: 200,
			wantClaims: map[string]any{"name": "Lê Công Hảo", "family_name": "Lê", "given_name": "Hảo", "middle_name": "Công",
				"nationality": "Việt Nam", "cccd": "034090001234", "phone_number": "+84912345678", "phone_number_verified": true}},
		{name: "valid token, lowercase scheme", req: req{method: "GET", auth: "bearer " + at}, wantStatus: 200,
			wantClaims: map[string]any{"name": "Lê Công Hảo"}},
		{name: "valid token POST form", req: req{method: "POST", body: url.Values{"access_token": {at}}.Encode()}, wantStatus: 200,
			wantClaims: map[string]any{"name": "Lê Công Hảo"}},
		{name: "valid token POST with header", req: req{method: "POST", auth: "Bearer " + at}, wantStatus: 200,
			wantClaims: map[string]any{"name": "Lê Công Hảo"}},
		{name: "openid only releases sub only", req: req{method: "GET", auth: "Bearer " + onlyOpenID}, wantStatus: 200,
			wantAbsent: []string{"name", "address", "cccd", "phone_number", "birthdate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := h.Issuer + "/userinfo"
			if tt.req.query != "" {
				target += "?" + tt.req.query
			}
			var body *strings.Reader
			if tt.req.body != "" {
				body = strings.NewReader(tt.req.body)
			} else {
				body = strings.NewReader("")
			}
			hr, _ := http.NewRequest(tt.req.method, target, body)
			if tt.req.body != "" {
				hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tt.req.auth != "" {
				hr.Header.Set("Authorization", tt.req.auth)
			}
			r := h.Do(hr)
			if r.Status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", r.Status, tt.wantStatus, r.Raw)
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
			}
			www := r.Header.Get("WWW-Authenticate")
			switch {
			case tt.wantStatus == 200:
				if r.Str("sub") == "" {
					t.Errorf("no sub: %s", r.Raw)
				}
				for k, v := range tt.wantClaims {
					if r.Body[k] != v {
						t.Errorf("%s = %#v, want %#v", k, r.Body[k], v)
					}
				}
				for _, k := range tt.wantAbsent {
					if _, ok := r.Body[k]; ok {
						t.Errorf("%s released without its scope", k)
					}
				}
			case tt.wantStatus == 401 && tt.wantError == "":
				if !strings.HasPrefix(www, `Bearer realm=`) || strings.Contains(www, "error=") {
					t.Errorf("WWW-Authenticate = %q, want a bare Bearer realm challenge", www)
				}
			case tt.wantStatus == 401 || tt.wantStatus == 400:
				if !strings.HasPrefix(www, `Bearer realm=`) || !strings.Contains(www, `error="`+tt.wantError+`"`) {
					t.Errorf("WWW-Authenticate = %q, want Bearer with error=%q", www, tt.wantError)
				}
				fallthrough
			default:
				if r.Str("error") != tt.wantError {
					t.Errorf("error = %q, want %q", r.Str("error"), tt.wantError)
				}
			}
		})
	}

	t.Run("diacritics byte-exact", func(t *testing.T) {
		hr, _ := http.NewRequest("GET", h.Issuer+"/userinfo", nil)
		hr.Header.Set("Authorization", "Bearer "+at)
		r := h.Do(hr)
		for _, want := range []string{`"name":"Lê Công Hảo"`, `"place_of_origin":"Xã Đông Hưng, Huyện Đông Hưng, Tỉnh Thái Bình"`, `"formatted":"Số 12 Phố Tràng Tiền, Phường Hoàn Kiếm, Hà Nội"`} {
			if !bytes.Contains(r.Raw, []byte(want)) {
				t.Errorf("body lacks %s byte for byte: %s", want, r.Raw)
			}
		}
		if ct := r.Header.Get("Content-Type"); !strings.Contains(strings.ToLower(ct), "charset=utf-8") {
			t.Errorf("Content-Type = %q, want charset=UTF-8", ct)
		}
		var addr struct {
			Address map[string]string `json:"address"`
		}
		if err := json.Unmarshal(r.Raw, &addr); err != nil || addr.Address["country"] != "VN" {
			t.Errorf("address = %v (%v), want the object the eID gave", addr.Address, err)
		}
	})
}

// TestUserInfoNoTokenHasNoErrorCode: RFC 6750 3.1 says a request without authentication
// "SHOULD NOT include an error code or other error information"; the header is right, and the
// body must not carry an error member either.
func TestUserInfoNoTokenHasNoErrorCode(t *testing.T) {
	h := idptest.New(t, true)
	hr, _ := http.NewRequest("GET", h.Issuer+"/userinfo", nil)
	r := h.Do(hr)
	if r.Status != 401 {
		t.Fatalf("status = %d, want 401", r.Status)
	}
	if _, ok := r.Body["error"]; ok {
		t.Errorf("BUG: body %s carries an error member for a request without a token", bytes.TrimSpace(r.Raw))
	}
}
