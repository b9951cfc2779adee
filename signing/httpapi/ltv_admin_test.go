package httpapi

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/signing"
)

// fakeExtender appends a marker; it refuses what the real service refuses.
type fakeExtender struct{}

func (fakeExtender) Extend(_ context.Context, pdf []byte, level signing.Level) ([]byte, error) {
	switch {
	case !bytes.HasPrefix(pdf, []byte("%PDF-")):
		return nil, &signing.InputError{Index: 0, Code: signing.CodeNotPDF, Msg: "the file is not a PDF"}
	case !bytes.Contains(pdf, []byte("/ByteRange")):
		return nil, &signing.InputError{Index: 0, Code: signing.CodeNotSigned, Msg: "the PDF has no signature to extend"}
	case bytes.Contains(pdf, []byte("offline")):
		return nil, signing.ErrUpstream
	}
	return append(append([]byte{}, pdf...), "\n% extended to "+string(level)+"\n"...), nil
}

// fakeRevoker knows one certificate, serial 0x1a2b.
type fakeRevoker struct {
	mu  sync.Mutex
	rev *ca.Revocation
}

func (f *fakeRevoker) RevokeCertificate(_ context.Context, serial *big.Int, reason int, at time.Time) (*x509.Certificate, ca.Revocation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if serial.Cmp(big.NewInt(0x1a2b)) != 0 {
		return nil, ca.Revocation{}, ca.ErrUnknownCertificate
	}
	if f.rev != nil {
		return nil, *f.rev, ca.ErrAlreadyRevoked
	}
	if at.IsZero() {
		at = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	}
	if at.After(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		return nil, ca.Revocation{}, ca.ErrInvalidRequest
	}
	f.rev = &ca.Revocation{Serial: serial, Reason: reason, RevokedAt: at}
	return &x509.Certificate{SerialNumber: serial}, *f.rev, nil
}

const signedPDF = "%PDF-1.7\n1 0 obj << /ByteRange [0 1 2 3] >> endobj\n%%EOF\n"

func TestExtendAPI(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Extender = fakeExtender{}; c.MaxUploadBytes = 1 << 10 })
	pdfHdr := http.Header{"Content-Type": {"application/pdf"}}
	t.Run("multipart", func(t *testing.T) {
		h, b := form(t, field("level", "B-LTA"), file("ho-so.pdf", []byte(signedPDF)))
		resp := e.do("POST", "/signing/v1/extend", tokPortal, h, b)
		got := readAll(t, resp)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" || !bytes.HasSuffix(got, []byte("extended to B-LTA\n")) {
			t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), got)
		}
		if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "ho-so B-LTA.pdf") {
			t.Fatalf("Content-Disposition %q", cd)
		}
	})
	t.Run("application/pdf", func(t *testing.T) {
		resp := e.do("POST", "/signing/v1/extend?level=B-LT", tokCitizen, pdfHdr, strings.NewReader(signedPDF))
		if got := readAll(t, resp); resp.StatusCode != 200 || !bytes.HasSuffix(got, []byte("extended to B-LT\n")) {
			t.Fatalf("%d: %s", resp.StatusCode, got)
		}
	})
	for _, tc := range []struct {
		name, token, path string
		hdr               http.Header
		body              string
		status            int
		typ               string
	}{
		{"no token", "", "/signing/v1/extend?level=B-LT", pdfHdr, signedPDF, 401, ProblemUnauthorized},
		{"no scope", tokNoScope, "/signing/v1/extend?level=B-LT", pdfHdr, signedPDF, 403, ProblemInsufficientScope},
		{"unknown level", tokPortal, "/signing/v1/extend?level=B-X", pdfHdr, signedPDF, 400, ProblemInvalidRequest},
		{"B-T is no extension", tokPortal, "/signing/v1/extend?level=B-T", pdfHdr, signedPDF, 400, ProblemInvalidRequest},
		{"no level", tokPortal, "/signing/v1/extend", pdfHdr, signedPDF, 400, ProblemInvalidRequest},
		{"not a PDF", tokPortal, "/signing/v1/extend?level=B-LT", pdfHdr, "hello", 422, ProblemBase + "not-pdf"},
		{"unsigned", tokPortal, "/signing/v1/extend?level=B-LT", pdfHdr, "%PDF-1.7\n%%EOF\n", 422, ProblemBase + "not-signed"},
		{"responder down", tokPortal, "/signing/v1/extend?level=B-LT", pdfHdr, signedPDF + "offline", 502, ProblemUpstream},
		{"too large", tokPortal, "/signing/v1/extend?level=B-LT", pdfHdr, signedPDF + strings.Repeat("x", 2<<10), 413, ProblemTooLarge},
		{"wrong media type", tokPortal, "/signing/v1/extend?level=B-LT", http.Header{"Content-Type": {"text/plain"}}, signedPDF, 415, ProblemUnsupportedMediaType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, e.do("POST", tc.path, tc.token, tc.hdr, strings.NewReader(tc.body)), tc.status, tc.typ)
		})
	}
	t.Run("not configured", func(t *testing.T) {
		e := newEnv(t)
		wantProblem(t, e.do("POST", "/signing/v1/extend?level=B-LT", tokPortal, pdfHdr, strings.NewReader(signedPDF)), 503, ProblemUnavailable)
	})
}

