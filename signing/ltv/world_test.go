package ltv

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/pdf"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/keys/tsa"
	"github.com/motlan/motlan/signing/pades"
)

// world is a dev CA (root, issuing CA, delegated OCSP responder, CRLs) and an RFC 3161
// TSA served over HTTP on loopback, as a deployment serves them.
type world struct {
	tb       testing.TB
	ca       *ca.DevCA
	srv      *httptest.Server
	tsaURL   string
	ocspHits atomic.Int32
	crlHits  atomic.Int32
}

func newWorld(tb testing.TB) *world {
	tb.Helper()
	ctx := context.Background()
	mk := make([]byte, keys.MasterKeySize)
	_, _ = rand.Read(mk)
	sealer, err := keys.NewSealer(mk)
	if err != nil {
		tb.Fatal(err)
	}
	w := &world{tb: tb}
	var caH, tsaH atomic.Value
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/tsa":
			tsaH.Load().(http.Handler).ServeHTTP(rw, r)
			return
		case r.URL.Path == "/ca/ocsp":
			w.ocspHits.Add(1)
		case r.URL.Path == "/ca/issuing.crl" || r.URL.Path == "/ca/root.crl":
			w.crlHits.Add(1)
		}
		caH.Load().(http.Handler).ServeHTTP(rw, r)
	}))
	tb.Cleanup(func() {
		w.srv.CloseClientConnections() // pdfsig may leave connections open
		w.srv.Close()
	})
	w.ca, err = ca.New(ctx, ca.Config{Storage: &ca.MemStorage{}, Sealer: sealer, BaseURL: w.srv.URL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	caH.Store(w.ca.Handler())
	id, err := w.ca.TimestampingIdentity(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	ts, err := tsa.New(tsa.Config{Signer: id.Signer, Certificate: id.Certificate, Chain: id.Chain, IncludeChain: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tsaH.Store(http.Handler(ts))
	w.tsaURL = w.srv.URL + "/tsa"
	return w
}

// timestamp asks the TSA over HTTP.
func (w *world) timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	return tsa.Request(ctx, w.srv.Client(), w.tsaURL, digest, h)
}

// extender trusts the dev CA's root and stamps with its TSA.
func (w *world) extender(tb testing.TB, mods ...func(*Config)) *Extender {
	tb.Helper()
	cfg := Config{Roots: []*x509.Certificate{w.ca.Root()}, Timestamp: w.timestamp, HTTPClient: w.srv.Client()}
	for _, m := range mods {
		m(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// citizen is a key certified by the dev CA.
type citizen struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	// chain is the issuing CA only: signers commonly leave the root out of the CMS.
	chain []*x509.Certificate
}

func (w *world) newCitizen(tb testing.TB) citizen {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _, err := w.ca.IssueCitizenCert(context.Background(), ca.CitizenCertRequest{PublicKey: key.Public(), FullName: testpki.CitizenName, CCCD: "038092004567", Province: "Thanh Hóa"})
	if err != nil {
		tb.Fatal(err)
	}
	return citizen{key: key, cert: cert, chain: []*x509.Certificate{w.ca.IssuingCA()}}
}

// sign signs in at level (B-B or B-T).
func (w *world) sign(tb testing.TB, c citizen, in []byte, level pades.Level) []byte {
	tb.Helper()
	opt := pades.Options{Certificate: c.cert, Chain: c.chain, Reason: "Đăng ký khai sinh", Location: "Thanh Hóa", Level: level, Time: time.Now()}
	if level == pades.LevelBT {
		opt.Timestamp = w.timestamp
	}
	var out bytes.Buffer
	if err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, pades.FromCryptoSigner(c.key), opt); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// dssCounts reads the catalog's /DSS and counts its certificates, OCSP responses and CRLs.
func dssCounts(tb testing.TB, data []byte) (certs, ocsps, crls int) {
	tb.Helper()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatalf("reading the extended PDF: %v", err)
	}
	dss := r.Trailer().Key("Root").Key("DSS")
	if dss.Kind() != pdf.Dict {
		return 0, 0, 0
	}
	return dss.Key("Certs").Len(), dss.Key("OCSPs").Len(), dss.Key("CRLs").Len()
}
