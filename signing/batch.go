package signing

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/motlan/motlan/signing/pades"
)

// Why a rendezvous rather than a two-phase pades API: pades.Sign asks its Signer exactly
// once per document for the signature over that document's signed attributes. Running the
// documents' pades.Sign side by side, each with a signer that hands its digest in and
// waits, gives the backend every digest of the dossier at once (one authorisation, one
// signHash) without changing pades.

var errBatchStopped = errors.New("signing: another document of the batch failed first")

type handIn struct {
	i      int
	digest []byte
}

type sigResult struct {
	sig []byte
	err error
}

// batchSigner is one document's pades.Signer inside a batch.
type batchSigner struct {
	i   int
	pub crypto.PublicKey
	in  chan<- handIn
	out <-chan sigResult
}

func (b *batchSigner) Public() crypto.PublicKey { return b.pub }

func (b *batchSigner) Sign(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.SHA256 {
		return nil, fmt.Errorf("signing: batch signs SHA-256 digests, not %v", opts.HashFunc())
	}
	select {
	case b.in <- handIn{b.i, digest}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-b.out:
		return r.sig, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// batchSign runs sign(ctx, i, signer) for each of n documents at once. When every run has
// handed in its digest, cred.SignHashes is called once with all of them; each signature is
// checked against the certificate before its run gets it. A run that fails before handing
// in its digest stops the batch, and nothing is signed. errs[i] is run i's outcome; cause
// is the error that stopped or failed the batch (nil when every run succeeded).
func batchSign(ctx context.Context, cred Credential, act Activation, n int,
	sign func(ctx context.Context, i int, s pades.Signer) error) (errs []error, cause error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan handIn, n)
	done := make(chan struct {
		i   int
		err error
	}, n)
	outs := make([]chan sigResult, n)
	for i := range n {
		outs[i] = make(chan sigResult, 1)
		s := &batchSigner{i: i, pub: cred.Certificate().PublicKey, in: in, out: outs[i]}
		go func() {
			done <- struct {
				i   int
				err error
			}{i, sign(ctx, i, s)}
		}()
	}
	errs = make([]error, n)
	digests := make([][]byte, n)
	handed, finished := 0, 0
	for handed < n && cause == nil {
		select {
		case h := <-in:
			digests[h.i] = h.digest
			handed++
		case d := <-done:
			finished++
			errs[d.i], cause = d.err, d.err
			if cause == nil {
				cause = fmt.Errorf("signing: document %d finished without a signature", d.i)
			}
		}
	}
	if cause != nil {
		cancel()
	} else {
		cause = deliver(ctx, cred, act, digests, outs)
	}
	for ; finished < n; finished++ {
		d := <-done
		errs[d.i] = d.err
	}
	return errs, cause
}

// deliver makes the one SignHashes call and hands each run its checked signature.
func deliver(ctx context.Context, cred Credential, act Activation, digests [][]byte, outs []chan sigResult) error {
	sigs, err := cred.SignHashes(ctx, digests, act)
	if err == nil && len(sigs) != len(digests) {
		err = &BackendError{Code: FailureBadSignature, Err: fmt.Errorf("%d signatures for %d hashes", len(sigs), len(digests))}
	}
	pub := cred.Certificate().PublicKey
	for i, sig := range sigs {
		if i < len(digests) && sig != nil && !verifyDigest(pub, digests[i], sig) {
			err = &BackendError{Code: FailureBadSignature, Err: fmt.Errorf("signature %d does not verify with the certificate", i)}
		}
	}
	var bad *BackendError
	for i := range outs {
		switch {
		case err != nil && errors.As(err, &bad) && bad.Code == FailureBadSignature:
			outs[i] <- sigResult{err: err} // one bad signature: embed none of them
		case i < len(sigs) && sigs[i] != nil:
			outs[i] <- sigResult{sig: sigs[i]}
		case err != nil:
			outs[i] <- sigResult{err: err}
		default:
			outs[i] <- sigResult{err: errBatchStopped}
		}
	}
	return err
}

// verifyDigest checks a SHA-256 signature in crypto.Signer form.
func verifyDigest(pub crypto.PublicKey, digest, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig) == nil
	}
	return false
}
