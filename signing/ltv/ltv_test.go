package ltv

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/signing/pades"
	"github.com/motlan/motlan/signing/verify"
)

// checkValid checks every signature of data with pdfsig (trusting the dev CA) and
// verify.Verify, and returns the number of document timestamps.
func checkValid(t *testing.T, w *world, db string, data []byte, wantSigs int) {
	t.Helper()
	out, sigs := testpki.Pdfsig(t, db, data)
	if len(sigs) != wantSigs {
		t.Fatalf("pdfsig lists %d signatures, want %d:\n%s", len(sigs), wantSigs, out)
	}
	if s := sigs[0]; !s.Valid || !s.Trusted || !s.CAdES || s.CN != testpki.CitizenName {
		t.Fatalf("pdfsig: the citizen's signature valid=%v trusted=%v cades=%v cn=%q:\n%s", s.Valid, s.Trusted, s.CAdES, s.CN, out)
	}
	for i, s := range sigs[1:] {
		// poppler 22.12 (Debian 12) lists a document timestamp but cannot validate
		// ETSI.RFC3161; a later one must accept it. verify.Verify checks it below.
		if s.CN != "Motlan Dev CA Time-Stamping Authority" || (!s.Valid && !strings.Contains(out, "Unable to validate this type of signature")) {
			t.Fatalf("pdfsig: document timestamp %d:\n%s", i+1, out)
		}
	}
	if !sigs[len(sigs)-1].Total && len(sigs) > 1 {
		t.Fatalf("pdfsig: the last document timestamp does not cover the whole file:\n%s", out)
	}
	roots := x509.NewCertPool()
	roots.AddCert(w.ca.Root())
	rep, err := verify.Verify(context.Background(), bytes.NewReader(data), int64(len(data)), verify.Options{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != wantSigs {
		t.Fatalf("verify: %d signatures, want %d", len(rep.Signatures), wantSigs)
	}
	for i, s := range rep.Signatures {
		if s.Indication != verify.TotalPassed {
			t.Fatalf("verify: signature %d (%s) is %s/%s: %v", i, s.Type, s.Indication, s.SubIndication, s.Errors)
		}
		if wantType := map[bool]string{true: "signature", false: "document_timestamp"}[i == 0]; s.Type != wantType {
			t.Fatalf("verify: signature %d is a %s, want %s", i, s.Type, wantType)
		}
	}
}

// TestExtend takes B-B and B-T signatures to B-LT and B-LTA and renews a B-LTA file; each
// result keeps the input's bytes, holds a /DSS with OCSP responses for the signer (and the
// TSA), and passes pdfsig and verify.Verify.
func TestExtend(t *testing.T) {
	w := newWorld(t)
	db := testpki.NSSDB(t, w.ca.Root())
	e := w.extender(t)
	ctx := context.Background()
	c := w.newCitizen(t)
	base := testpki.MinimalPDF(2)
	signedBB := w.sign(t, c, base, pades.LevelBB)
	signedBT := w.sign(t, c, base, pades.LevelBT)

	for _, tc := range []struct {
		name      string
		in        []byte
		level     Level
		sigs      int // signatures and document timestamps after
		minOCSPs  int // signer, TSA(s); the responder is exempt (ocsp-nocheck)
		wantDSSTS bool
	}{
		{"B-B to B-LT", signedBB, LevelLT, 1, 1, false},
		{"B-T to B-LT", signedBT, LevelLT, 1, 2, false},
		{"B-T to B-LTA", signedBT, LevelLTA, 2, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := e.Extend(ctx, tc.in, tc.level)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(out, tc.in) || len(out) == len(tc.in) {
				t.Fatal("Extend must append an incremental update and keep the input's bytes")
			}
			certs, ocsps, crls := dssCounts(t, out)
			// citizen, issuing CA, root, delegated OCSP responder (+ TSA for B-T)
			if ocsps < tc.minOCSPs || certs < 4 || crls < 1 {
				t.Fatalf("DSS holds %d certificates, %d OCSP responses, %d CRLs", certs, ocsps, crls)
			}
			checkValid(t, w, db, out, tc.sigs)
			checkVRI(t, w, out, 1) // the signature; a document timestamp comes after the DSS
			t.Logf("%s: +%d bytes (%d certificates, %d OCSP responses, %d CRLs)", tc.name, len(out)-len(tc.in), certs, ocsps, crls)
		})
	}

	t.Run("B-LTA renewal", func(t *testing.T) {
		lta, err := e.Extend(ctx, signedBT, LevelLTA)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // fresh OCSP answers carry a later producedAt
		renewed, err := e.Extend(ctx, lta, LevelLTA)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(renewed, lta) {
			t.Fatal("renewal rewrote earlier bytes")
		}
		_, before, _ := dssCounts(t, lta)
		_, after, _ := dssCounts(t, renewed)
		// The first document timestamp's TSA certificate is covered too (same TSA here:
		// its OCSP answer is new because it is fresh).
		if after <= before {
			t.Fatalf("renewal: %d OCSP responses, before %d; want fresh ones added", after, before)
		}
		checkValid(t, w, db, renewed, 3)
		checkVRI(t, w, renewed, 2)
	})

	t.Run("revoked after signing", func(t *testing.T) {
		c2 := w.newCitizen(t)
		signed := w.sign(t, c2, base, pades.LevelBT)
		if err := w.ca.Revoke(ctx, c2.cert.SerialNumber, ca.ReasonKeyCompromise, time.Time{}); err != nil {
			t.Fatal(err)
		}
		// The evidence records the revocation; extending still works: it is the
		// validator's job to compare the revocation time with the signature's.
		out, err := e.Extend(ctx, signed, LevelLT)
		if err != nil {
			t.Fatal(err)
		}
		if _, ocsps, _ := dssCounts(t, out); ocsps < 2 {
			t.Fatalf("%d OCSP responses", ocsps)
		}
	})
}

// TestCollectSources: the signer's revocation comes from OCSP (POST), the issuing CA's
// from the root's CRL; a missing issuer is downloaded from the caIssuers URL.
func TestCollectSources(t *testing.T) {
	w := newWorld(t)
	c := w.newCitizen(t)
	signed := w.sign(t, c, testpki.MinimalPDF(1), pades.LevelBB)
	// No configured roots: the root comes from the issuing CA's caIssuers URL.
	e, err := New(Config{HTTPClient: w.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := e.Collect(context.Background(), signed)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, der := range ev.Certs {
		cert, _ := x509.ParseCertificate(der)
		subjects = append(subjects, cert.Subject.CommonName)
	}
	for _, want := range []*x509.Certificate{c.cert, w.ca.IssuingCA(), w.ca.Root()} {
		if !strings.Contains(strings.Join(subjects, "|"), want.Subject.CommonName) {
			t.Fatalf("certificates %q lack %q", subjects, want.Subject.CommonName)
		}
	}
	if len(ev.OCSPs) != 1 || len(ev.CRLs) != 1 {
		t.Fatalf("%d OCSP responses and %d CRLs, want 1 (signer) and 1 (root CRL for the issuing CA)", len(ev.OCSPs), len(ev.CRLs))
	}
	if w.ocspHits.Load() != 1 || w.crlHits.Load() != 1 {
		t.Fatalf("responder hit %d times, CRLs %d", w.ocspHits.Load(), w.crlHits.Load())
	}
}

// TestExtendErrors: bad input and unreachable or hostile responders give typed errors.
func TestExtendErrors(t *testing.T) {
	w := newWorld(t)
	c := w.newCitizen(t)
	signed := w.sign(t, c, testpki.MinimalPDF(1), pades.LevelBB)
	ctx := context.Background()

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	huge := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = rw.Write(bytes.Repeat([]byte{0x30}, 2<<20))
	}))
	t.Cleanup(huge.Close)
	redirectTo := func(target string) *http.Client {
		return &http.Client{Transport: rewrite{target}, Timeout: 5 * time.Second}
	}

	for _, tc := range []struct {
		name  string
		pdf   []byte
		level Level
		mod   func(*Config)
		want  error
	}{
		{"not a PDF", []byte("hello, not a PDF at all"), LevelLT, nil, ErrInvalidPDF},
		{"truncated", signed[:len(signed)/2], LevelLT, nil, ErrInvalidPDF},
		{"unsigned", testpki.MinimalPDF(1), LevelLT, nil, ErrNotSigned},
		{"unknown level", signed, Level("B-LTX"), nil, ErrUnknownLevel},
		{"LTA without TSA", signed, LevelLTA, func(c *Config) { c.Timestamp = nil }, ErrNoTimestamp},
		{"too large", signed, LevelLT, func(c *Config) { c.MaxInputSize = 100 }, ErrTooLarge},
		{"responder down", signed, LevelLT, func(c *Config) { c.HTTPClient = redirectTo(down.URL) }, ErrFetch},
		{"response too large", signed, LevelLT, func(c *Config) { c.HTTPClient = redirectTo(huge.URL); c.MaxResponse = 1 << 20 }, ErrFetch},
		{"damaged CMS", damageCMS(t, signed), LevelLT, nil, ErrBadSignature},
		// The dev CA here listens on loopback: the default transport refuses it.
		{"private address", signed, LevelLT, func(c *Config) { c.HTTPClient = nil }, ErrPrivateAddress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := w.extender(t, func(c *Config) {
				if tc.mod != nil {
					tc.mod(c)
				}
			})
			out, err := e.Extend(ctx, tc.pdf, tc.level)
			if !errors.Is(err, tc.want) || out != nil {
				t.Fatalf("Extend: %v (%d bytes), want %v", err, len(out), tc.want)
			}
			var fe *FetchError
			if (tc.want == ErrFetch || tc.want == ErrPrivateAddress) && (!errors.As(err, &fe) || fe.URL == "" || fe.Kind == "" || fe.Serial == "") {
				t.Fatalf("want a *FetchError naming the URL, got %#v", err)
			}
		})
	}
}

// rewrite sends every request to target instead (a responder that is down or hostile).
type rewrite struct{ target string }

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	u := *req.URL
	t, _ := http.NewRequest(req.Method, r.target, nil)
	u.Scheme, u.Host = t.URL.Scheme, t.URL.Host
	out := req.Clone(req.Context())
	out.URL = &u
	return http.DefaultTransport.RoundTrip(out)
}

// damageCMS overwrites the start of the signature's DER with a valid-hex garbage tag.
func damageCMS(t *testing.T, signed []byte) []byte {
	t.Helper()
	out := bytes.Clone(signed)
	i := bytes.Index(out, []byte("/Contents <"))
	if i < 0 {
		t.Fatal("no /Contents")
	}
	copy(out[i+len("/Contents <"):], "0405")
	return out
}
