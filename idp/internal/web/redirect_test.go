package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestRedirect checks the redirect to a client: its own query kept, the response's added
// (an added parameter replacing the client's of the same name), not cached, and no body.
func TestRedirect(t *testing.T) {
	var p Pages
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/eid/callback", nil)
	p.Redirect(w, r, "https://dichvucong.example.vn/cb?tab=hồ-sơ&state=old", url.Values{"code": {"c<1>"}, "state": {"s&2"}})
	if w.Code != http.StatusFound || w.Body.Len() != 0 || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d, body %q, Cache-Control %q", w.Code, w.Body.String(), w.Header().Get("Cache-Control"))
	}
	u, err := url.Parse(w.Header().Get("Location"))
	if err != nil || u.Scheme+"://"+u.Host+u.Path != "https://dichvucong.example.vn/cb" {
		t.Fatalf("Location %q: %v", w.Header().Get("Location"), err)
	}
	want := url.Values{"tab": {"hồ-sơ"}, "code": {"c<1>"}, "state": {"s&2"}}
	if u.Query().Encode() != want.Encode() {
		t.Errorf("query %v, want %v", u.Query(), want)
	}
}
