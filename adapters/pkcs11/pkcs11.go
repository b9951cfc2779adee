package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/ThalesGroup/crypto11"

	"github.com/motlan/motlan/keys/vault"
)

// IDLen is the length in bytes of the CKA_ID derived from a label.
const IDLen = 16

// Config configures New. Select the token by exactly one of TokenLabel and SlotNumber.
type Config struct {
	// ModulePath is the absolute path of the PKCS#11 module, such as
	// /usr/lib/softhsm/libsofthsm2.so.
	ModulePath string
	TokenLabel string
	SlotNumber *int
	// PIN is the token's user PIN. The caller resolves it from a named environment
	// variable or file; it is never logged.
	PIN string
	// MaxSessions bounds the PKCS#11 sessions open at once; 0 means crypto11's default
	// (1024). The token may lower it. It must not be 1: one session is kept for the login.
	MaxSessions int
	Logger      *slog.Logger // defaults to discarding
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	switch {
	case c.ModulePath == "":
		return errors.New("pkcs11: ModulePath is empty")
	case !filepath.IsAbs(c.ModulePath):
		return fmt.Errorf("pkcs11: ModulePath %q is not absolute", c.ModulePath)
	case c.TokenLabel == "" && c.SlotNumber == nil:
		return errors.New("pkcs11: neither TokenLabel nor SlotNumber is set")
	case c.TokenLabel != "" && c.SlotNumber != nil:
		return errors.New("pkcs11: both TokenLabel and SlotNumber are set; set one")
	case c.SlotNumber != nil && *c.SlotNumber < 0:
		return fmt.Errorf("pkcs11: SlotNumber is %d", *c.SlotNumber)
	case c.PIN == "":
		return errors.New("pkcs11: PIN is empty")
	case c.MaxSessions < 0 || c.MaxSessions == 1:
		return fmt.Errorf("pkcs11: MaxSessions is %d, want 0 (default) or at least 2", c.MaxSessions)
	}
	return nil
}

// LogValue logs the configuration without the PIN.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("module", c.ModulePath)}
	if c.TokenLabel != "" {
		attrs = append(attrs, slog.String("token", c.TokenLabel))
	}
	if c.SlotNumber != nil {
		attrs = append(attrs, slog.Int("slot", *c.SlotNumber))
	}
	return slog.GroupValue(append(attrs, slog.Int("max_sessions", c.MaxSessions))...)
}

// Vault keeps keys in a PKCS#11 token. It is safe for concurrent use. Keys found are kept
// in memory (their handles and public halves, never private material), which assumes no
// one deletes or replaces a key in the token while the vault runs: vault keys are never
// deleted.
type Vault struct {
	p11 *crypto11.Context
	log *slog.Logger

	// objMu serializes CreateKey's check-then-generate (Lock) and orders it against
	// searches of the token (RLock): SoftHSM2's file store fails a generation with
	// CKR_GENERAL_ERROR when another session searches the token meanwhile
	// (softhsm/SoftHSMv2#573; seen here in 2 of 40 runs of the concurrent conformance tests). Signing
	// with a key already found takes no lock.
	objMu sync.RWMutex

	mu   sync.RWMutex
	keys map[string]*tokenKey
}

type tokenKey struct {
	ref    vault.KeyRef
	signer crypto11.Signer
}

// New logs into the token cfg names.
func New(cfg Config) (*Vault, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p11, err := crypto11.Configure(&crypto11.Config{
		Path:        cfg.ModulePath,
		TokenLabel:  cfg.TokenLabel,
		SlotNumber:  cfg.SlotNumber,
		Pin:         cfg.PIN,
		MaxSessions: cfg.MaxSessions,
	})
	if err != nil {
		// crypto11's errors name the module, slot and PKCS#11 return code, never the PIN.
		return nil, fmt.Errorf("pkcs11: open token: %w", err)
	}
	log.Info("pkcs11: vault opened", "config", cfg)
	return &Vault{p11: p11, log: log, keys: make(map[string]*tokenKey)}, nil
}

// Close logs out and releases the module (once its last user closes).
func (v *Vault) Close() error {
	if err := v.p11.Close(); err != nil {
		return fmt.Errorf("pkcs11: close: %w", err)
	}
	return nil
}

// ID returns the CKA_ID of the key under label.
func ID(label string) []byte {
	sum := sha256.Sum256([]byte(label))
	return sum[:IDLen]
}

