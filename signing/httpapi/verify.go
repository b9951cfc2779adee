package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/motlan/motlan/signing/verify"
)

// handleVerify reports on every signature of a PDF: POST the PDF itself (application/pdf)
// or a multipart form with one "document" file. Trust comes from Config.TrustRoots.
func (a *API) handleVerify(w http.ResponseWriter, r *http.Request, c Caller) error {
	if p := a.verifyAllowed(w, r, c.ClientID); p != nil {
		return p
	}
	limit := a.maxDoc
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var body io.Reader
	switch mt {
	case "application/pdf":
		body = http.MaxBytesReader(w, r.Body, limit)
	case "multipart/form-data":
		r.Body = http.MaxBytesReader(w, r.Body, limit+64<<10)
		f, _, err := r.FormFile("document")
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return problem(http.StatusRequestEntityTooLarge, ProblemTooLarge, "Too large", "the PDF is larger than the limit")
			}
			return problem(http.StatusBadRequest, ProblemInvalidRequest, "Invalid request", "a multipart form with one file named document is required")
		}
		defer f.Close()
		body = f
	default:
		return problem(http.StatusUnsupportedMediaType, ProblemBase+"unsupported-media-type", "Unsupported media type", "send application/pdf or multipart/form-data")
	}
	data, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return problem(http.StatusRequestEntityTooLarge, ProblemTooLarge, "Too large", "the PDF is larger than the limit")
		}
		return problem(http.StatusBadRequest, ProblemInvalidRequest, "Invalid request", "the body could not be read")
	}
	rep, err := verify.Verify(r.Context(), bytes.NewReader(data), int64(len(data)), verify.Options{Roots: a.roots, MaxSize: limit, At: a.now()})
	switch {
	case errors.Is(err, verify.ErrEncrypted):
		return problem(http.StatusUnprocessableEntity, ProblemBase+"encrypted", "Encrypted PDF", "the PDF needs a password to open (or uses an unknown security handler); owner-password-only PDFs are verified")
	case errors.Is(err, verify.ErrTooLarge):
		return problem(http.StatusRequestEntityTooLarge, ProblemTooLarge, "Too large", "the PDF is larger than the limit")
	case errors.Is(err, verify.ErrInvalidPDF):
		return problem(http.StatusUnprocessableEntity, ProblemBase+"not-pdf", "Not a PDF", "the file is not a readable PDF")
	case err != nil:
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(citizenReport(rep))
}
