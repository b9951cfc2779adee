package vault

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// SoftwareStore keeps the software vault's sealed keys. sqlstore.Store implements it.
// Records are never updated or deleted, which is what lets Software cache them.
type SoftwareStore interface {
	// CreateSealedKey stores a new record; ErrExists (wrapped) when label is taken.
	CreateSealedKey(ctx context.Context, label, alg string, sealed, public []byte) error
	// GetSealedKey reads a record; ErrNotFound (wrapped) when there is none. public is
	// the PKIX DER of the public key.
	GetSealedKey(ctx context.Context, label string) (alg string, sealed, public []byte, err error)
}

// Sealer encrypts and authenticates blobs bound to a key ID; *keys.Sealer (AES-256-GCM
// under the master key) is one.
type Sealer interface {
	Seal(kid string, plaintext []byte) ([]byte, error)
	Open(kid string, sealed []byte) ([]byte, error)
}

// DefaultCacheSize is how many unsealed keys Software keeps when the config says 0.
const DefaultCacheSize = 1024

// SoftwareConfig configures NewSoftware.
type SoftwareConfig struct {
	Store  SoftwareStore
	Sealer Sealer
	// CacheSize bounds the unsealed keys kept in memory; 0 means DefaultCacheSize.
	CacheSize int
	Logger    *slog.Logger // defaults to discarding
}

// Software is the default vault: keys are generated in process, stored as PKCS #8 sealed
// by Sealer, and unsealed on use. It is safe for concurrent use.
//
// Each sealed blob is bound (as the sealer's key ID, hence GCM additional data) to
// "citizen-key", the algorithm and the label: a blob copied to another citizen's label,
// relabelled with another algorithm, or taken from another use of the master key (token
// keys) fails to open. The stored public key is checked against the private one.
//
// Unsealed keys are kept in an LRU cache of CacheSize entries. That is safe because a key
// never changes once created (the store has no update or delete), so a cached key cannot
// be stale; the bound caps memory and how many private keys sit unsealed in the heap,
// which holds each key in use anyway. A key found missing is not cached. Concurrent
// first uses of one key may each unseal it; one copy stays.
type Software struct {
	store  SoftwareStore
	sealer Sealer
	log    *slog.Logger
	cache  *lru
}

// softKey is an unsealed key.
type softKey struct {
	ref    KeyRef
	signer crypto.Signer
}

// NewSoftware returns a software vault.
func NewSoftware(cfg SoftwareConfig) (*Software, error) {
	if cfg.Store == nil {
		return nil, errors.New("vault: SoftwareConfig.Store is nil")
	}
	if cfg.Sealer == nil {
		return nil, errors.New("vault: SoftwareConfig.Sealer is nil")
	}
	if cfg.CacheSize < 0 {
		return nil, fmt.Errorf("vault: SoftwareConfig.CacheSize is %d", cfg.CacheSize)
	}
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Software{store: cfg.Store, sealer: cfg.Sealer, log: log, cache: newLRU(size)}, nil
}

// sealKID is the sealer's key ID for a citizen key. Labels hold no NUL, so the parts
// cannot run into each other, and token-key IDs (no NUL) never equal one.
func sealKID(label string, alg Alg) string {
	return "citizen-key\x00" + string(alg) + "\x00" + label
}

