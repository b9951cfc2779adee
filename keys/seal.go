package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeySize is the length of the master key: AES-256.
const MasterKeySize = 32

// Errors about the master key and sealed blobs. Errors never carry key material.
var (
	// ErrMasterKeyMissing: neither the environment variable nor the file gave a key.
	ErrMasterKeyMissing = errors.New("keys: master key not configured")
	// ErrMasterKeyLength: the key does not decode to MasterKeySize bytes.
	ErrMasterKeyLength = errors.New("keys: master key must be 32 bytes")
	// ErrMasterKeyEncoding: the key is not valid base64.
	ErrMasterKeyEncoding = errors.New("keys: master key is not base64")
	// ErrMasterKeyUnreadable: the key file could not be read or created.
	ErrMasterKeyUnreadable = errors.New("keys: master key file unreadable")
	// ErrSealedFormat: a sealed blob is too short or of an unknown version.
	ErrSealedFormat = errors.New("keys: sealed key has an unknown format")
	// ErrUnseal: authentication failed: wrong master key, wrong key ID, or tampering.
	ErrUnseal = errors.New("keys: sealed key failed authentication")
)

// sealVersion1 is the first byte of every sealed blob:
// version(1) || nonce(12) || AES-256-GCM ciphertext and tag.
const sealVersion1 byte = 1

// aadLabel separates this use of the master key from any other.
const aadLabel = "motlan/keys/token-key\x00"

// Sealer encrypts private keys at rest under a master key, binding each blob to its key
// ID, so a sealed blob cannot be moved to another record.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a MasterKeySize-byte master key. It keeps no copy of the
// key bytes beyond the cipher's own schedule.
func NewSealer(masterKey []byte) (*Sealer, error) {
	if len(masterKey) != MasterKeySize {
		return nil, fmt.Errorf("%w, got %d", ErrMasterKeyLength, len(masterKey))
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

func sealAAD(version byte, kid string) []byte {
	aad := make([]byte, 0, len(aadLabel)+1+len(kid))
	aad = append(aad, aadLabel...)
	aad = append(aad, version)
	return append(aad, kid...)
}

// Seal encrypts plaintext for the record with key ID kid.
func (s *Sealer) Seal(kid string, plaintext []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return s.aead.Seal(out, out[1:1+ns], plaintext, sealAAD(sealVersion1, kid)), nil
}

// Open decrypts a blob sealed for key ID kid. It fails with ErrUnseal when the master key
// or kid differ from sealing or the blob was altered, and with ErrSealedFormat when the
// blob is not a sealed key at all.
func (s *Sealer) Open(kid string, sealed []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+ns+s.aead.Overhead() {
		return nil, fmt.Errorf("%w: %d bytes", ErrSealedFormat, len(sealed))
	}
	if sealed[0] != sealVersion1 {
		return nil, fmt.Errorf("%w: version %d", ErrSealedFormat, sealed[0])
	}
	pt, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], sealAAD(sealed[0], kid))
	if err != nil {
		return nil, ErrUnseal
	}
	return pt, nil
}

// LoadMasterKey reads the master key from the environment variable named env (standard
// or URL base64, padded or not) when it is set and non-empty, else from file (the same
// base64 text, as EnsureMasterKeyFile writes it). Either name may be empty.
func LoadMasterKey(env, file string) ([]byte, error) {
	if env != "" {
		if v := os.Getenv(env); v != "" {
			k, err := decodeMasterKey(v)
			if err != nil {
				return nil, fmt.Errorf("master key from $%s: %w", env, err)
			}
			return k, nil
		}
	}
	if file != "" {
		return readMasterKeyFile(file)
	}
	return nil, ErrMasterKeyMissing
}

// EnsureMasterKeyFile returns the master key in path, first creating the file with a
// fresh random key (mode 0600, parent directories 0700) if it does not exist. It is meant
// for development; production keys come from a secret store through LoadMasterKey.
// Concurrent callers all end up with the same key.
func EnsureMasterKeyFile(path string) ([]byte, error) {
	k, err := readMasterKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMasterKeyUnreadable, err)
	}
	key := make([]byte, MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	text := []byte(base64.StdEncoding.EncodeToString(key) + "\n")
	defer clear(key)
	defer clear(text)
	// Write a temporary file (os.CreateTemp makes it 0600) and link it into place: the
	// link fails if another process won the race, and nobody reads a half-written key.
	tmp, err := os.CreateTemp(dir, ".masterkey-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMasterKeyUnreadable, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(text)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			err = writeExclusive(path, text) // file systems without hard links
		}
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: %w", ErrMasterKeyUnreadable, err)
	}
	return readMasterKeyFile(path)
}

func writeExclusive(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func readMasterKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMasterKeyUnreadable, err)
	}
	defer clear(b)
	k, err := decodeMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key from %s: %w", path, err)
	}
	return k, nil
}

func decodeMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		k, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(k) != MasterKeySize {
			clear(k)
			return nil, fmt.Errorf("%w, got %d", ErrMasterKeyLength, len(k))
		}
		return k, nil
	}
	return nil, ErrMasterKeyEncoding
}
