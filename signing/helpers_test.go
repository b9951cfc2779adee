package signing_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/keys/tsa"
	"github.com/motlan/motlan/keys/vault"
	"github.com/motlan/motlan/signing"
	"github.com/motlan/motlan/signing/signingtest"
)

const (
	citizenID   = "cit-hao"
	citizenName = "Lê Công Hảo"
	clientID    = "portal"
	subject     = "pairwise-sub-hao"
)

// subjectFor is the citizen's pairwise subject at each client.
func subjectFor(c string) string {
	if c == clientID {
		return subject
	}
	return "other-" + c
}

// world is everything a Service needs, built for real in the test: SQLite store, the
// software vault on it, the dev CA, the TSA over HTTP.
type world struct {
	t       *testing.T
	store   *sqlstore.Store
	clock   *signingtest.Clock
	vault   *countingVault
	ca      *countingCA
	devCA   *ca.DevCA
	tsaURL  string
	font    []byte
	hook    *callbackSink
	secret  []byte
	service *signing.Service
}

func newWorld(t *testing.T) *world {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "motlan.db")
	return newWorldOn(t, sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: dsn})
}

// newWorldOn is newWorld on the store sc opens (its Now is the world's clock).
func newWorldOn(t *testing.T, sc sqlstore.Config) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, clock: signingtest.NewClock(time.Now().UTC().Truncate(time.Millisecond)), secret: []byte("callback secret")}
	var err error
	sc.Now = w.clock.Now
	w.store, err = sqlstore.Open(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.store.Close() })
	mk := make([]byte, keys.MasterKeySize)
	rand.Read(mk)
	sealer, err := keys.NewSealer(mk)
	if err != nil {
		t.Fatal(err)
	}
	soft, err := vault.NewSoftware(vault.SoftwareConfig{Store: w.store, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	w.vault = &countingVault{Vault: soft}
	// The CA's certificates point at its OCSP responder and CRLs on this server, so
	// pdfsig's online revocation check reaches the real dev CA.
	var caHandler atomic.Pointer[http.Handler]
	caSrv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if h := caHandler.Load(); h != nil {
			(*h).ServeHTTP(rw, r)
			return
		}
		http.Error(rw, "starting", http.StatusServiceUnavailable)
	}))
	t.Cleanup(caSrv.Close)
	w.devCA, err = ca.New(ctx, ca.Config{Storage: &ca.MemStorage{}, Sealer: sealer, BaseURL: caSrv.URL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h := w.devCA.Handler()
	caHandler.Store(&h)
	w.ca = &countingCA{CertIssuer: w.devCA}
	id, err := w.devCA.TimestampingIdentity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := tsa.New(tsa.Config{Signer: id.Signer, Certificate: id.Certificate, Chain: id.Chain, IncludeChain: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	w.tsaURL = srv.URL
	w.hook = newCallbackSink(t, w.secret)
	for _, p := range []string{"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"} {
		if b, err := os.ReadFile(p); err == nil {
			w.font = b
			break
		}
	}
	w.service = w.newService(w.vault)
	return w
}

// newService is one replica (or one process life) over the world's store.
func (w *world) newService(v vault.Vault) *signing.Service {
	w.t.Helper()
	return w.newServiceWith(v, nil)
}

// newServiceWith is newService with its config changed by mod (another store, a
// Notifier).
func (w *world) newServiceWith(v vault.Vault, mod func(*signing.ServiceConfig)) *signing.Service {
	w.t.Helper()
	cfg := signing.ServiceConfig{
		Store: w.store, Vault: v, CA: w.ca, Citizens: citizens{},
		Timestamp: func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
			return tsa.Request(ctx, nil, w.tsaURL, digest, h)
		},
		Font:            w.font,
		CallbackSecret:  func(string) []byte { return w.secret },
		CallbackBackoff: 10 * time.Millisecond,
		Now:             w.clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := signing.NewService(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { s.Close() })
	return s
}

type citizens struct{}

func (citizens) Citizen(_ context.Context, id string) (signing.CitizenInfo, error) {
	if id != citizenID {
		return signing.CitizenInfo{}, errors.New("no such citizen")
	}
	return signing.CitizenInfo{ID: id, Name: citizenName, CCCD: "038092004567", Province: "Thanh Hóa", Locality: "Sầm Sơn"}, nil
}

// countingVault counts Sign calls; failOn makes the call with that number (1-based) fail.
type countingVault struct {
	vault.Vault
	calls  atomic.Int32
	failOn int32
}

func (v *countingVault) Sign(ctx context.Context, label string, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	n := v.calls.Add(1)
	if n == v.failOn {
		return nil, errors.New("vault: simulated crash")
	}
	return v.Vault.Sign(ctx, label, digest, opts)
}

type countingCA struct {
	signing.CertIssuer
	issued atomic.Int32
}

func (c *countingCA) IssueCitizenCert(ctx context.Context, req ca.CitizenCertRequest) (*x509.Certificate, []*x509.Certificate, error) {
	c.issued.Add(1)
	return c.CertIssuer.IssueCitizenCert(ctx, req)
}

func (c *countingCA) Revoked(ctx context.Context, serial *big.Int) (*ca.Revocation, error) {
	return c.CertIssuer.Revoked(ctx, serial)
}

// callbackSink is a portal's callback endpoint that checks the HMAC.
type callbackSink struct {
	url    string
	mu     sync.Mutex
	events []string
	bad    int
	got    chan struct{}
}

func newCallbackSink(t *testing.T, secret []byte) *callbackSink {
	c := &callbackSink{got: make(chan struct{}, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		if r.Header.Get(signing.CallbackSignatureHeader) != signing.CallbackSignature(secret, body) {
			c.bad++
		}
		c.events = append(c.events, string(body))
		c.mu.Unlock()
		c.got <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL + "/cb"
	return c
}

func (c *callbackSink) wait(t *testing.T) string {
	t.Helper()
	select {
	case <-c.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no callback")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bad > 0 {
		t.Fatal("callback with a bad signature")
	}
	return c.events[len(c.events)-1]
}

// minimalPDF is testpki's minimal PDF with the line "Ho so so <n>" on page n.
func minimalPDF(pages int) []byte { return testpki.MinimalPDFText(pages, "Ho so so %d") }
