package csc_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/csc"
	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/internal/testrssp"
	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/signing"
)

const (
	citizenID = "cit-hao"
	cccd      = "038092004567" // testpki.CitizenUID
	clientID  = "portal"
	subject   = "pairwise-hao"
	pin       = "135790"
)

type citizens struct{ cccd string }

func (c citizens) Citizen(_ context.Context, id string) (signing.CitizenInfo, error) {
	if id != citizenID {
		return signing.CitizenInfo{}, errors.New("no such citizen")
	}
	return signing.CitizenInfo{ID: id, Name: testpki.CitizenName, CCCD: c.cccd, Province: "Thanh Hóa"}, nil
}

// world is the signing service on a real SQLite store, signing through the test RSSP over
// loopback with a real OAuth client_credentials token.
type world struct {
	t       testing.TB
	ca      *testpki.CA
	rssp    *testrssp.RSSP
	store   *sqlstore.Store
	service *signing.Service
}

type option func(*csc.Config, *citizens, *signing.ServiceConfig)

func newWorld(t testing.TB, mode string, opts ...option) *world {
	t.Helper()
	w := &world{t: t, ca: testpki.NewCA(t), rssp: testrssp.New(t)}
	cert, key := w.ca.Citizen(t, "ecdsa")
	w.rssp.Add("cred-hao", &testrssp.Cred{UserID: cccd, Key: key, Chain: []*x509.Certificate{cert, w.ca.Root}, Mode: mode, PIN: pin})
	other, okey := w.ca.CitizenNamed(t, "rsa", "Nguyễn Văn An", "CCCD:001203000111")
	w.rssp.Add("cred-an", &testrssp.Cred{UserID: "001203000111", Key: okey, Chain: []*x509.Certificate{other, w.ca.Root}, Mode: "implicit"})
	var err error
	w.store, err = sqlstore.Open(t.Context(), sqlstore.Config{Driver: sqlstore.DriverSQLite, DSN: filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.store.Close() })
	cfg := csc.Config{BaseURL: w.rssp.BaseURL(), TokenURL: w.rssp.TokenURL(), ClientID: testrssp.ClientID, ClientSecret: testrssp.ClientSecret,
		UserID: "{cccd}", Timeout: 2 * time.Second}
	cit := citizens{cccd: cccd}
	sc := signing.ServiceConfig{Store: w.store, Timestamp: w.ca.Timestamper(nil), Sealer: newSealer(t)}
	for _, o := range opts {
		o(&cfg, &cit, &sc)
	}
	backend, err := csc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc.Citizens, sc.Backend = cit, backend
	w.service, err = signing.NewService(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.service.Close() })
	return w
}

func newSealer(t testing.TB) *keys.Sealer {
	mk := make([]byte, keys.MasterKeySize)
	rand.Read(mk)
	s, err := keys.NewSealer(mk)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (w *world) create(docs int) signing.Request {
	w.t.Helper()
	in := signing.CreateInput{ClientID: clientID, Subject: subject, Reason: "Đăng ký khai sinh", Location: "Thanh Hóa", Level: signing.LevelBT}
	for i := range docs {
		in.Documents = append(in.Documents, signing.DocumentInput{Title: fmt.Sprintf("Tờ khai %d", i+1), PDF: testpki.MinimalPDF(i + 1)})
	}
	r, err := w.service.Create(w.t.Context(), in)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

func subjectFor(c string) string {
	if c == clientID {
		return subject
	}
	return ""
}

func hashesOf(r signing.Request) []string {
	var out []string
	for _, d := range r.Documents {
		out = append(out, d.SHA256)
	}
	return out
}

func (w *world) approve(r signing.Request, act signing.Activation) signing.Request {
	w.t.Helper()
	out, err := w.service.ApproveWith(w.t.Context(), r.ID, citizenID, subjectFor, hashesOf(r), act)
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// A dossier of three documents: one authorisation, one signHash with three hashes, the
// PIN carried as authData, and three B-T signatures pdfsig accepts.
func TestDossierOneSignHash(t *testing.T) {
	for _, mode := range []string{"implicit", "PIN"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t, mode)
			r := w.create(3)
			act, err := w.service.ActivationFor(t.Context(), citizenID)
			if want := map[string]signing.ActivationMode{"implicit": signing.ActivationNone, "PIN": signing.ActivationPIN}[mode]; err != nil || act != want {
				t.Fatalf("ActivationFor: %q %v, want %q", act, err, want)
			}
			before := w.rssp.Calls()
			done := w.approve(r, signing.Activation{PIN: pin})
			if done.Status != signing.StatusSigned {
				t.Fatalf("status %s (%s)", done.Status, done.Failure)
			}
			after := w.rssp.Calls()
			if a, s := after["credentials/authorize"]-before["credentials/authorize"], after["signatures/signHash"]-before["signatures/signHash"]; a != 1 || s != 1 {
				t.Fatalf("authorize %d, signHash %d calls, want 1 and 1", a, s)
			}
			if h := w.rssp.Hashes(); len(h) != 1 || len(h[0]) != 3 {
				t.Fatalf("signHash calls carried %v, want one with 3 hashes", h)
			}
			db := w.ca.NSSDB(t)
			for i := range 3 {
				pdf, err := w.service.SignedPDF(t.Context(), clientID, r.ID, i)
				if err != nil {
					t.Fatal(err)
				}
				out, sigs := testpki.Pdfsig(t, db, pdf)
				if len(sigs) != 1 || !sigs[0].Valid || !sigs[0].Trusted || !strings.Contains(out, "ETSI.CAdES.detached") || !strings.Contains(out, testpki.CitizenName) {
					t.Fatalf("document %d: %+v\n%s", i, sigs, out)
				}
			}
		})
	}
}

