package tsa_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testenv"
	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/keys/tsa"
)

type fixture struct {
	ca  *ca.DevCA
	id  *ca.Identity
	tsa *tsa.Server
	srv *httptest.Server
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

// newFixture builds one dev CA and TSA per test binary (the fuzzer calls it often).
func newFixture(t testing.TB) *fixture {
	t.Helper()
	fixOnce.Do(func() {
		mk := make([]byte, keys.MasterKeySize)
		rand.Read(mk)
		sealer, err := keys.NewSealer(mk)
		if err != nil {
			fixErr = err
			return
		}
		ctx := context.Background()
		c, err := ca.New(ctx, ca.Config{Storage: &ca.MemStorage{}, Sealer: sealer, BaseURL: "https://motlan.test"})
		if err != nil {
			fixErr = err
			return
		}
		id, err := c.TimestampingIdentity(ctx)
		if err != nil {
			fixErr = err
			return
		}
		s, err := tsa.New(tsa.Config{Signer: id.Signer, Certificate: id.Certificate, Chain: id.Chain})
		if err != nil {
			fixErr = err
			return
		}
		fix = &fixture{ca: c, id: id, tsa: s, srv: httptest.NewServer(s)}
	})
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fix != nil {
		fix.srv.Close()
	}
	os.Exit(code)
}

func (f *fixture) roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(f.ca.Root())
	return p
}

func TestRequestAndVerify(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		hash crypto.Hash
	}{{"sha256", crypto.SHA256}, {"sha384", crypto.SHA384}, {"sha512", crypto.SHA512}} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.hash.New()
			h.Write([]byte("hồ sơ khai sinh"))
			digest := h.Sum(nil)
			before := time.Now().Truncate(time.Second)
			der, err := tsa.Request(context.Background(), f.srv.Client(), f.srv.URL, digest, tc.hash)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := tsa.ParseToken(der)
			if err != nil {
				t.Fatal(err)
			}
			if tok.HashAlgorithm != tc.hash || !bytes.Equal(tok.HashedMessage, digest) {
				t.Error("imprint")
			}
			if !tok.Policy.Equal(tsa.DevPolicy) || tok.Accuracy != time.Second || tok.Nonce == nil || tok.SerialNumber.Sign() <= 0 {
				t.Errorf("policy %v accuracy %v nonce %v serial %v", tok.Policy, tok.Accuracy, tok.Nonce, tok.SerialNumber)
			}
			if tok.GenTime.Before(before) || tok.GenTime.After(time.Now()) {
				t.Errorf("genTime %v", tok.GenTime)
			}
			if len(tok.Certificates) != 1 || !tok.Certificates[0].Equal(f.id.Certificate) {
				t.Errorf("certificates %d", len(tok.Certificates))
			}
			inter := x509.NewCertPool()
			inter.AddCert(f.ca.IssuingCA())
			signer, err := tok.Verify(x509.VerifyOptions{Roots: f.roots(), Intermediates: inter})
			if err != nil {
				t.Fatal(err)
			}
			if !signer.Equal(f.id.Certificate) {
				t.Error("signer")
			}
			// Without the issuing CA the chain does not build.
			if _, err := tok.Verify(x509.VerifyOptions{Roots: f.roots()}); !errors.Is(err, tsa.ErrVerify) {
				t.Errorf("verify without intermediate: %v", err)
			}
		})
	}
}

