package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBrandedPages: with a deployment brand, pages carry its name in the header and
// title and Motlan only in the small print; the error page's retry button is there.
func TestBrandedPages(t *testing.T) {
	p := &Pages{Log: slog.New(slog.DiscardHandler), Brand: "Cổng Dịch vụ công tỉnh Thanh Hóa"}
	w := httptest.NewRecorder()
	p.Error(w, httptest.NewRequest("GET", "/callback", nil), &PageError{Status: http.StatusForbidden, Key: "stepup_cancelled", Lang: "vi", Retry: "/sign/abc"})
	page := w.Body.String()
	for _, want := range []string{"<title>Cổng Dịch vụ công tỉnh Thanh Hóa</title>", "<b>Cổng Dịch vụ công tỉnh Thanh Hóa</b>",
		`data-error="stepup_cancelled"`, "Bạn đã hủy đăng nhập định danh điện tử", `<a class="btn primary" id="retry" href="/sign/abc">`,
		`<p class="muted small">Đăng nhập và ký số qua Motlan</p>`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if n := strings.Count(page, "Motlan"); n != 1 {
		t.Errorf("Motlan %d times, want only the small print", n)
	}
	w = httptest.NewRecorder()
	p.Error(w, httptest.NewRequest("GET", "/callback", nil), &PageError{Status: http.StatusForbidden, Key: "stepup_credentials", Lang: "en"})
	if en := w.Body.String(); !strings.Contains(en, `<html lang="en">`) || !strings.Contains(en, "wrong too many times") || strings.Contains(en, `id="retry"`) {
		t.Errorf("English page without retry:\n%s", en)
	}
}
