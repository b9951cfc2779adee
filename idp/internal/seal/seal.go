package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Box seals and opens with one 32-byte key.
type Box struct {
	aead cipher.AEAD
	now  func() time.Time
}

// New returns a Box for a 32-byte key; now is the clock cookie expiry is checked against.
func New(key []byte, now func() time.Time) (*Box, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: key: %w", err)
	}
	// NewGCM fails only for a block size other than AES's 16 bytes.
	gcm, _ := cipher.NewGCM(b)
	return &Box{aead: gcm, now: now}, nil
}

// SealString encrypts s bound to aad, as base64url.
func (b *Box) SealString(s, aad string) string {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(s)+b.aead.Overhead())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(b.aead.Seal(nonce, nonce, []byte(s), []byte(aad)))
}

// OpenString reverses SealString for the same aad.
func (b *Box) OpenString(sealed, aad string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return "", err
	}
	if len(raw) < b.aead.NonceSize() {
		return "", errors.New("sealed value too short")
	}
	pt, err := b.aead.Open(nil, raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():], []byte(aad))
	return string(pt), err
}

// SealJSON keeps small state in a cookie for ten minutes, encrypted and bound to its name.
func (b *Box) SealJSON(v any, name string) (string, error) {
	return b.SealJSONUntil(v, name, b.now().Add(10*time.Minute))
}

// SealJSONUntil seals v for the cookie name until exp.
func (b *Box) SealJSONUntil(v any, name string, exp time.Time) (string, error) {
	pt, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return b.SealUntil(pt, name, exp), nil
}

// SealUntil seals pt for the cookie name until exp: the expiry in clear, a dot, then the
// sealed bytes bound to the name and the expiry.
func (b *Box) SealUntil(pt []byte, name string, exp time.Time) string {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(pt)+b.aead.Overhead())
	_, _ = rand.Read(nonce)
	expS := strconv.FormatInt(exp.Unix(), 10)
	return expS + "." + base64.RawURLEncoding.EncodeToString(b.aead.Seal(nonce, nonce, pt, []byte(name+"\x00"+expS)))
}

// OpenJSON opens what SealJSONUntil sealed for the cookie name, refusing it once expired.
func (b *Box) OpenJSON(s, name string, v any) error {
	pt, err := b.Open(s, name)
	if err != nil {
		return err
	}
	return json.Unmarshal(pt, v)
}

// Open opens what SealUntil sealed for the cookie name, refusing it once expired.
func (b *Box) Open(s, name string) ([]byte, error) {
	expS, body, ok := strings.Cut(s, ".")
	if !ok {
		return nil, errors.New("malformed")
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, err
	}
	if len(raw) < b.aead.NonceSize() {
		return nil, errors.New("short")
	}
	pt, err := b.aead.Open(raw[b.aead.NonceSize():b.aead.NonceSize()], raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():], []byte(name+"\x00"+expS))
	if err != nil {
		return nil, err
	}
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil || !b.now().Before(time.Unix(exp, 0)) { // sealed in whole seconds, rounded down
		return nil, errors.New("expired")
	}
	return pt, nil
}
