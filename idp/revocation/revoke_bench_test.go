package revocation_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/motlan/motlan/idp/internal/idptest"
)

// BenchmarkUserInfo measures the userinfo path in process (ServeHTTP, no network) with a
// valid access token: signature check, the revocation denylist lookup, the citizen read
// and the release record.
func BenchmarkUserInfo(b *testing.B) {
	h := idptest.New(b, true)
	tok := h.Redeem("web", h.Code(idptest.AuthQuery("web"))).Str("access_token")
	if tok == "" {
		b.Fatal("no access token")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, h.Issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.P.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("userinfo: %d %s", rec.Code, rec.Body)
		}
	}
}