func TestRevokeAPI(t *testing.T) {
	const tokAdmin, tokSigning = "tok-admin", "tok-signing-only"
	rv := &fakeRevoker{}
	e := newEnv(t, func(c *Config) { c.Revoker = rv })
	e.auth.tokens[tokAdmin] = Caller{ClientID: "ops", Scopes: []string{"admin"}}
	e.auth.tokens[tokSigning] = Caller{ClientID: "portal", Scopes: []string{"signing"}}
	// A citizen's token never authorises admin calls, whatever its scopes.
	e.auth.tokens["tok-citizen-admin"] = Caller{ClientID: "ops", Subject: "s", CitizenID: "c", Scopes: []string{"admin", "sign"}}
	js := http.Header{"Content-Type": {"application/json"}}
	path := "/admin/v1/certificates/1a2b/revoke"

	for _, tc := range []struct {
		name, token, path, body string
		hdr                     http.Header
		status                  int
		typ                     string
	}{
		{"no token", "", path, `{"reason":"keyCompromise"}`, js, 401, ProblemUnauthorized},
		{"signing scope only", tokSigning, path, `{"reason":"keyCompromise"}`, js, 403, ProblemInsufficientScope},
		{"citizen token", "tok-citizen-admin", path, `{"reason":"keyCompromise"}`, js, 403, ProblemInsufficientScope},
		{"bad reason", tokAdmin, path, `{"reason":"boredom"}`, js, 400, ProblemInvalidRequest},
		{"no reason", tokAdmin, path, `{}`, js, 400, ProblemInvalidRequest},
		{"unknown field", tokAdmin, path, `{"reason":"keyCompromise","why":"x"}`, js, 400, ProblemInvalidRequest},
		{"bad date", tokAdmin, path, `{"reason":"keyCompromise","revoked_at":"yesterday"}`, js, 400, ProblemInvalidRequest},
		{"future date", tokAdmin, path, `{"reason":"keyCompromise","revoked_at":"2030-01-01T00:00:00Z"}`, js, 400, ProblemInvalidRequest},
		{"not JSON", tokAdmin, path, `reason=keyCompromise`, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, 415, ProblemUnsupportedMediaType},
		{"unknown serial", tokAdmin, "/admin/v1/certificates/ffff/revoke", `{"reason":"keyCompromise"}`, js, 404, ProblemNotFound},
		{"serial not hex", tokAdmin, "/admin/v1/certificates/xyz/revoke", `{"reason":"keyCompromise"}`, js, 404, ProblemNotFound},
		{"unknown admin path", tokAdmin, "/admin/v1/certificates", `{}`, js, 404, ProblemNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, e.do("POST", tc.path, tc.token, tc.hdr, strings.NewReader(tc.body)), tc.status, tc.typ)
		})
	}
	if rv.rev != nil {
		t.Fatal("a refused call revoked the certificate")
	}
	resp := e.do("POST", path, tokAdmin, js, strings.NewReader(`{"reason":"keyCompromise"}`))
	var got revocationJSON
	if b := readAll(t, resp); resp.StatusCode != 200 || json.Unmarshal(b, &got) != nil || got.Serial != "1a2b" || got.Reason != "keyCompromise" || got.RevokedAt.IsZero() {
		t.Fatalf("revoke: %d %s", resp.StatusCode, b)
	}
	p := wantProblem(t, e.do("POST", path, tokAdmin, js, strings.NewReader(`{"reason":"superseded"}`)), 409, ProblemAlreadyRevoked)
	if !strings.Contains(p.Detail, "keyCompromise") {
		t.Fatalf("already revoked: %q should name the reason that stands", p.Detail)
	}
}

// TestOpenAPIDescribesLTV: the new levels and problem types are documented.
func TestOpenAPIDescribesLTV(t *testing.T) {
	for _, s := range []string{"`upstream-unavailable`", "`already-revoked`", "`not-signed`", "`unknown-issuer`", `"B-LTA"`, `"admin"`} {
		if !bytes.Contains(openAPI, []byte(s)) {
			t.Errorf("openapi.json lacks %s", s)
		}
	}
}
