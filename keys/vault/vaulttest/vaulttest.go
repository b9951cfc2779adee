// Package vaulttest is the conformance suite every vault.Vault passes (the software vault
// over each store, and the PKCS#11 vault over SoftHSM2), in the manner of Dex's
// storage/conformance. It also holds MemStore, an in-memory vault.SoftwareStore.
package vaulttest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testsync"

	"github.com/motlan/motlan/keys/vault"
)

// NewVault returns an empty vault. It registers its own cleanup with t.
type NewVault func(t *testing.T) vault.Vault

const (
	// CreateRacers is how many goroutines race to create one label.
	CreateRacers = 16
	// SignRacers is how many goroutines sign with one key at once.
	SignRacers = 32
)

type env struct {
	t   *testing.T
	ctx context.Context
	v   vault.Vault
}

// RunConformance runs every behaviour, the concurrent ones included, against vaults from
// newVault. Each subtest gets a fresh vault.
func RunConformance(t *testing.T, newVault NewVault) {
	tests := []struct {
		name string
		run  func(e *env)
	}{
		{"Create/ECDSAP256", func(e *env) { testCreateSignVerify(e, vault.ECDSAP256) }},
		{"Create/RSA2048", func(e *env) { testCreateSignVerify(e, vault.RSA2048) }},
		{"Create/RSA3072", func(e *env) { testCreateSignVerify(e, vault.RSA3072) }},
		{"Create/DefaultIsECDSAP256", testDefaultAlg},
		{"Create/Exists", testExists},
		{"Create/UnsupportedAlg", testUnsupportedAlg},
		{"NotFound", testNotFound},
		{"Labels", testLabels},
		{"IsolatedByLabel", testIsolation},
		{"InvalidDigest", testInvalidDigest},
		{"CanceledContext", testCanceled},
		{"CryptoSigner", testCryptoSigner},
		{"KeySigner", testKeySigner},
		{"Concurrent/CreateKeyOnce", testConcurrentCreate},
		{"Concurrent/EnsureKeyConverges", testConcurrentEnsure},
		{"Concurrent/Sign", testConcurrentSign},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(&env{t: t, ctx: t.Context(), v: newVault(t)})
		})
	}
}

// Digest returns the SHA-256 of a test message numbered i.
func Digest(i int) []byte {
	d := sha256.Sum256(fmt.Appendf(nil, "motlan conformance message %d", i))
	return d[:]
}

// Verify checks sig over digest with pub: ECDSA ASN.1, RSA PKCS #1 v1.5, or RSA PSS when
// opts is an *rsa.PSSOptions.
func Verify(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			return rsa.VerifyPSS(k, opts.HashFunc(), digest, sig, pss)
		}
		return rsa.VerifyPKCS1v15(k, opts.HashFunc(), digest, sig)
	}
	return fmt.Errorf("public key of type %T", pub)
}

func (e *env) must(what string, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
}

