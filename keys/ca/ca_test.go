package ca_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/keys/ca"
)

var _ ca.Sealer = (*keys.Sealer)(nil)

func newSealer(t testing.TB) *keys.Sealer {
	t.Helper()
	mk := make([]byte, keys.MasterKeySize)
	rand.Read(mk)
	s, err := keys.NewSealer(mk)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newCA(t testing.TB, st ca.Storage, sealer ca.Sealer, now func() time.Time) *ca.DevCA {
	t.Helper()
	c, err := ca.New(context.Background(), ca.Config{Storage: st, Sealer: sealer, BaseURL: "https://motlan.test/", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type atv struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// rawSubject decodes a Name keeping each value's tag and bytes.
func rawSubject(t *testing.T, der []byte) [][]atv {
	t.Helper()
	var seq []asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) > 0 {
		t.Fatalf("subject: %v", err)
	}
	var out [][]atv
	for _, rdn := range seq {
		var set []atv
		if _, err := asn1.UnmarshalWithParams(rdn.FullBytes, &set, "set"); err != nil {
			t.Fatalf("rdn: %v", err)
		}
		out = append(out, set)
	}
	return out
}

// TestIssueCitizenCert: subject C=VN, CN, UID=CCCD:<n>, plus ST and L only when the CA
// is configured with SubjectAddress.
func TestIssueCitizenCert(t *testing.T) {
	plain := newCA(t, &ca.MemStorage{}, newSealer(t), nil)
	withAddress, err := ca.New(context.Background(), ca.Config{Storage: &ca.MemStorage{}, Sealer: newSealer(t), BaseURL: "https://motlan.test/", SubjectAddress: true})
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		pub      crypto.PublicKey
		fullName string
		province string
		locality string
	}{
		{"diacritics", ecKey(t).Public(), "Nguyễn Văn Lĩnh", "Thanh Hóa", "Phường Điện Biên"},
		{"capital I tilde", ecKey(t).Public(), "Ĩ", "Thanh Hóa", ""},
		{"ascii still UTF8String", ecKey(t).Public(), "Le Cong Hao", "Ha Noi", "Ba Dinh"},
		{"rsa key", rsaKey.Public(), "Lê Công Hảo", "Thanh Hóa", "Sầm Sơn"},
	}
	for _, address := range []bool{false, true} {
		c := map[bool]*ca.DevCA{false: plain, true: withAddress}[address]
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/address=%v", tc.name, address), func(t *testing.T) {
				cert, chain, err := c.IssueCitizenCert(context.Background(), ca.CitizenCertRequest{
					PublicKey: tc.pub, FullName: tc.fullName, CCCD: "038090001234", Province: tc.province, Locality: tc.locality,
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(chain) != 2 || !chain[1].Equal(c.Root()) || !chain[0].Equal(c.IssuingCA()) {
					t.Fatalf("chain is not [issuing, root]")
				}
				roots, inter := x509.NewCertPool(), x509.NewCertPool()
				roots.AddCert(c.Root())
				inter.AddCert(chain[0])
				if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				// Subject: C (PrintableString), ST, L, CN, UID (UTF8String), one attribute per RDN.
				type want struct {
					oid asn1.ObjectIdentifier
					tag int
					val string
				}
				wants := []want{{asn1.ObjectIdentifier{2, 5, 4, 6}, asn1.TagPrintableString, "VN"}}
				if address {
					wants = append(wants, want{asn1.ObjectIdentifier{2, 5, 4, 8}, asn1.TagUTF8String, tc.province})
				}
				if address && tc.locality != "" {
					wants = append(wants, want{asn1.ObjectIdentifier{2, 5, 4, 7}, asn1.TagUTF8String, tc.locality})
				}
				wants = append(wants,
					want{asn1.ObjectIdentifier{2, 5, 4, 3}, asn1.TagUTF8String, tc.fullName},
					want{ca.OIDUserID, asn1.TagUTF8String, "CCCD:038090001234"})
				got := rawSubject(t, cert.RawSubject)
				if len(got) != len(wants) {
					t.Fatalf("subject has %d RDNs, want %d", len(got), len(wants))
				}
				for i, w := range wants {
					if len(got[i]) != 1 {
						t.Fatalf("RDN %d has %d attributes", i, len(got[i]))
					}
					a := got[i][0]
					if !a.Type.Equal(w.oid) || a.Value.Tag != w.tag || !bytes.Equal(a.Value.Bytes, []byte(w.val)) {
						t.Errorf("RDN %d = %v tag %d %q, want %v tag %d %q", i, a.Type, a.Value.Tag, a.Value.Bytes, w.oid, w.tag, w.val)
					}
				}
				if cert.Subject.CommonName != tc.fullName {
					t.Errorf("CommonName = %q", cert.Subject.CommonName)
				}
				if cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
					t.Errorf("KeyUsage = %b", cert.KeyUsage)
				}
				for _, e := range cert.Extensions {
					if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 15}) && !e.Critical {
						t.Error("key usage not critical")
					}
				}
				if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageEmailProtection || len(cert.UnknownExtKeyUsage) != 2 ||
					!cert.UnknownExtKeyUsage[0].Equal(ca.OIDDocumentSigning) || !cert.UnknownExtKeyUsage[1].Equal(ca.OIDDocumentSigningMS) {
					t.Errorf("EKU = %v %v", cert.ExtKeyUsage, cert.UnknownExtKeyUsage)
				}
				if cert.IsCA || !cert.BasicConstraintsValid {
					t.Error("basic constraints")
				}
				if got := cert.IssuingCertificateURL; len(got) != 1 || got[0] != "https://motlan.test/ca/issuing.crt" {
					t.Errorf("caIssuers = %v", got)
				}
				if got := cert.OCSPServer; len(got) != 1 || got[0] != "https://motlan.test/ca/ocsp" {
					t.Errorf("OCSP = %v", got)
				}
				if got := cert.CRLDistributionPoints; len(got) != 1 || got[0] != "https://motlan.test/ca/issuing.crl" {
					t.Errorf("CRL DP = %v", got)
				}
				if n := cert.SerialNumber.BitLen(); n < 100 || n > 128 {
					t.Errorf("serial has %d bits", n)
				}
				if d := cert.NotAfter.Sub(cert.NotBefore); d < 2*365*24*time.Hour || d > 2*365*24*time.Hour+time.Hour {
					t.Errorf("validity %v", d)
				}
				if len(cert.SubjectKeyId) == 0 || !bytes.Equal(cert.AuthorityKeyId, c.IssuingCA().SubjectKeyId) {
					t.Error("key identifiers")
				}
			})
		}
	}
}

