package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/motlan/motlan/idp/store"
)

// TestStoreOutageAnswers: a store outage is 503 with Retry-After on the API (the
// service-unavailable problem) and on the approval page (the "busy" page in the
// citizen's language), never 500.
func TestStoreOutageAnswers(t *testing.T) {
	outage := fmt.Errorf("signing: get request: %w: connection refused", store.ErrUnavailable)
	p := problemFor(outage)
	if p.Status != http.StatusServiceUnavailable || p.Type != ProblemStoreUnavailable || p.retryAfter < 1 {
		t.Errorf("problem for a store outage: %+v", p)
	}
	if p := problemFor(errors.New("something else")); p.Status != http.StatusInternalServerError {
		t.Errorf("problem for another error: %+v", p)
	}
	a := &API{base: "https://id.example.vn", log: slog.New(slog.DiscardHandler)}
	for lang, want := range map[string]string{"vi": "Hệ thống đang bận", "en": "The system is busy"} {
		w := httptest.NewRecorder()
		a.pageError(w, httptest.NewRequest(http.MethodGet, "/sign/abc", nil), lang, "abc", outage)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), want) {
			t.Errorf("approval page (%s) for a store outage: %d, Retry-After %q, body lacks %q: %.200s", lang, w.Code, w.Header().Get("Retry-After"), want, w.Body.String())
		}
	}
}
