package portal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// sealer encrypts cookie values with AES-256-GCM under a key that lives only in this
// process: a restart logs everyone out, which is what a stateless example wants. The
// cookie name is the additional data, so a value sealed for one cookie does not open as
// another.
type sealer struct {
	aead   cipher.AEAD
	secure bool // Secure attribute and the __Host- prefix, when the portal runs on https
}

func newSealer(secure bool) (*sealer, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, secure: secure}, nil
}

// sealed is the envelope of every sealed cookie: the payload and its expiry.
type sealed[T any] struct {
	Exp  int64 `json:"exp"`
	Data T     `json:"d"`
}

var errCookie = errors.New("portal: missing, expired or tampered cookie")

func (s *sealer) name(base string) string {
	if s.secure {
		return "__Host-" + base
	}
	return base
}

// set seals v into the cookie base, valid for ttl.
func setSealed[T any](s *sealer, w http.ResponseWriter, base string, v T, ttl time.Duration) error {
	name := s.name(base)
	plain, err := json.Marshal(sealed[T]{Exp: time.Now().Add(ttl).Unix(), Data: v})
	if err != nil {
		return err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	box := s.aead.Seal(nonce, nonce, plain, []byte(name))
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    base64.RawURLEncoding.EncodeToString(box),
		Path:     "/",
		MaxAge:   int(ttl / time.Second),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// getSealed opens the cookie base into v.
func getSealed[T any](s *sealer, r *http.Request, base string) (T, error) {
	var zero T
	name := s.name(base)
	c, err := r.Cookie(name)
	if err != nil {
		return zero, errCookie
	}
	box, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(box) < s.aead.NonceSize()+s.aead.Overhead() {
		return zero, errCookie
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, box[:n], box[n:], []byte(name))
	if err != nil {
		return zero, errCookie
	}
	var env sealed[T]
	if err := json.Unmarshal(plain, &env); err != nil || time.Now().Unix() >= env.Exp {
		return zero, errCookie
	}
	return env.Data, nil
}

// clear deletes the cookie base.
func (s *sealer) clear(w http.ResponseWriter, base string) {
	http.SetCookie(w, &http.Cookie{
		Name: s.name(base), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}