func (e *env) wantErr(what string, err, target error) {
	e.t.Helper()
	if !errors.Is(err, target) {
		e.t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

func (e *env) create(label string, alg vault.Alg) vault.KeyRef {
	e.t.Helper()
	ref, err := e.v.CreateKey(e.ctx, label, vault.KeySpec{Alg: alg})
	e.must("CreateKey "+label, err)
	return ref
}

func samePublic(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// checkRef checks that ref describes a key of alg under label.
func (e *env) checkRef(what string, ref vault.KeyRef, label string, alg vault.Alg) {
	e.t.Helper()
	if ref.Label != label || ref.Alg != alg {
		e.t.Errorf("%s: ref %q %s, want %q %s", what, ref.Label, ref.Alg, label, alg)
	}
	ok := false
	switch k := ref.Public.(type) {
	case *ecdsa.PublicKey:
		ok = alg == vault.ECDSAP256 && k.Curve == elliptic.P256()
	case *rsa.PublicKey:
		ok = alg == vault.RSA2048 && k.N.BitLen() == 2048 || alg == vault.RSA3072 && k.N.BitLen() == 3072
	}
	if !ok {
		e.t.Errorf("%s: public key %T does not match %s", what, ref.Public, alg)
	}
}

func testCreateSignVerify(e *env, alg vault.Alg) {
	label := "citizen/create-" + strings.ToLower(string(alg))
	ref := e.create(label, alg)
	e.checkRef("CreateKey", ref, label, alg)

	got, err := e.v.Key(e.ctx, label)
	e.must("Key", err)
	e.checkRef("Key", got, label, alg)
	if !samePublic(got.Public, ref.Public) {
		e.t.Error("Key returned another public key than CreateKey")
	}

	opts := []crypto.SignerOpts{crypto.SHA256, crypto.SHA384, crypto.SHA512}
	if alg != vault.ECDSAP256 {
		opts = append(opts, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	}
	for i, o := range opts {
		h := o.HashFunc().New()
		fmt.Fprintf(h, "document %d", i)
		digest := h.Sum(nil)
		sig, err := e.v.Sign(e.ctx, label, digest, o)
		e.must(fmt.Sprintf("Sign %v %T", o.HashFunc(), o), err)
		if err := Verify(ref.Public, digest, sig, o); err != nil {
			e.t.Errorf("signature with %v %T: %v", o.HashFunc(), o, err)
		}
		digest[0] ^= 1
		if Verify(ref.Public, digest, sig, o) == nil {
			e.t.Errorf("signature with %v %T verifies over another digest", o.HashFunc(), o)
		}
	}
}

func testDefaultAlg(e *env) {
	ref, err := e.v.CreateKey(e.ctx, "citizen/default", vault.KeySpec{})
	e.must("CreateKey", err)
	e.checkRef("CreateKey", ref, "citizen/default", vault.ECDSAP256)
}

func testExists(e *env) {
	first := e.create("citizen/exists", vault.ECDSAP256)
	for _, alg := range []vault.Alg{vault.ECDSAP256, vault.RSA2048} {
		_, err := e.v.CreateKey(e.ctx, "citizen/exists", vault.KeySpec{Alg: alg})
		e.wantErr("second CreateKey "+string(alg), err, vault.ErrExists)
	}
	got, err := e.v.Key(e.ctx, "citizen/exists")
	e.must("Key", err)
	if got.Alg != vault.ECDSAP256 || !samePublic(got.Public, first.Public) {
		e.t.Error("a refused CreateKey replaced the key")
	}
}

func testUnsupportedAlg(e *env) {
	for _, alg := range []vault.Alg{"DSA", "ECDSA-P384", "Ed25519", "RSA-1024", "ecdsa-p256"} {
		_, err := e.v.CreateKey(e.ctx, "citizen/unsupported", vault.KeySpec{Alg: alg})
		e.wantErr("CreateKey "+string(alg), err, vault.ErrUnsupportedAlg)
	}
	_, err := e.v.Key(e.ctx, "citizen/unsupported")
	e.wantErr("Key after refused creates", err, vault.ErrNotFound)
}

func testNotFound(e *env) {
	_, err := e.v.Key(e.ctx, "citizen/nobody")
	e.wantErr("Key", err, vault.ErrNotFound)
	_, err = e.v.Sign(e.ctx, "citizen/nobody", Digest(0), crypto.SHA256)
	e.wantErr("Sign", err, vault.ErrNotFound)
	_, err = vault.CryptoSigner(e.ctx, e.v, "citizen/nobody")
	e.wantErr("CryptoSigner", err, vault.ErrNotFound)
	// A miss is not remembered: the key can be created and found afterwards.
	ref := e.create("citizen/nobody", vault.ECDSAP256)
	got, err := e.v.Key(e.ctx, "citizen/nobody")
	e.must("Key after create", err)
	if !samePublic(got.Public, ref.Public) {
		e.t.Error("Key after create returned another key")
	}
}

func testLabels(e *env) {
	tests := []struct {
		name  string
		label string
		ok    bool
	}{
		{"citizen", "citizen/018f2b6c-7d3e-7a11-9c4e-5b2f0a9d1e33", true},
		{"every allowed character", "AZaz09/_:.-", true},
		{"one byte", "x", true},
		{"128 bytes", strings.Repeat("a", vault.MaxLabelLen), true},
		{"empty", "", false},
		{"129 bytes", strings.Repeat("a", vault.MaxLabelLen+1), false},
		{"Vietnamese", "citizen/Nguyễn", false},
		{"NFD Vietnamese", "citizen/Nguye\u0302\u0303n", false},
		{"Latin-1", "citizen/caf\xe9", false},
		{"invalid UTF-8", "citizen/\xff\xfe", false},
		{"fullwidth digit", "citizen/１", false},
		{"space", "citizen/a b", false},
		{"NUL", "citizen/a\x00b", false},
		{"newline", "citizen/a\n", false},
		{"percent", "citizen/a%2Fb", false},
		{"backslash", `citizen\a`, false},
		{"plus", "citizen+a", false},
	}
	for i, tc := range tests {
		e.t.Run(tc.name, func(t *testing.T) {
			e := &env{t: t, ctx: e.ctx, v: e.v}
			_, err := e.v.CreateKey(e.ctx, tc.label, vault.KeySpec{})
			if tc.ok {
				e.must("CreateKey", err)
				ref, err := e.v.Key(e.ctx, tc.label)
				e.must("Key", err)
				e.checkRef("Key", ref, tc.label, vault.ECDSAP256)
				sig, err := e.v.Sign(e.ctx, tc.label, Digest(i), crypto.SHA256)
				e.must("Sign", err)
				if err := Verify(ref.Public, Digest(i), sig, crypto.SHA256); err != nil {
					t.Error(err)
				}
				return
			}
			e.wantErr("CreateKey", err, vault.ErrInvalidLabel)
			_, err = e.v.Key(e.ctx, tc.label)
			e.wantErr("Key", err, vault.ErrInvalidLabel)
			_, err = e.v.Sign(e.ctx, tc.label, Digest(i), crypto.SHA256)
			e.wantErr("Sign", err, vault.ErrInvalidLabel)
			if (vault.ValidLabel(tc.label) == nil) != tc.ok {
				t.Errorf("ValidLabel(%q) disagrees", tc.label)
			}
		})
	}
}

func testIsolation(e *env) {
	labels := []string{"citizen/a", "citizen/b", "citizen/A", "citizen/a.", "citizen/a/b"}
	refs := make([]vault.KeyRef, len(labels))
	for i, l := range labels {
		refs[i] = e.create(l, vault.ECDSAP256)
	}
	digest := Digest(7)
	for i, l := range labels {
		ref, err := e.v.Key(e.ctx, l)
		e.must("Key "+l, err)
		if !samePublic(ref.Public, refs[i].Public) {
			e.t.Errorf("Key(%q) returned another label's key", l)
		}
		sig, err := e.v.Sign(e.ctx, l, digest, crypto.SHA256)
		e.must("Sign "+l, err)
		for j := range labels {
			err := Verify(refs[j].Public, digest, sig, crypto.SHA256)
			if i == j && err != nil {
				e.t.Errorf("signature of %q: %v", l, err)
			}
			if i != j {
				if samePublic(refs[i].Public, refs[j].Public) {
					e.t.Errorf("%q and %q share a key", l, labels[j])
				}
				if err == nil {
					e.t.Errorf("signature of %q verifies with the key of %q", l, labels[j])
				}
			}
		}
	}
}

func testInvalidDigest(e *env) {
	for _, alg := range []vault.Alg{vault.ECDSAP256, vault.RSA2048} {
		label := "citizen/digest-" + strings.ToLower(string(alg))
		e.create(label, alg)
		d256 := Digest(1)
		d512 := sha512.Sum512([]byte("x"))
		tests := []struct {
			name   string
			digest []byte
			opts   crypto.SignerOpts
		}{
			{"nil opts", d256, nil},
			{"no hash (raw)", d256, crypto.Hash(0)},
			{"SHA-1", d256[:20], crypto.SHA1},
			{"MD5", d256[:16], crypto.MD5},
			{"short for SHA-256", d256[:31], crypto.SHA256},
			{"long for SHA-256", append(d256, 0), crypto.SHA256},
			{"SHA-512 bytes as SHA-256", d512[:], crypto.SHA256},
			{"empty", nil, crypto.SHA256},
		}
		for _, tc := range tests {
			_, err := e.v.Sign(e.ctx, label, tc.digest, tc.opts)
			e.wantErr(string(alg)+" "+tc.name, err, vault.ErrInvalidDigest)
		}
	}
}

func testCanceled(e *env) {
	e.create("citizen/canceled", vault.ECDSAP256)
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	_, err := e.v.Sign(ctx, "citizen/canceled", Digest(0), crypto.SHA256)
	e.wantErr("Sign", err, context.Canceled)
	_, err = e.v.Key(ctx, "citizen/canceled")
	e.wantErr("Key", err, context.Canceled)
	_, err = e.v.CreateKey(ctx, "citizen/canceled-new", vault.KeySpec{})
	e.wantErr("CreateKey", err, context.Canceled)
	_, err = e.v.Key(e.ctx, "citizen/canceled-new")
	e.wantErr("Key of a canceled create", err, vault.ErrNotFound)
	signer, err := vault.CryptoSigner(e.ctx, e.v, "citizen/canceled")
	e.must("CryptoSigner", err)
	_, err = signer.Sign(nil, Digest(0), crypto.SHA256)
	e.must("crypto.Signer.Sign", err)
	expired, cancel2 := context.WithCancel(e.ctx)
	signer, err = vault.CryptoSigner(expired, e.v, "citizen/canceled")
	e.must("CryptoSigner", err)
	cancel2()
	_, err = signer.Sign(nil, Digest(0), crypto.SHA256)
	e.wantErr("crypto.Signer.Sign after its context ended", err, context.Canceled)
}

// testCryptoSigner uses the adapter where a library needs a crypto.Signer: a self-signed
// certificate through crypto/x509, for each algorithm's default signature.
func testCryptoSigner(e *env) {
	for _, alg := range []vault.Alg{vault.ECDSAP256, vault.RSA2048} {
		label := "citizen/x509-" + strings.ToLower(string(alg))
		ref := e.create(label, alg)
		signer, err := vault.CryptoSigner(e.ctx, e.v, label)
		e.must("CryptoSigner", err)
		if !samePublic(signer.Public(), ref.Public) {
			e.t.Errorf("%s: CryptoSigner's public key differs", alg)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "Nguyễn Văn A"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			IsCA:         true, BasicConstraintsValid: true,
		}
		der, err := x509.CreateCertificate(nil, tmpl, tmpl, ref.Public, signer)
		e.must(string(alg)+" CreateCertificate", err)
		cert, err := x509.ParseCertificate(der)
		e.must("ParseCertificate", err)
		if err := cert.CheckSignatureFrom(cert); err != nil {
			e.t.Errorf("%s: self-signed certificate: %v", alg, err)
		}
	}
}

func testKeySigner(e *env) {
	ref := e.create("citizen/keysigner", vault.ECDSAP256)
	s := vault.KeySigner{Vault: e.v, Ref: ref}
	sig, err := s.Sign(e.ctx, Digest(3), crypto.SHA256)
	e.must("KeySigner.Sign", err)
	if err := Verify(s.Public(), Digest(3), sig, crypto.SHA256); err != nil {
		e.t.Error(err)
	}
}

func testConcurrentCreate(e *env) {
	const label = "citizen/race"
	refs := make([]vault.KeyRef, CreateRacers)
	errs := testsync.Race(CreateRacers, func(i int) error {
		var err error
		refs[i], err = e.v.CreateKey(e.ctx, label, vault.KeySpec{})
		return err
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				e.t.Errorf("racers %d and %d both created the key", winner, i)
			}
			winner = i
		case !errors.Is(err, vault.ErrExists):
			e.t.Errorf("racer %d: %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		e.t.Fatal("no racer created the key")
	}
	pubs := make([]crypto.PublicKey, CreateRacers)
	errs = testsync.Race(CreateRacers, func(i int) error {
		ref, err := e.v.Key(e.ctx, label)
		pubs[i] = ref.Public
		return err
	})
	for i, err := range errs {
		if err != nil {
			e.t.Errorf("racer %d re-reading: %v", i, err)
		} else if !samePublic(pubs[i], refs[winner].Public) {
			e.t.Errorf("racer %d sees another key than the winner created", i)
		}
	}
}

func testConcurrentEnsure(e *env) {
	const label = "citizen/ensure"
	pubs := make([]crypto.PublicKey, CreateRacers)
	errs := testsync.Race(CreateRacers, func(i int) error {
		ref, err := vault.EnsureKey(e.ctx, e.v, label, vault.KeySpec{})
		pubs[i] = ref.Public
		return err
	})
	for i, err := range errs {
		if err != nil {
			e.t.Fatalf("racer %d: %v", i, err)
		}
		if !samePublic(pubs[i], pubs[0]) {
			e.t.Errorf("racers 0 and %d ended with different keys", i)
		}
	}
}

func testConcurrentSign(e *env) {
	for _, alg := range []vault.Alg{vault.ECDSAP256, vault.RSA2048} {
		label := "citizen/sign-race-" + strings.ToLower(string(alg))
		ref := e.create(label, alg)
		sigs := make([][]byte, SignRacers)
		errs := testsync.Race(SignRacers, func(i int) error {
			var err error
			sigs[i], err = e.v.Sign(e.ctx, label, Digest(i), crypto.SHA256)
			return err
		})
		for i, err := range errs {
			if err != nil {
				e.t.Errorf("%s racer %d: %v", alg, i, err)
				continue
			}
			if err := Verify(ref.Public, Digest(i), sigs[i], crypto.SHA256); err != nil {
				e.t.Errorf("%s racer %d: %v", alg, i, err)
			}
		}
	}
}
