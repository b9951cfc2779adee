package vault

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
)

// Vault keeps private signing keys by label and signs with them; the private halves never
// leave it. Implementations are safe for concurrent use.
type Vault interface {
	// CreateKey generates a key under label. It fails with ErrExists when the label is
	// taken (the existing key stays as it was), ErrInvalidLabel or ErrUnsupportedAlg.
	CreateKey(ctx context.Context, label string, spec KeySpec) (KeyRef, error)
	// Key returns the key under label, or ErrNotFound.
	Key(ctx context.Context, label string) (KeyRef, error)
	// Sign signs digest, the hash of the message under opts.HashFunc() (SHA-256, SHA-384
	// or SHA-512), with the key under label. ECDSA signatures are ASN.1 DER; RSA ones are
	// PKCS #1 v1.5, or PSS when opts is an *rsa.PSSOptions: the forms crypto.Signer
	// returns. Errors: ErrNotFound, ErrInvalidLabel, ErrInvalidDigest, ctx.Err().
	Sign(ctx context.Context, label string, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

// Alg is a key algorithm and size.
type Alg string

// Algorithms a vault supports. The strings are stored; never change them.
const (
	ECDSAP256 Alg = "ECDSA-P256"
	RSA2048   Alg = "RSA-2048"
	RSA3072   Alg = "RSA-3072"
)

// Algs lists the supported algorithms.
var Algs = []Alg{ECDSAP256, RSA2048, RSA3072}

// KeySpec says what key CreateKey makes.
type KeySpec struct {
	Alg Alg // zero: ECDSAP256
}

// alg returns the spec's algorithm with the default applied, or ErrUnsupportedAlg.
func (s KeySpec) alg() (Alg, error) {
	switch s.Alg {
	case "":
		return ECDSAP256, nil
	case ECDSAP256, RSA2048, RSA3072:
		return s.Alg, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnsupportedAlg, s.Alg)
}

// KeyRef describes a key held in a vault.
type KeyRef struct {
	Label  string
	Alg    Alg
	Public crypto.PublicKey // *ecdsa.PublicKey or *rsa.PublicKey
}

// Errors of every vault. Match them with errors.Is; messages never hold key material.
var (
	ErrNotFound       = errors.New("vault: key not found")
	ErrExists         = errors.New("vault: key already exists")
	ErrInvalidLabel   = errors.New("vault: invalid key label")
	ErrUnsupportedAlg = errors.New("vault: unsupported key algorithm")
	// ErrInvalidDigest: opts names no supported hash, or digest is not of its length.
	ErrInvalidDigest = errors.New("vault: invalid digest")
	// ErrCorrupt: a stored key fails its checks (wrong master key, a blob moved to
	// another label, a tampered record).
	ErrCorrupt = errors.New("vault: stored key is corrupt")
)

// MaxLabelLen is the longest label, in bytes.
const MaxLabelLen = 128

// ValidLabel returns nil for a label of 1 to MaxLabelLen bytes from [A-Za-z0-9/_:.-],
// and ErrInvalidLabel otherwise. Non-ASCII is refused rather than normalized: a PKCS#11
// label and a database key must be the same bytes.
func ValidLabel(label string) error {
	if len(label) == 0 || len(label) > MaxLabelLen {
		return fmt.Errorf("%w: length %d, want 1 to %d", ErrInvalidLabel, len(label), MaxLabelLen)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '/', c == '_', c == ':', c == '.', c == '-':
		default:
			return fmt.Errorf("%w: byte %d is not in [A-Za-z0-9/_:.-]", ErrInvalidLabel, i)
		}
	}
	return nil
}

// checkDigest enforces what every vault accepts, so software and PKCS#11 agree: a
// SHA-2 hash named by opts and a digest of its length.
func checkDigest(digest []byte, opts crypto.SignerOpts) error {
	if opts == nil {
		return fmt.Errorf("%w: no hash given", ErrInvalidDigest)
	}
	switch h := opts.HashFunc(); h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
		if len(digest) != h.Size() {
			return fmt.Errorf("%w: %d bytes for %v", ErrInvalidDigest, len(digest), h)
		}
		return nil
	default:
		return fmt.Errorf("%w: hash %v not supported", ErrInvalidDigest, h)
	}
}

// EnsureKey returns the key under label, creating it with spec if there is none. When
// another caller (or replica) creates it at the same time, both end with the same key.
func EnsureKey(ctx context.Context, v Vault, label string, spec KeySpec) (KeyRef, error) {
	ref, err := v.Key(ctx, label)
	if !errors.Is(err, ErrNotFound) {
		return ref, err
	}
	ref, err = v.CreateKey(ctx, label, spec)
	if errors.Is(err, ErrExists) {
		return v.Key(ctx, label) // lost the race: the winner's key is the citizen's
	}
	return ref, err
}

// KeySigner is one vault key as a signer with a context, the form Motlan's signing code
// takes (it satisfies pades.Signer).
type KeySigner struct {
	Vault Vault
	Ref   KeyRef
}

// Public returns the key's public half.
func (s KeySigner) Public() crypto.PublicKey { return s.Ref.Public }

// Sign signs digest with the key; see Vault.Sign.
func (s KeySigner) Sign(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.Vault.Sign(ctx, s.Ref.Label, digest, opts)
}

// CryptoSigner returns the key under label as a crypto.Signer, for a library that needs
// one (x509.CreateCertificate, a CMS package). crypto.Signer.Sign takes no context, yet a
// vault call may wait on a database, a token or a network; so the returned signer captures
// ctx and uses it for every Sign. That is the one place a context lives in a value here,
// and it is only sound because the signer is short-lived: create it for one operation,
// inside the call whose ctx it holds, and drop it when that call returns; never keep it in
// a struct or cache. Once ctx ends, Sign fails with ctx.Err(). Its Sign ignores the rand
// argument: the vault draws its own randomness.
func CryptoSigner(ctx context.Context, v Vault, label string) (crypto.Signer, error) {
	ref, err := v.Key(ctx, label)
	if err != nil {
		return nil, err
	}
	return &ctxSigner{ctx: ctx, v: v, ref: ref}, nil
}

type ctxSigner struct {
	ctx context.Context // see CryptoSigner: the signer lives only within this context's call
	v   Vault
	ref KeyRef
}

func (s *ctxSigner) Public() crypto.PublicKey { return s.ref.Public }

func (s *ctxSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.v.Sign(s.ctx, s.ref.Label, digest, opts)
}
