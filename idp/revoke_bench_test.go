package idp_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkUserInfo measures the userinfo path in process (ServeHTTP, no network) with a
// valid access token: signature check, the revocation denylist lookup, the citizen read
// and the release record.
func BenchmarkUserInfo(b *testing.B) {
	h := newHarness(b, true)
	tok := h.redeem("web", h.code(authQuery("web"))).str("access_token")
	if tok == "" {
		b.Fatal("no access token")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, h.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.p.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("userinfo: %d %s", rec.Code, rec.Body)
		}
	}
}