// CreateKey generates, seals and stores a key. A label already taken gives ErrExists;
// the caller re-reads with Key (see EnsureKey).
func (v *Software) CreateKey(ctx context.Context, label string, spec KeySpec) (KeyRef, error) {
	if err := ctx.Err(); err != nil {
		return KeyRef{}, err
	}
	if err := ValidLabel(label); err != nil {
		return KeyRef{}, err
	}
	alg, err := spec.alg()
	if err != nil {
		return KeyRef{}, err
	}
	if _, ok := v.cache.get(label); ok {
		return KeyRef{}, fmt.Errorf("vault: create %q: %w", label, ErrExists)
	}
	start := time.Now()
	priv, err := generate(alg)
	if err != nil {
		return KeyRef{}, fmt.Errorf("vault: generate %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return KeyRef{}, fmt.Errorf("vault: encode %s key: %w", alg, err)
	}
	sealed, err := v.sealer.Seal(sealKID(label, alg), der)
	clear(der)
	if err != nil {
		return KeyRef{}, fmt.Errorf("vault: seal key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return KeyRef{}, fmt.Errorf("vault: encode public key: %w", err)
	}
	if err := v.store.CreateSealedKey(ctx, label, string(alg), sealed, pub); err != nil {
		if errors.Is(err, ErrExists) {
			return KeyRef{}, fmt.Errorf("vault: create %q: %w", label, err)
		}
		return KeyRef{}, fmt.Errorf("vault: store key %q: %w", label, err)
	}
	k := &softKey{ref: KeyRef{Label: label, Alg: alg, Public: priv.Public()}, signer: priv}
	v.cache.add(label, k)
	v.log.InfoContext(ctx, "vault: created key", "label", label, "alg", alg, "took", time.Since(start))
	return k.ref, nil
}

// Key returns the key under label. It unseals the key (and caches it), so a corrupt
// record shows here rather than at the first signature.
func (v *Software) Key(ctx context.Context, label string) (KeyRef, error) {
	k, err := v.key(ctx, label)
	if err != nil {
		return KeyRef{}, err
	}
	return k.ref, nil
}

// Sign signs digest with the key under label.
func (v *Software) Sign(ctx context.Context, label string, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkDigest(digest, opts); err != nil {
		return nil, err
	}
	k, err := v.key(ctx, label)
	if err != nil {
		return nil, err
	}
	sig, err := k.signer.Sign(rand.Reader, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("vault: sign with %q: %w", label, err)
	}
	return sig, nil
}

// key returns the unsealed key from the cache, or else from the store.
func (v *Software) key(ctx context.Context, label string) (*softKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidLabel(label); err != nil {
		return nil, err
	}
	if k, ok := v.cache.get(label); ok {
		return k, nil
	}
	algName, sealed, pubDER, err := v.store.GetSealedKey(ctx, label)
	if err != nil {
		return nil, fmt.Errorf("vault: read key %q: %w", label, err)
	}
	k, err := v.unseal(label, Alg(algName), sealed, pubDER)
	if err != nil {
		return nil, err
	}
	v.cache.add(label, k)
	return k, nil
}

func (v *Software) unseal(label string, alg Alg, sealed, pubDER []byte) (*softKey, error) {
	if _, err := (KeySpec{Alg: alg}).alg(); err != nil || alg == "" {
		return nil, fmt.Errorf("vault: key %q: %w: algorithm %q", label, ErrCorrupt, alg)
	}
	der, err := v.sealer.Open(sealKID(label, alg), sealed)
	if err != nil {
		return nil, fmt.Errorf("vault: key %q: %w: %w", label, ErrCorrupt, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("vault: key %q: %w: %w", label, ErrCorrupt, err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok || algOf(priv.Public()) != alg {
		return nil, fmt.Errorf("vault: key %q: %w: private key is not %s", label, ErrCorrupt, alg)
	}
	stored, err := x509.ParsePKIXPublicKey(pubDER)
	if err != nil {
		return nil, fmt.Errorf("vault: key %q: %w: public key: %w", label, ErrCorrupt, err)
	}
	if eq, ok := stored.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(priv.Public()) {
		return nil, fmt.Errorf("vault: key %q: %w: stored public key does not match", label, ErrCorrupt)
	}
	return &softKey{ref: KeyRef{Label: label, Alg: alg, Public: priv.Public()}, signer: priv}, nil
}

func generate(alg Alg) (crypto.Signer, error) {
	switch alg {
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
}

// algOf names a public key's algorithm, or "" for one a vault does not make.
func algOf(pub crypto.PublicKey) Alg {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return ECDSAP256
		}
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return RSA2048
		case 3072:
			return RSA3072
		}
	}
	return ""
}

var _ Vault = (*Software)(nil)
