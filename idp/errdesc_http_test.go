package idp_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/motlan/motlan/idp/internal/idptest"
)

// rfc6749DescriptionChar reports whether c may appear in error_description: RFC 6749
// 4.1.2.1 and 5.2 allow %x20-21 / %x23-5B / %x5D-7E only (no '"', no '\', ASCII only).
func rfc6749DescriptionChar(c byte) bool {
	return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'
}

// TestErrorDescriptionCharset checks error_description against RFC 6749's character set
// on both the redirect and the token endpoint, including descriptions built from request input.
func TestErrorDescriptionCharset(t *testing.T) {
	h := idptest.New(t, true)
	authorize := func(q string) string {
		resp, err := idptest.NoJar().Get(h.Issuer + "/authorize?" + q)
		if err != nil {
			t.Fatal(err)
		}
		idptest.ReadBody(t, resp)
		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound {
			t.Fatalf("status %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		return u.Query().Get("error_description")
	}
	token := func(form url.Values) string {
		return h.PostForm("/token", form, "web", h.Secrets["web"]).Str("error_description")
	}
	tests := []struct {
		name string
		desc func() string
	}{
		{"authorize repeated parameter", func() string { return authorize(idptest.AuthQuery("web").Encode() + "&foo=1&foo=2") }},
		{"authorize scope not allowed", func() string { return authorize(idptest.AuthQuery("web", "scope", "openid admin").Encode()) }},
		{"authorize unknown prompt", func() string { return authorize(idptest.AuthQuery("web", "prompt", "tạo").Encode()) }},
		{"authorize missing openid", func() string { return authorize(idptest.AuthQuery("web", "scope", "profile").Encode()) }},
		{"token unsupported grant_type", func() string { return token(url.Values{"grant_type": {"password"}}) }},
		{"token repeated parameter", func() string {
			return h.PostForm("/token", url.Values{"grant_type": {"authorization_code"}, "code": {"a", "b"}}, "web", h.Secrets["web"]).Str("error_description")
		}},
		{"token unknown code", func() string {
			return token(url.Values{"grant_type": {"authorization_code"}, "code": {"abc"}, "redirect_uri": {idptest.WebRedirect}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.desc()
			if d == "" {
				t.Fatal("no error_description")
			}
			for i := 0; i < len(d); i++ {
				if !rfc6749DescriptionChar(d[i]) {
					t.Fatalf("error_description %q has byte %#x at %d, outside RFC 6749's %%x20-21 / %%x23-5B / %%x5D-7E", d, d[i], i)
				}
			}
		})
	}
}
