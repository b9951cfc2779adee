package signing_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/keys/tsa"
	"github.com/motlan/motlan/signing"
)

// grantingBackend authorises at the approval, as a CSC provider does: Authorize records
// the digests it was given, and the granted credential signs exactly those.
type grantingBackend struct {
	cert *x509.Certificate
	key  crypto.Signer

	mu         sync.Mutex
	authorized [][][]byte // the digests of each Authorize
	signed     [][][]byte // the digests of each signing call
}

func (b *grantingBackend) Credential(context.Context, signing.CitizenInfo) (signing.Credential, error) {
	return &grantingCred{b: b}, nil
}

func (b *grantingBackend) Granted(secret []byte) (signing.Credential, error) {
	return &grantingCred{b: b, grant: secret}, nil
}

type grantingCred struct {
	b     *grantingBackend
	grant []byte
}

func (c *grantingCred) Certificate() *x509.Certificate     { return c.b.cert }
func (c *grantingCred) Chain() []*x509.Certificate         { return nil }
func (c *grantingCred) Activation() signing.ActivationMode { return signing.ActivationNone }

func (c *grantingCred) Authorize(_ context.Context, digests [][]byte, _ signing.Activation) (signing.Grant, error) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.b.authorized = append(c.b.authorized, digests)
	return signing.Grant{Secret: []byte(fmt.Sprintf("sad-%d", len(c.b.authorized))), ExpiresAt: time.Now().Add(time.Hour)}, nil
}

func (c *grantingCred) SignHashes(_ context.Context, digests [][]byte, _ signing.Activation) ([][]byte, error) {
	c.b.mu.Lock()
	c.b.signed = append(c.b.signed, digests)
	c.b.mu.Unlock()
	if c.grant == nil {
		return nil, errors.New("signing without the approval's grant")
	}
	out := make([][]byte, len(digests))
	for i, d := range digests {
		sig, err := c.b.key.Sign(rand.Reader, d, crypto.SHA256)
		if err != nil {
			return nil, err
		}
		out[i] = sig
	}
	return out, nil
}

// TestDigestsDeterministic: the digests authorised at the approval are the ones the
// signing run signs, also when the run is resumed minutes later (B-T, visible signatures
// with the font subset, the signing time fixed at the approval), and the grant is stored
// sealed, not as the provider gave it.
func TestDigestsDeterministic(t *testing.T) {
	w := newWorld(t)
	pki := testpki.NewCA(t)
	cert, key := pki.Citizen(t, "ecdsa")
	be := &grantingBackend{cert: cert, key: key}
	mk := make([]byte, keys.MasterKeySize)
	rand.Read(mk)
	sealer, err := keys.NewSealer(mk)
	if err != nil {
		t.Fatal(err)
	}
	var tsaCalls atomic.Int32
	svc, err := signing.NewService(signing.ServiceConfig{Store: w.store, Citizens: citizens{}, Backend: be, Sealer: sealer,
		Font: w.font, Now: w.clock.Now,
		Timestamp: func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
			if tsaCalls.Add(1) <= 3 { // the first run's three documents: it stops after signing
				return nil, errors.New("TSA down")
			}
			return tsa.Request(ctx, nil, w.tsaURL, digest, h)
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if len(w.font) == 0 {
		t.Fatal("no font with Vietnamese glyphs for the visible signatures")
	}
	in := signing.CreateInput{ClientID: clientID, Subject: subject, Reason: "Đăng ký khai sinh", Location: "Thanh Hóa", Level: signing.LevelBT}
	for i := range 3 {
		in.Documents = append(in.Documents, signing.DocumentInput{Title: fmt.Sprintf("Tờ khai %d", i+1), PDF: minimalPDF(i + 1),
			Placement: &signing.Placement{Auto: true}})
	}
	r, err := svc.Create(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for _, d := range r.Documents {
		hashes = append(hashes, d.SHA256)
	}
	got, err := svc.Approve(t.Context(), r.ID, citizenID, subjectFor, hashes)
	if err != nil || got.Status != signing.StatusSigning {
		t.Fatalf("first run: %s %v, want signing (the TSA was down)", got.Status, err)
	}
	if got.Grant == nil || bytes.Contains(got.Grant, []byte("sad-1")) || !got.SignTime.Equal(got.SignTime.Truncate(time.Second)) {
		t.Fatalf("grant %q, sign time %v: want it sealed, and whole seconds", got.Grant, got.SignTime)
	}
	w.clock.Advance(5 * time.Minute)
	if n, err := svc.Resume(t.Context()); err != nil || n != 1 {
		t.Fatalf("Resume: %d %v", n, err)
	}
	done, err := w.store.GetSigningRequest(t.Context(), r.ID)
	if err != nil || done.Status != signing.StatusSigned {
		t.Fatalf("after Resume: %s (%s) %v", done.Status, done.Failure, err)
	}
	if len(be.authorized) != 1 || len(be.signed) != 2 {
		t.Fatalf("%d authorisations, %d signing calls; want 1 and 2", len(be.authorized), len(be.signed))
	}
	for run, digests := range be.signed {
		for i, d := range digests {
			if !bytes.Equal(d, be.authorized[0][i]) {
				t.Fatalf("run %d, document %d: signed a digest other than the authorised one", run+1, i)
			}
		}
	}
	db := pki.NSSDB(t)
	for i := range 3 {
		pdf, err := svc.SignedPDF(t.Context(), clientID, r.ID, i)
		if err != nil {
			t.Fatal(err)
		}
		if out, sigs := testpki.Pdfsig(t, db, pdf); len(sigs) != 1 || !sigs[0].Valid || !sigs[0].Trusted {
			t.Fatalf("document %d:\n%s", i, out)
		}
	}
}
