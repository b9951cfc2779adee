package httpapi

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/motlan/motlan/signing"
)

// Extender takes signed PDFs to B-LT or B-LTA (package signing implements it).
type Extender interface {
	// Extend returns the PDF with the added incremental updates; bad input is a
	// *signing.InputError, an unreachable TSA or responder signing.ErrUpstream.
	Extend(ctx context.Context, pdf []byte, level signing.Level) ([]byte, error)
}

// handleExtend extends a signed PDF: POST a multipart form with one "document" file and
// a "level" field (B-LT or B-LTA), or the PDF itself (application/pdf) with ?level=.
// The answer is the extended PDF. Calls count against the client's signing rate limit,
// before the body is read.
func (a *API) handleExtend(w http.ResponseWriter, r *http.Request, c Caller) error {
	if a.ext == nil {
		return problem(http.StatusServiceUnavailable, ProblemUnavailable, "Service unavailable", "long-term validation is not configured on this server")
	}
	if p := a.extendAllowed(w, r, c.ClientID); p != nil {
		return p
	}
	limit := a.maxDoc
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	tooBig := func() error {
		return tooLarge(limit, -1, "the PDF is larger than the limit")
	}
	var (
		body     io.Reader
		level    = r.URL.Query().Get("level")
		filename = "document"
	)
	switch mt {
	case "application/pdf":
		if r.ContentLength > limit {
			return tooBig()
		}
		body = http.MaxBytesReader(w, r.Body, limit)
	case "multipart/form-data":
		r.Body = http.MaxBytesReader(w, r.Body, limit+formSlack)
		f, fh, err := r.FormFile("document")
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return tooBig()
			}
			return badField("document", "a multipart form with one file named document is required")
		}
		defer f.Close()
		body = f
		if v := r.FormValue("level"); v != "" {
			level = v
		}
		if n := strings.TrimSuffix(fh.Filename, ".pdf"); n != "" {
			filename = n
		}
	default:
		return problem(http.StatusUnsupportedMediaType, ProblemUnsupportedMediaType, "Unsupported media type", "send application/pdf or multipart/form-data")
	}
	switch signing.Level(level) {
	case signing.LevelBLT, signing.LevelBLTA:
	case "":
		return badField("level", "level is required: B-LT or B-LTA")
	default:
		return badField("level", "level must be B-LT or B-LTA")
	}
	data, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooBig()
		}
		return problem(http.StatusBadRequest, ProblemInvalidRequest, "Invalid request", "the body could not be read")
	}
	out, err := a.ext.Extend(r.Context(), data, signing.Level(level))
	if err != nil {
		return err
	}
	writePDF(w, out, filename+" "+level, 0, "attachment")
	return nil
}
