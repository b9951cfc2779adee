package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

const (
	defaultQRSize = 256
	minQRSize     = 128
	maxQRSize     = 1024
)

func (a *API) handleQRPNG(w http.ResponseWriter, r *http.Request, c Caller) error {
	size := defaultQRSize
	if s := r.URL.Query().Get("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < minQRSize || n > maxQRSize {
			return badField("size", fmt.Sprintf("size must be a number of pixels from %d to %d", minQRSize, maxQRSize))
		}
		size = n
	}
	req, err := a.load(r.Context(), c, pathID(r))
	if err != nil {
		return err
	}
	q, err := qrcode.New(a.approvalURL(req.ID), qrcode.Medium)
	if err != nil {
		return err
	}
	png, err := q.PNG(size)
	if err != nil {
		return err
	}
	writeQR(w, "image/png", png)
	return nil
}

func (a *API) handleQRSVG(w http.ResponseWriter, r *http.Request, c Caller) error {
	req, err := a.load(r.Context(), c, pathID(r))
	if err != nil {
		return err
	}
	svg, err := qrSVG(a.approvalURL(req.ID))
	if err != nil {
		return err
	}
	writeQR(w, "image/svg+xml", svg)
	return nil
}

func writeQR(w http.ResponseWriter, ctype string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "private, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	_, _ = w.Write(b)
}

// qrSVG draws the QR code of content as an SVG: one path of dark runs per row on a white
// square, in module units (the quiet zone included), so it scales without blur.
func qrSVG(content string) ([]byte, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	bm := q.Bitmap()
	n := len(bm)
	var p strings.Builder
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			fmt.Fprintf(&p, "M%d %dh%dv1h-%dz", start, y, x-start, x-start)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges" role="img" aria-label="QR">`, n, n, n*8, n*8)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`+"\n", n, n, p.String())
	return []byte(b.String()), nil
}
