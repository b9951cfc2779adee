package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

const (
	defaultQRSize = 256
	minQRSize     = 128
	maxQRSize     = 1024
)

// qrURLTTL bounds the life of a signed qr_png_url: long enough for a page to show it,
// short enough that a leaked URL soon stops working.
const qrURLTTL = 15 * time.Minute

// signedQRURL is the request's QR image URL that needs no API token (it goes in a
// citizen's <img src>): it carries an expiry (at most qrURLTTL from now, never after the
// request's own) and an HMAC of the request ID and that expiry. It shows only the
// approval URL, which whoever sees the page may open anyway.
func (a *API) signedQRURL(id string, requestExpires time.Time) string {
	// Whole minutes, rounded up: the URL stays the same across polls within a minute.
	exp := a.now().Add(qrURLTTL).Truncate(time.Minute).Add(time.Minute)
	if !requestExpires.IsZero() && requestExpires.Before(exp) {
		exp = requestExpires
	}
	e := strconv.FormatInt(exp.Unix(), 10)
	return a.base + "/signing/v1/requests/" + id + "/qr.png?exp=" + e + "&sig=" + a.qrMAC(id, e)
}

func (a *API) qrMAC(id, exp string) string {
	m := hmac.New(sha256.New, a.csrfKey)
	m.Write([]byte("motlan qr url\x00" + id + "\x00" + exp))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// qrPNG serves the QR image to a signed URL without a token, else as an API endpoint.
func (a *API) qrPNG(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !q.Has("sig") && !q.Has("exp") {
		a.api(a.handleQRPNG)(w, r)
		return
	}
	id, exp, sig := pathID(r), q.Get("exp"), q.Get("sig")
	until, err := strconv.ParseInt(exp, 10, 64)
	now := a.now()
	if err != nil || id == "" || !hmac.Equal([]byte(sig), []byte(a.qrMAC(id, exp))) ||
		now.Unix() >= until || time.Unix(until, 0).After(now.Add(qrURLTTL+2*time.Minute)) {
		writeProblem(w, problem(http.StatusForbidden, ProblemForbidden, "Forbidden", "the QR image URL is invalid or has expired; read the request again for a new qr_png_url"))
		return
	}
	size, p := qrSize(q.Get("size"))
	if p != nil {
		writeProblem(w, p)
		return
	}
	png, err := qrPNGOf(a.approvalURL(id), size)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeQR(w, "image/png", png)
}

func qrSize(s string) (int, *Problem) {
	if s == "" {
		return defaultQRSize, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < minQRSize || n > maxQRSize {
		return 0, badField("size", fmt.Sprintf("size must be a number of pixels from %d to %d", minQRSize, maxQRSize))
	}
	return n, nil
}

func qrPNGOf(content string, size int) ([]byte, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	return q.PNG(size)
}

func (a *API) handleQRPNG(w http.ResponseWriter, r *http.Request, c Caller) error {
	size, p := qrSize(r.URL.Query().Get("size"))
	if p != nil {
		return p
	}
	req, err := a.load(r.Context(), c, pathID(r))
	if err != nil {
		return err
	}
	png, err := qrPNGOf(a.approvalURL(req.ID), size)
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
