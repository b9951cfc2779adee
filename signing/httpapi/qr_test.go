package httpapi

import (
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// qr_png_url works without the API token (an <img> on the citizen's page), for a short
// while and only for its own request; a tampered or expired URL is refused.
func TestQRSignedURL(t *testing.T) {
	e := newEnv(t)
	e.pending("r1")
	e.pending("r2")
	out := decodeReq(t, e.do("GET", "/signing/v1/requests/r1", tokPortal, nil, nil), http.StatusOK)
	u, err := url.Parse(out.QRPNGURL)
	if err != nil || !strings.HasSuffix(u.Path, "/signing/v1/requests/r1/qr.png") || u.Query().Get("sig") == "" {
		t.Fatalf("qr_png_url %q", out.QRPNGURL)
	}
	get := func(path string) *http.Response { return e.do("GET", path, "", nil, nil) }
	resp := get(u.RequestURI())
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("signed URL without a token: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if img, err := png.Decode(resp.Body); err != nil || img.Bounds().Dx() != defaultQRSize {
		t.Fatalf("signed URL image: %v", err)
	}
	q := u.Query()
	for _, path := range []string{
		strings.Replace(u.RequestURI(), "/r1/", "/r2/", 1),                                 // another request
		u.Path + "?exp=" + q.Get("exp") + "&sig=" + strings.Repeat("A", len(q.Get("sig"))), // tampered
		u.Path + "?exp=" + q.Get("exp") + "0&sig=" + q.Get("sig"),                          // a later expiry
		u.Path + "?exp=" + q.Get("exp"),                                                    // no signature
	} {
		wantProblem(t, get(path), http.StatusForbidden, ProblemForbidden)
	}
	// Valid until its expiry, never longer than the TTL.
	e.clock.Add(qrURLTTL + 2*time.Minute)
	wantProblem(t, get(u.RequestURI()), http.StatusForbidden, ProblemForbidden)
	// The token path still works as before.
	if resp := e.do("GET", "/signing/v1/requests/r1/qr.png", tokPortal, nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("qr.png with the token: %d", resp.StatusCode)
	}
}