func TestTamperedTokenFails(t *testing.T) {
	f := newFixture(t)
	d := sha256.Sum256([]byte("x"))
	der, err := tsa.Request(context.Background(), nil, f.srv.URL, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	inter := x509.NewCertPool()
	inter.AddCert(f.ca.IssuingCA())
	// Flip each byte of the digest inside the TSTInfo: parse may succeed, verify must not.
	i := bytes.Index(der, d[:])
	if i < 0 {
		t.Fatal("imprint not found")
	}
	bad := bytes.Clone(der)
	bad[i] ^= 1
	tok, err := tsa.ParseToken(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Verify(x509.VerifyOptions{Roots: f.roots(), Intermediates: inter}); !errors.Is(err, tsa.ErrVerify) {
		t.Fatalf("tampered token verified: %v", err)
	}
}

// query builds a TimeStampReq, with knobs to break it.
type query struct {
	Version        int
	MessageImprint messageImprint
	ReqPolicy      asn1.ObjectIdentifier `asn1:"optional"`
	Nonce          *big.Int              `asn1:"optional"`
	CertReq        bool                  `asn1:"optional"`
	Extensions     []pkix.Extension      `asn1:"optional,tag:0"`
}

type messageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

var (
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidMD5    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
)

func goodQuery() query {
	d := sha256.Sum256([]byte("a"))
	return query{Version: 1, MessageImprint: messageImprint{pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}, d[:]}, Nonce: big.NewInt(42), CertReq: true}
}

func mustDER(t testing.TB, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(t testing.TB, url, ct string, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestRejections(t *testing.T) {
	f := newFixture(t)
	edit := func(fn func(*query)) []byte {
		q := goodQuery()
		fn(&q)
		return mustDER(t, q)
	}
	sha1 := sha512.Sum512([]byte("a"))
	tests := []struct {
		name string
		body []byte
		fail int
	}{
		{"empty", nil, tsa.FailBadDataFormat},
		{"garbage", []byte("not asn.1"), tsa.FailBadDataFormat},
		{"trailing data", append(mustDER(t, goodQuery()), 0), tsa.FailBadDataFormat},
		{"version 2", edit(func(q *query) { q.Version = 2 }), tsa.FailBadDataFormat},
		{"md5", edit(func(q *query) { q.MessageImprint.HashAlgorithm.Algorithm = oidMD5 }), tsa.FailBadAlg},
		{"sha1", edit(func(q *query) {
			q.MessageImprint = messageImprint{pkix.AlgorithmIdentifier{Algorithm: oidSHA1}, sha1[:20]}
		}), tsa.FailBadAlg},
		{"short digest", edit(func(q *query) { q.MessageImprint.HashedMessage = []byte{1, 2, 3} }), tsa.FailBadDataFormat},
		{"other policy", edit(func(q *query) { q.ReqPolicy = asn1.ObjectIdentifier{1, 2, 3} }), tsa.FailUnacceptedPolicy},
		{"extension", edit(func(q *query) {
			q.Extensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}}
		}), tsa.FailUnacceptedExtension},
		{"huge nonce", edit(func(q *query) { q.Nonce = new(big.Int).Lsh(big.NewInt(1), 8*40) }), tsa.FailBadRequest},
		{"too large", bytes.Repeat([]byte{0x30}, 64<<10), tsa.FailBadDataFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, f.srv.URL, tsa.ContentTypeQuery, tc.body)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tsa.ContentTypeReply {
				t.Fatalf("HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			_, err := tsa.ParseReply(body)
			var se *tsa.StatusError
			if !errors.As(err, &se) || se.Status != tsa.StatusRejection || se.FailInfo != tc.fail {
				t.Fatalf("err = %v, want rejection with failInfo %d", err, tc.fail)
			}
		})
	}
	// The policy the TSA uses is accepted when asked for; no nonce, no certReq: no certs.
	q := goodQuery()
	q.ReqPolicy, q.Nonce, q.CertReq = tsa.DevPolicy, nil, false
	_, body := post(t, f.srv.URL, tsa.ContentTypeQuery, mustDER(t, q))
	der, err := tsa.ParseReply(body)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tsa.ParseToken(der)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Nonce != nil || len(tok.Certificates) != 0 {
		t.Errorf("nonce %v, %d certificates", tok.Nonce, len(tok.Certificates))
	}
	if _, err := tok.Verify(x509.VerifyOptions{Roots: f.roots()}, f.id.Certificate, f.ca.IssuingCA()); err != nil {
		t.Fatalf("verify with supplied certificates: %v", err)
	}

	resp, err := http.Get(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: HTTP %d", resp.StatusCode)
	}
	if resp, _ := post(t, f.srv.URL, "text/plain", mustDER(t, goodQuery())); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: HTTP %d", resp.StatusCode)
	}
}

func TestNewChecksCertificate(t *testing.T) {
	f := newFixture(t)
	// The issuing CA's certificate has no timeStamping EKU.
	if _, err := tsa.New(tsa.Config{Signer: f.id.Signer, Certificate: f.ca.IssuingCA()}); err == nil {
		t.Fatal("accepted a key that does not match the certificate")
	}
	if _, err := tsa.New(tsa.Config{Signer: f.id.Signer}); err == nil {
		t.Fatal("accepted no certificate")
	}
}

func TestRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	d := sha256.Sum256(nil)
	start := time.Now()
	_, err := tsa.Request(ctx, nil, slow.URL, d[:], crypto.SHA256)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("timeout not honoured")
	}
	// A reply that is not a time-stamp reply.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }))
	defer bad.Close()
	if _, err := tsa.Request(context.Background(), nil, bad.URL, d[:], crypto.SHA256); !errors.Is(err, tsa.ErrBadReply) {
		t.Fatalf("err = %v, want ErrBadReply", err)
	}
	if _, err := tsa.Request(context.Background(), nil, bad.URL, d[:4], crypto.SHA256); err == nil {
		t.Fatal("accepted a short digest")
	}
}

func TestConcurrentRequests(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	serials := make([]string, 16)
	for i := range serials {
		wg.Go(func() {
			d := sha256.Sum256([]byte{byte(i)})
			der, err := tsa.Request(context.Background(), nil, f.srv.URL, d[:], crypto.SHA256)
			if err != nil {
				t.Error(err)
				return
			}
			tok, err := tsa.ParseToken(der)
			if err != nil {
				t.Error(err)
				return
			}
			serials[i] = tok.SerialNumber.String()
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, s := range serials {
		if seen[s] {
			t.Fatal("duplicate serial number")
		}
		seen[s] = true
	}
}

// --- openssl cross-checks ---

func TestOpenSSLTimestamp(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		testenv.Missing(t, "openssl CLI (Debian package openssl)")
	}
	f := newFixture(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "dossier.pdf")
	os.WriteFile(data, []byte("%PDF-1.7 hồ sơ Nguyễn Văn Lĩnh"), 0o600)
	root := testpki.WritePEM(t, filepath.Join(dir, "root.pem"), f.ca.Root())
	chain := testpki.WritePEM(t, filepath.Join(dir, "chain.pem"), f.ca.IssuingCA(), f.id.Certificate)

	t.Run("openssl query", func(t *testing.T) {
		tsq := filepath.Join(dir, "q.tsq")
		testpki.Run(t, openssl, "ts", "-query", "-data", data, "-sha256", "-cert", "-out", tsq)
		q, _ := os.ReadFile(tsq)
		resp, body := post(t, f.srv.URL, tsa.ContentTypeQuery, q)
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
		tsr := filepath.Join(dir, "r.tsr")
		os.WriteFile(tsr, body, 0o600)
		out := testpki.Run(t, openssl, "ts", "-verify", "-queryfile", tsq, "-in", tsr, "-CAfile", root, "-untrusted", chain)
		if !strings.Contains(out, "Verification: OK") {
			t.Fatalf("openssl ts -verify:\n%s", out)
		}
		text := testpki.Run(t, openssl, "ts", "-reply", "-in", tsr, "-text")
		for _, want := range []string{"Status: Granted", "Accuracy: 0x01 seconds", "Nonce: 0x", "TSA: DirName:"} {
			if !strings.Contains(text, want) {
				t.Errorf("reply text lacks %q:\n%s", want, text)
			}
		}
	})
	t.Run("Request token with -data", func(t *testing.T) {
		b, _ := os.ReadFile(data)
		d := sha256.Sum256(b)
		der, err := tsa.Request(context.Background(), nil, f.srv.URL, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		tok := filepath.Join(dir, "token.der")
		os.WriteFile(tok, der, 0o600)
		out := testpki.Run(t, openssl, "ts", "-verify", "-data", data, "-in", tok, "-token_in", "-CAfile", root, "-untrusted", chain)
		if !strings.Contains(out, "Verification: OK") {
			t.Fatalf("openssl ts -verify:\n%s", out)
		}
		// Another document must not verify against it.
		other := filepath.Join(dir, "other.pdf")
		os.WriteFile(other, []byte("other"), 0o600)
		if out, err := exec.Command(openssl, "ts", "-verify", "-data", other, "-in", tok, "-token_in", "-CAfile", root, "-untrusted", chain).CombinedOutput(); err == nil {
			t.Fatalf("token verified for another document:\n%s", out)
		}
	})
	t.Run("rejection", func(t *testing.T) {
		_, body := post(t, f.srv.URL, tsa.ContentTypeQuery, []byte("junk"))
		tsr := filepath.Join(dir, "rej.tsr")
		os.WriteFile(tsr, body, 0o600)
		text := testpki.Run(t, openssl, "ts", "-reply", "-in", tsr, "-text")
		if !strings.Contains(text, "Status: Rejected") || !strings.Contains(text, "wrong format") {
			t.Errorf("rejection:\n%s", text)
		}
	})
}
