package httpapi

import (
	"context"
	"net/http"
	"strconv"
)

// PageRenderer draws a PDF's pages as PNG images for the approval page (package
// signing/render implements it with poppler's pdftoppm).
type PageRenderer interface {
	// Page draws page (1-based) of pdf, whose hex SHA-256 is sum (the cache key).
	Page(ctx context.Context, sum string, pdf []byte, page int) ([]byte, error)
	// MaxPages is how many pages of one document it draws.
	MaxPages() int
}

// imageURLs are a document's page images on the approval page; none without a renderer.
func (a *API) imageURLs(id string, index, pages int, lang string) []string {
	if a.render == nil {
		return nil
	}
	n := min(pages, a.render.MaxPages())
	out := make([]string, 0, n)
	for p := 1; p <= n; p++ {
		out = append(out, a.signPath(id)+"/documents/"+strconv.Itoa(index)+"/pages/"+strconv.Itoa(p)+"?lang="+lang)
	}
	return out
}

// GET /sign/{id}/documents/{index}/pages/{page}: one page as a PNG, to the citizen the
// approval page is for, after the same login (gate.go).
func (a *API) handlePageImage(w http.ResponseWriter, r *http.Request) {
	lang := pickLang(r, "")
	id := pathID(r)
	i, okIdx := pathIndex(r)
	page, err := strconv.Atoi(r.PathValue("page"))
	if id == "" || !okIdx || err != nil || page < 1 || a.render == nil {
		a.message(w, r, http.StatusNotFound, lang, "not_found", "", "")
		return
	}
	cid, _, ok := a.boundCitizen(r, id, r.URL.Query().Get("t"), a.formTTL)
	if !ok {
		a.stepUpBound(w, r, id, lang)
		return
	}
	ctx := r.Context()
	req, err := a.svc.ForApproval(ctx, id, cid, a.subjectFor(cid))
	if err != nil {
		a.pageError(w, r, lang, id, err)
		return
	}
	if i >= len(req.Documents) || page > req.Documents[i].Pages {
		a.message(w, r, http.StatusNotFound, lang, "not_found", "", "")
		return
	}
	pdf, err := a.svc.OriginalPDF(ctx, id, i, cid, a.subjectFor(cid))
	if err != nil {
		a.pageError(w, r, lang, id, err)
		return
	}
	img, err := a.render.Page(ctx, req.Documents[i].SHA256, pdf, page)
	if err != nil {
		a.log.WarnContext(ctx, "page image", "request", id, "err", err)
		a.message(w, r, http.StatusNotFound, lang, "no_image", "", "")
		return
	}
	setPageHeaders(w.Header(), "default-src 'none'; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(img)))
	_, _ = w.Write(img)
}