// An OTP credential: the page asks the provider to send the code (getChallenge), the
// citizen types it, it goes as authData.
func TestOTPChallenge(t *testing.T) {
	w := newWorld(t, "OTP")
	r := w.create(2)
	if act, err := w.service.ActivationFor(t.Context(), citizenID); err != nil || act != signing.ActivationOTP {
		t.Fatalf("ActivationFor: %q %v", act, err)
	}
	if err := w.service.Challenge(t.Context(), citizenID); err != nil {
		t.Fatal(err)
	}
	if n := w.rssp.Count("credentials/getChallenge"); n != 1 {
		t.Fatalf("getChallenge calls %d", n)
	}
	if done := w.approve(r, signing.Activation{OTP: testrssp.SentOTP}); done.Status != signing.StatusSigned {
		t.Fatalf("status %s (%s)", done.Status, done.Failure)
	}
}

// Every failure leaves the request failed with its code and nothing stored.
func TestFailures(t *testing.T) {
	tests := []struct {
		name, mode, fault string
		act               signing.Activation
		opt               option
		want              string
	}{
		{name: "down", mode: "implicit", opt: func(c *csc.Config, _ *citizens, _ *signing.ServiceConfig) {
			c.BaseURL = "http://127.0.0.1:1/csc/v2"
			c.TokenURL = ""
		}, want: signing.FailureUnavailable},
		{name: "5xx", mode: "implicit", fault: "down5xx", want: signing.FailureUnavailable},
		{name: "slow", mode: "implicit", fault: "slow", opt: func(c *csc.Config, _ *citizens, _ *signing.ServiceConfig) { c.Timeout = 300 * time.Millisecond }, want: signing.FailureTimeout},
		{name: "sad expired", mode: "implicit", fault: "sad_expired", want: signing.FailureSADExpired},
		{name: "suspended", mode: "implicit", fault: "suspended", want: signing.FailureSuspended},
		{name: "revoked", mode: "implicit", fault: "revoked", want: signing.FailureRevoked},
		{name: "bad signature", mode: "implicit", fault: "bad_signature", want: signing.FailureBadSignature},
		{name: "no credential", mode: "implicit", opt: func(_ *csc.Config, c *citizens, _ *signing.ServiceConfig) { c.cccd = "038092009999" }, want: signing.FailureNoCredential},
		{name: "userID of someone else", mode: "implicit", opt: func(c *csc.Config, _ *citizens, _ *signing.ServiceConfig) { c.UserID = "001203000111" }, want: signing.FailureNoCredential},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []option
			if tc.opt != nil {
				opts = append(opts, tc.opt)
			}
			w := newWorld(t, tc.mode, opts...)
			w.rssp.SetDelay(time.Second)
			r := w.create(2)
			w.rssp.Fail(tc.fault)
			got, err := w.service.ApproveWith(t.Context(), r.ID, citizenID, subjectFor, hashesOf(r), tc.act)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != signing.StatusFailed || got.Failure != tc.want {
				t.Fatalf("status %s, failure %q; want failed, %q", got.Status, got.Failure, tc.want)
			}
			for i := range 2 {
				if _, err := w.store.SignedPDF(t.Context(), r.ID, i); !errors.Is(err, signing.ErrNotFound) {
					t.Fatalf("document %d stored after a failure: %v", i, err)
				}
			}
			if _, err := w.service.SignedPDF(t.Context(), clientID, r.ID, 0); !errors.Is(err, signing.ErrNotSigned) {
				t.Fatalf("served a PDF of a failed request: %v", err)
			}
		})
	}
}

// The service token comes from the provider's token endpoint once, not per dossier.
func TestServiceTokenReused(t *testing.T) {
	w := newWorld(t, "implicit")
	for range 2 {
		if done := w.approve(w.create(1), signing.Activation{}); done.Status != signing.StatusSigned {
			t.Fatalf("status %s (%s)", done.Status, done.Failure)
		}
	}
	if n := w.rssp.Calls()["/oauth2/token"]; n > 1 {
		t.Fatalf("%d token requests for two dossiers", n)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []csc.Config{{BaseURL: "ftp://x"}, {BaseURL: ""}, {BaseURL: "https://rssp.example/csc/v2", TokenURL: "https://rssp.example/token"}} {
		if _, err := csc.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
