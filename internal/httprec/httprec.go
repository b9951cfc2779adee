// Package httprec records what a handler wrote, its status code and body bytes, for the
// middleware that log, count and trace requests (one wrapper, so each sees the same).
package httprec

import "net/http"

// Writer wraps a ResponseWriter and remembers the status code (200 until one is
// written) and the body bytes written.
type Writer struct {
	http.ResponseWriter
	Code        int
	Bytes       int64
	wroteHeader bool
}

// New wraps w.
func New(w http.ResponseWriter) *Writer { return &Writer{ResponseWriter: w, Code: http.StatusOK} }

func (w *Writer) WriteHeader(code int) {
	if !w.wroteHeader {
		w.Code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *Writer) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.Bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines (long-polls use them).
func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes flushes through for handlers that assert http.Flusher.
func (w *Writer) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