// CreateKey generates a key pair inside the token under label. A label already taken in
// the token gives vault.ErrExists; see the package comment for replicas.
func (v *Vault) CreateKey(ctx context.Context, label string, spec vault.KeySpec) (vault.KeyRef, error) {
	if err := ctx.Err(); err != nil {
		return vault.KeyRef{}, err
	}
	if err := vault.ValidLabel(label); err != nil {
		return vault.KeyRef{}, err
	}
	alg := spec.Alg
	switch alg {
	case "":
		alg = vault.ECDSAP256
	case vault.ECDSAP256, vault.RSA2048, vault.RSA3072:
	default:
		return vault.KeyRef{}, fmt.Errorf("%w: %q", vault.ErrUnsupportedAlg, alg)
	}

	v.objMu.Lock()
	defer v.objMu.Unlock()
	if err := ctx.Err(); err != nil { // the wait for the mutex may have outlived ctx
		return vault.KeyRef{}, err
	}
	if v.cached(label) != nil {
		return vault.KeyRef{}, fmt.Errorf("pkcs11: create %q: %w", label, vault.ErrExists)
	}
	found, err := v.p11.FindPrivateKeys(nil, []byte(label))
	if err != nil {
		return vault.KeyRef{}, fmt.Errorf("pkcs11: look up %q: %w", label, err)
	}
	if len(found) > 0 {
		return vault.KeyRef{}, fmt.Errorf("pkcs11: create %q: %w", label, vault.ErrExists)
	}

	start := time.Now()
	pub, err := crypto11.NewAttributeSetWithIDAndLabel(ID(label), []byte(label))
	if err != nil {
		return vault.KeyRef{}, fmt.Errorf("pkcs11: attributes: %w", err)
	}
	priv := pub.Copy()
	// crypto11 sets these by default; set them here so the guarantee does not rest on a
	// library default.
	for _, a := range []struct {
		t crypto11.AttributeType
		v bool
	}{
		{crypto11.CkaToken, true},
		{crypto11.CkaPrivate, true},
		{crypto11.CkaSign, true},
		{crypto11.CkaSensitive, true},
		{crypto11.CkaExtractable, false},
		{crypto11.CkaDecrypt, false},
	} {
		if err := priv.Set(a.t, a.v); err != nil {
			return vault.KeyRef{}, fmt.Errorf("pkcs11: attributes: %w", err)
		}
	}
	var signer crypto11.Signer
	switch alg {
	case vault.ECDSAP256:
		signer, err = v.p11.GenerateECDSAKeyPairWithAttributes(pub, priv, elliptic.P256())
	case vault.RSA2048:
		signer, err = v.p11.GenerateRSAKeyPairWithAttributes(pub, priv, 2048)
	case vault.RSA3072:
		signer, err = v.p11.GenerateRSAKeyPairWithAttributes(pub, priv, 3072)
	}
	if err != nil {
		return vault.KeyRef{}, fmt.Errorf("pkcs11: generate %s key: %w", alg, err)
	}
	if got := algOf(signer.Public()); got != alg {
		return vault.KeyRef{}, fmt.Errorf("pkcs11: token generated a %q key for %s", got, alg)
	}
	k := &tokenKey{ref: vault.KeyRef{Label: label, Alg: alg, Public: signer.Public()}, signer: signer}
	v.mu.Lock()
	v.keys[label] = k
	v.mu.Unlock()
	v.log.InfoContext(ctx, "pkcs11: created key", "label", label, "alg", alg, "took", time.Since(start))
	return k.ref, nil
}

// Key returns the key under label, or vault.ErrNotFound.
func (v *Vault) Key(ctx context.Context, label string) (vault.KeyRef, error) {
	k, err := v.key(ctx, label)
	if err != nil {
		return vault.KeyRef{}, err
	}
	return k.ref, nil
}

// Sign signs digest inside the token with the key under label. It accepts what every
// vault accepts: SHA-256, SHA-384 or SHA-512 named by opts and a digest of that length.
// rsa.PSSSaltLengthAuto is signed with the longest salt, as crypto/rsa does.
func (v *Vault) Sign(ctx context.Context, label string, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkDigest(digest, opts); err != nil {
		return nil, err
	}
	k, err := v.key(ctx, label)
	if err != nil {
		return nil, err
	}
	if pss, ok := opts.(*rsa.PSSOptions); ok && pss.SaltLength == rsa.PSSSaltLengthAuto {
		pub, ok := k.ref.Public.(*rsa.PublicKey)
		if ok {
			fixed := *pss
			fixed.SaltLength = (pub.N.BitLen()-1+7)/8 - 2 - pss.HashFunc().Size()
			opts = &fixed
		}
	}
	sig, err := k.signer.Sign(nil, digest, opts) // the token draws its own randomness
	if err != nil {
		return nil, fmt.Errorf("pkcs11: sign with %q: %w", label, err)
	}
	return sig, nil
}

func (v *Vault) cached(label string) *tokenKey {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.keys[label]
}

// key returns the key from memory, or else from the token. Misses are not remembered.
func (v *Vault) key(ctx context.Context, label string) (*tokenKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := vault.ValidLabel(label); err != nil {
		return nil, err
	}
	if k := v.cached(label); k != nil {
		return k, nil
	}
	v.objMu.RLock()
	found, err := v.p11.FindKeyPairs(ID(label), []byte(label))
	v.objMu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("pkcs11: look up %q: %w", label, err)
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("pkcs11: key %q: %w", label, vault.ErrNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("pkcs11: key %q: %w: %d key pairs carry the label", label, vault.ErrCorrupt, len(found))
	}
	alg := algOf(found[0].Public())
	if alg == "" {
		return nil, fmt.Errorf("pkcs11: key %q: %w: public key %T is not an algorithm of the vault", label, vault.ErrCorrupt, found[0].Public())
	}
	k := &tokenKey{ref: vault.KeyRef{Label: label, Alg: alg, Public: found[0].Public()}, signer: found[0]}
	v.mu.Lock()
	if old, ok := v.keys[label]; ok {
		k = old // a concurrent lookup won; keep one copy
	} else {
		v.keys[label] = k
	}
	v.mu.Unlock()
	return k, nil
}

// checkDigest is vault's rule for every vault: a SHA-2 hash named by opts and a digest of
// its length.
func checkDigest(digest []byte, opts crypto.SignerOpts) error {
	if opts == nil {
		return fmt.Errorf("%w: no hash given", vault.ErrInvalidDigest)
	}
	switch h := opts.HashFunc(); h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
		if len(digest) != h.Size() {
			return fmt.Errorf("%w: %d bytes for %v", vault.ErrInvalidDigest, len(digest), h)
		}
		return nil
	default:
		return fmt.Errorf("%w: hash %v not supported", vault.ErrInvalidDigest, h)
	}
}

// algOf names a public key's algorithm, or "" for one the vault does not make.
func algOf(pub crypto.PublicKey) vault.Alg {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return vault.ECDSAP256
		}
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return vault.RSA2048
		case 3072:
			return vault.RSA3072
		}
	}
	return ""
}

var _ vault.Vault = (*Vault)(nil)
