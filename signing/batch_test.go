package signing

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/motlan/motlan/signing/pades"
)

// memCredential signs with an in-memory key and counts SignHashes calls; bad makes it
// sign other bytes.
type memCredential struct {
	key   *ecdsa.PrivateKey
	calls atomic.Int32
	got   [][]byte
	bad   bool
}

func (m *memCredential) Certificate() *x509.Certificate {
	return &x509.Certificate{PublicKey: &m.key.PublicKey}
}
func (m *memCredential) Chain() []*x509.Certificate { return nil }
func (m *memCredential) Activation() ActivationMode { return ActivationNone }

func (m *memCredential) SignHashes(_ context.Context, digests [][]byte, _ Activation) ([][]byte, error) {
	m.calls.Add(1)
	m.got = digests
	out := make([][]byte, len(digests))
	for i, d := range digests {
		if m.bad && i == 1 {
			d = make([]byte, 32)
		}
		out[i], _ = ecdsa.SignASN1(rand.Reader, m.key, d)
	}
	return out, nil
}

func TestBatchSign(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := func(i int) []byte { d := sha256.Sum256(fmt.Appendf(nil, "doc %d", i)); return d[:] }
	// run hands in document i's digest and checks the signature it gets back, unless
	// failFirst names it: then it fails before signing, as pades does on a bad PDF.
	run := func(failFirst int) func(context.Context, int, pades.Signer) error {
		return func(ctx context.Context, i int, s pades.Signer) error {
			if i == failFirst {
				return errors.New("document cannot be signed")
			}
			sig, err := s.Sign(ctx, digest(i), crypto.SHA256)
			if err == nil && !ecdsa.VerifyASN1(&key.PublicKey, digest(i), sig) {
				return errors.New("wrong signature handed back")
			}
			return err
		}
	}
	t.Run("one call for every document", func(t *testing.T) {
		cred := &memCredential{key: key}
		errs, cause := batchSign(t.Context(), cred, Activation{}, 5, run(-1))
		if cause != nil || cred.calls.Load() != 1 || len(cred.got) != 5 {
			t.Fatalf("cause %v, %d calls with %d digests", cause, cred.calls.Load(), len(cred.got))
		}
		for i, err := range errs {
			if err != nil || string(cred.got[i]) != string(digest(i)) {
				t.Fatalf("document %d: %v, digest in order: %v", i, err, string(cred.got[i]) == string(digest(i)))
			}
		}
	})
	t.Run("a document failing first stops the batch unsigned", func(t *testing.T) {
		cred := &memCredential{key: key}
		errs, cause := batchSign(t.Context(), cred, Activation{}, 4, run(2))
		if cause == nil || cred.calls.Load() != 0 {
			t.Fatalf("cause %v, %d SignHashes calls, want an error and none", cause, cred.calls.Load())
		}
		for i, err := range errs {
			if err == nil {
				t.Fatalf("document %d succeeded in a stopped batch", i)
			}
		}
	})
	t.Run("one bad signature embeds none", func(t *testing.T) {
		cred := &memCredential{key: key, bad: true}
		errs, cause := batchSign(t.Context(), cred, Activation{}, 3, run(-1))
		var be *BackendError
		if !errors.As(cause, &be) || be.Code != FailureBadSignature {
			t.Fatalf("cause %v", cause)
		}
		for i, err := range errs {
			if !errors.As(err, &be) || be.Code != FailureBadSignature {
				t.Fatalf("document %d: %v", i, err)
			}
		}
	})
}
