package httprec

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriter(t *testing.T) {
	for _, tc := range []struct {
		name      string
		handler   func(w http.ResponseWriter)
		wantCode  int
		wantBytes int64
	}{
		{"nothing written", func(http.ResponseWriter) {}, http.StatusOK, 0},
		{"body only", func(w http.ResponseWriter) { _, _ = io.WriteString(w, "xin chào") }, http.StatusOK, int64(len("xin chào"))},
		{"status then body", func(w http.ResponseWriter) { w.WriteHeader(http.StatusGone); _, _ = io.WriteString(w, "gone") }, http.StatusGone, 4},
		{"second status ignored", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.WriteHeader(http.StatusOK)
		}, http.StatusServiceUnavailable, 0},
		{"body fixes 200", func(w http.ResponseWriter) { _, _ = io.WriteString(w, "a"); w.WriteHeader(http.StatusTeapot) }, http.StatusOK, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			w := New(rec)
			tc.handler(w)
			if w.Code != tc.wantCode || w.Bytes != tc.wantBytes {
				t.Errorf("recorded %d, %d bytes; want %d, %d", w.Code, w.Bytes, tc.wantCode, tc.wantBytes)
			}
			if rec.Body.Len() != int(tc.wantBytes) {
				t.Errorf("passed %d bytes on, want %d", rec.Body.Len(), tc.wantBytes)
			}
		})
	}
	var flushed bool
	w := New(flushRecorder{httptest.NewRecorder(), &flushed})
	if err := http.NewResponseController(w).Flush(); err != nil || !flushed {
		t.Errorf("flush through the wrapper: %v, flushed %v", err, flushed)
	}
}

type flushRecorder struct {
	*httptest.ResponseRecorder
	flushed *bool
}

func (f flushRecorder) Flush() { *f.flushed = true }