func TestIssueCitizenCertRejects(t *testing.T) {
	c := newCA(t, &ca.MemStorage{}, newSealer(t), nil)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	good := ca.CitizenCertRequest{PublicKey: ecKey(t).Public(), FullName: "Lê Công Hảo", CCCD: "038090001234", Province: "Thanh Hóa"}
	tests := []struct {
		name string
		edit func(*ca.CitizenCertRequest)
	}{
		{"no key", func(r *ca.CitizenCertRequest) { r.PublicKey = nil }},
		{"rsa 1024", func(r *ca.CitizenCertRequest) { r.PublicKey = weak.Public() }},
		{"empty name", func(r *ca.CitizenCertRequest) { r.FullName = " " }},
		{"invalid utf-8", func(r *ca.CitizenCertRequest) { r.FullName = "L\xe9" }},
		{"control char", func(r *ca.CitizenCertRequest) { r.FullName = "Lê\nHảo" }},
		{"cccd 11 digits", func(r *ca.CitizenCertRequest) { r.CCCD = "03809000123" }},
		{"cccd letters", func(r *ca.CitizenCertRequest) { r.CCCD = "03809000123a" }},
		{"cccd unicode digits", func(r *ca.CitizenCertRequest) { r.CCCD = "٠٣٨٠٩٠٠٠١٢" }},
		{"past NotAfter", func(r *ca.CitizenCertRequest) { r.NotAfter = time.Now().Add(-time.Hour) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.edit(&r)
			if _, _, err := c.IssueCitizenCert(context.Background(), r); !errors.Is(err, ca.ErrInvalidRequest) {
				t.Fatalf("err = %v, want ErrInvalidRequest", err)
			}
		})
	}
	r := good
	r.NotAfter = time.Now().Add(100 * 365 * 24 * time.Hour)
	cert, _, err := c.IssueCitizenCert(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.NotAfter.Equal(c.IssuingCA().NotAfter) {
		t.Errorf("NotAfter %v not capped at the issuing CA's %v", cert.NotAfter, c.IssuingCA().NotAfter)
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	sealer := newSealer(t)
	a := newCA(t, ca.DirStorage{Dir: dir}, sealer, nil)
	b := newCA(t, ca.DirStorage{Dir: dir}, sealer, nil)
	if !a.Root().Equal(b.Root()) || !a.IssuingCA().Equal(b.IssuingCA()) {
		t.Fatal("reopening created new CA keys")
	}
	// A certificate issued by one is known (revocable) to the other.
	cert, _, err := a.IssueCitizenCert(context.Background(), ca.CitizenCertRequest{PublicKey: ecKey(t).Public(), FullName: "Ĩ", CCCD: "038090001234"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Revoke(context.Background(), cert.SerialNumber, ca.ReasonKeyCompromise, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// No plaintext private key on disk: every identity record holds a sealed key only.
	for _, name := range []string{"identity/root", "identity/issuing"} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Cert      []byte `json:"cert"`
			SealedKey []byte `json:"sealed_key"`
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		if _, err := x509.ParsePKCS8PrivateKey(rec.SealedKey); err == nil {
			t.Fatalf("%s holds a plaintext key", name)
		}
		if fi, _ := os.Stat(filepath.Join(dir, name)); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", name, fi.Mode())
		}
	}
	// Another master key cannot open the CA.
	_, err = ca.New(context.Background(), ca.Config{Storage: ca.DirStorage{Dir: dir}, Sealer: newSealer(t), BaseURL: "https://motlan.test"})
	if !errors.Is(err, keys.ErrUnseal) {
		t.Fatalf("wrong master key: err = %v, want ErrUnseal", err)
	}
}

func TestConcurrentFirstStart(t *testing.T) {
	for _, st := range []struct {
		name string
		s    ca.Storage
	}{{"mem", &ca.MemStorage{}}, {"dir", ca.DirStorage{Dir: t.TempDir()}}} {
		t.Run(st.name, func(t *testing.T) {
			sealer := newSealer(t)
			const n = 8
			cas := make([]*ca.DevCA, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					c, err := ca.New(context.Background(), ca.Config{Storage: st.s, Sealer: sealer, BaseURL: "https://motlan.test"})
					if err != nil {
						t.Error(err)
						return
					}
					cas[i] = c
				})
			}
			wg.Wait()
			for _, c := range cas[1:] {
				if c == nil || cas[0] == nil || !c.Root().Equal(cas[0].Root()) || !c.IssuingCA().Equal(cas[0].IssuingCA()) {
					t.Fatal("replicas started with different CAs")
				}
			}
		})
	}
}

func TestStorageConformance(t *testing.T) {
	for _, st := range []struct {
		name string
		s    ca.Storage
	}{{"mem", &ca.MemStorage{}}, {"dir", ca.DirStorage{Dir: t.TempDir()}}} {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			if _, err := st.s.Load(ctx, "a/b"); !errors.Is(err, ca.ErrNotFound) {
				t.Fatalf("Load missing: %v", err)
			}
			if err := st.s.Save(ctx, "a/b", []byte("1")); err != nil {
				t.Fatal(err)
			}
			if err := st.s.Save(ctx, "a/b", []byte("2")); !errors.Is(err, ca.ErrExists) {
				t.Fatalf("second Save: %v", err)
			}
			if v, err := st.s.Load(ctx, "a/b"); err != nil || string(v) != "1" {
				t.Fatalf("Load = %q, %v", v, err)
			}
			for _, n := range []string{"a/c", "ab", "b/a"} {
				if err := st.s.Save(ctx, n, nil); err != nil {
					t.Fatal(err)
				}
			}
			names, err := st.s.List(ctx, "a/")
			if err != nil || len(names) != 2 || names[0] != "a/b" || names[1] != "a/c" {
				t.Fatalf("List = %v, %v", names, err)
			}
			for _, bad := range []string{"../x", "a//b", "/a", "A", ".x", ""} {
				if err := st.s.Save(ctx, bad, nil); err == nil {
					t.Errorf("Save(%q) accepted", bad)
				}
			}
			// Racing creators: exactly one wins.
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins := 0
			for i := range 16 {
				wg.Go(func() {
					if err := st.s.Save(ctx, "race/x", []byte{byte(i)}); err == nil {
						mu.Lock()
						wins++
						mu.Unlock()
					} else if !errors.Is(err, ca.ErrExists) {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if wins != 1 {
				t.Fatalf("%d writers won", wins)
			}
		})
	}
}

func TestRevokeAndCRL(t *testing.T) {
	ctx := context.Background()
	c := newCA(t, &ca.MemStorage{}, newSealer(t), nil)
	issue := func() *x509.Certificate {
		cert, _, err := c.IssueCitizenCert(ctx, ca.CitizenCertRequest{PublicKey: ecKey(t).Public(), FullName: "Nguyễn Văn Lĩnh", CCCD: "038090001234", Province: "Thanh Hóa"})
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	a, b, keep := issue(), issue(), issue()
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	if err := c.Revoke(ctx, a.SerialNumber, ca.ReasonKeyCompromise, at); err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(ctx, b.SerialNumber, ca.ReasonUnspecified, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(ctx, a.SerialNumber, ca.ReasonSuperseded, time.Time{}); !errors.Is(err, ca.ErrAlreadyRevoked) {
		t.Fatalf("second revoke: %v", err)
	}
	if err := c.Revoke(ctx, big.NewInt(12345), 0, time.Time{}); !errors.Is(err, ca.ErrUnknownCertificate) {
		t.Fatalf("unknown serial: %v", err)
	}
	for _, r := range []int{-1, 6, 7, 8, 11} {
		if err := c.Revoke(ctx, keep.SerialNumber, r, time.Time{}); !errors.Is(err, ca.ErrInvalidReason) {
			t.Fatalf("reason %d: %v", r, err)
		}
	}
	if err := c.Revoke(ctx, keep.SerialNumber, 0, time.Now().Add(time.Hour)); !errors.Is(err, ca.ErrInvalidRequest) {
		t.Fatalf("future date: %v", err)
	}
	if r, err := c.Revoked(ctx, a.SerialNumber); err != nil || r == nil || r.Reason != ca.ReasonKeyCompromise || !r.RevokedAt.Equal(at) {
		t.Fatalf("Revoked(a) = %+v, %v", r, err)
	}
	if r, err := c.Revoked(ctx, keep.SerialNumber); err != nil || r != nil {
		t.Fatalf("Revoked(keep) = %+v, %v", r, err)
	}

	der, err := c.CRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(c.IssuingCA()); err != nil {
		t.Fatal(err)
	}
	if d := crl.NextUpdate.Sub(crl.ThisUpdate); d <= 0 || d > time.Hour {
		t.Errorf("nextUpdate - thisUpdate = %v", d)
	}
	if crl.Number == nil || crl.Number.Sign() <= 0 {
		t.Error("no CRL number")
	}
	got := map[string]x509.RevocationListEntry{}
	for _, e := range crl.RevokedCertificateEntries {
		got[e.SerialNumber.String()] = e
	}
	if len(got) != 2 {
		t.Fatalf("CRL lists %d certificates", len(got))
	}
	if e := got[a.SerialNumber.String()]; e.ReasonCode != ca.ReasonKeyCompromise || !e.RevocationTime.Equal(at) {
		t.Errorf("entry a = %+v", e)
	}
	if _, ok := got[b.SerialNumber.String()]; !ok {
		t.Error("b missing")
	}
	rootCRL, err := c.RootCRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rl, err := x509.ParseRevocationList(rootCRL); err != nil || rl.CheckSignatureFrom(c.Root()) != nil {
		t.Fatalf("root CRL: %v", err)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Another replica sees a revocation within RefreshInterval, in its CRL.
func TestReplicaSeesRevocation(t *testing.T) {
	ctx := context.Background()
	st, sealer := &ca.MemStorage{}, newSealer(t)
	clk := &clock{t: time.Now()}
	a := newCA(t, st, sealer, clk.Now)
	b := newCA(t, st, sealer, clk.Now)
	cert, _, err := a.IssueCitizenCert(ctx, ca.CitizenCertRequest{PublicKey: ecKey(t).Public(), FullName: "Ĩ", CCCD: "038090001234"})
	if err != nil {
		t.Fatal(err)
	}
	count := func(c *ca.DevCA) int {
		der, err := c.CRL(ctx)
		if err != nil {
			t.Fatal(err)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		return len(crl.RevokedCertificateEntries)
	}
	if count(b) != 0 {
		t.Fatal("revoked before Revoke")
	}
	if err := a.Revoke(ctx, cert.SerialNumber, ca.ReasonPrivilegeWithdrawn, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if count(a) != 1 {
		t.Fatal("revoking replica's CRL lacks the revocation")
	}
	clk.Add(ca.DefaultRefreshInterval + time.Second)
	if count(b) != 1 {
		t.Fatal("other replica's CRL lacks the revocation after RefreshInterval")
	}
}
