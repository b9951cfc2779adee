package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"strings"
)

// Signature algorithms the manager can create keys for.
const (
	ES256 = "ES256" // ECDSA P-256 with SHA-256
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256
)

// Errors from signing and verifying. Verification failures all match ErrInvalidToken;
// ErrUnknownKey and ErrBadSignature say more.
var (
	ErrUnsupportedAlg = errors.New("keys: unsupported algorithm")
	ErrNoActiveKey    = errors.New("keys: no active key")
	ErrInvalidToken   = errors.New("keys: invalid token")
	ErrUnknownKey     = errors.New("keys: unknown or retired key")
	ErrBadSignature   = errors.New("keys: bad signature")
)

// maxTokenSize bounds what Verify parses.
const maxTokenSize = 64 << 10

var b64 = base64.RawURLEncoding.Strict()

// Header is the protected header of a token this package signed.
type Header struct {
	Alg   string // "ES256" | "RS256"
	KeyID string // kid
	Type  string // typ, may be empty
}

// encodeHeader returns base64url(JSON header) followed by a dot.
func encodeHeader(alg, kid, typ string) string {
	h := struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ,omitempty"`
	}{alg, kid, typ}
	j, err := json.Marshal(h)
	if err != nil { // strings always marshal
		panic(err)
	}
	return b64.EncodeToString(j) + "."
}

// signCompact builds a compact JWS: the header prefix hdr ("<b64 header>."), the payload
// and the signature over both.
func signCompact(k *material, hdr string, payload []byte) (string, error) {
	sigLen := k.sigLen
	buf := make([]byte, 0, len(hdr)+b64.EncodedLen(len(payload))+1+b64.EncodedLen(sigLen))
	buf = append(buf, hdr...)
	buf = b64.AppendEncode(buf, payload)
	digest := sha256.Sum256(buf)
	// An in-process ECDSA key signs deterministically (RFC 6979, rand nil): its nonce
	// comes from an HMAC-SHA-256 DRBG, where the hedged one runs on SHA-512 (about 10 %
	// of a signature here). Other signers (RSA, an HSM) get the system's randomness.
	var random io.Reader = rand.Reader
	if _, ok := k.signer.(*ecdsa.PrivateKey); ok {
		random = nil
	}
	sig, err := k.signer.Sign(random, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("keys: signing with %s: %w", k.id, err)
	}
	if k.alg == ES256 {
		var raw [64]byte
		if !derToRaw(sig, raw[:]) {
			return "", fmt.Errorf("keys: signing with %s: malformed ECDSA signature", k.id)
		}
		sig = raw[:]
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}

// derToRaw converts an ASN.1 ECDSA-Sig-Value into fixed-size R||S (RFC 7518 section 3.4).
func derToRaw(der, out []byte) bool {
	n := len(out) / 2
	if len(der) < 2 || der[0] != 0x30 || int(der[1]) != len(der)-2 || der[1] >= 0x80 {
		return false
	}
	rest := der[2:]
	for i := range 2 {
		if len(rest) < 2 || rest[0] != 0x02 {
			return false
		}
		l := int(rest[1])
		if l == 0 || l >= 0x80 || len(rest) < 2+l {
			return false
		}
		v := rest[2 : 2+l]
		rest = rest[2+l:]
		for len(v) > 0 && v[0] == 0 {
			v = v[1:]
		}
		if len(v) > n {
			return false
		}
		copy(out[i*n+n-len(v):(i+1)*n], v)
	}
	return len(rest) == 0
}

// parsed is a compact JWS split into its parts, not yet verified.
type parsed struct {
	header       Header
	signingInput string
	payload      []byte
	sig          []byte
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidToken}, args...)...)
}

func parseCompact(token string) (parsed, error) {
	var p parsed
	if len(token) > maxTokenSize {
		return p, invalid("token too large")
	}
	i := strings.IndexByte(token, '.')
	j := strings.LastIndexByte(token, '.')
	if i < 0 || i == j || strings.IndexByte(token[i+1:j], '.') >= 0 {
		return p, invalid("not a compact JWS")
	}
	hb, err := b64.DecodeString(token[:i])
	if err != nil {
		return p, invalid("header encoding")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(hb, &fields); err != nil {
		return p, invalid("header JSON")
	}
	for name := range fields {
		switch name {
		case "alg", "kid", "typ":
		default: // crit, b64, jku, jwk, x5u, ...: we never emit them
			return p, invalid("unexpected header %q", name)
		}
	}
	str := func(name string, required bool) (string, error) {
		raw, ok := fields[name]
		if !ok {
			if required {
				return "", invalid("header lacks %s", name)
			}
			return "", nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || (required && s == "") {
			return "", invalid("header %s", name)
		}
		return s, nil
	}
	if p.header.Alg, err = str("alg", true); err != nil {
		return p, err
	}
	if p.header.KeyID, err = str("kid", true); err != nil {
		return p, err
	}
	if p.header.Type, err = str("typ", false); err != nil {
		return p, err
	}
	if p.payload, err = b64.DecodeString(token[i+1 : j]); err != nil {
		return p, invalid("payload encoding")
	}
	if p.sig, err = b64.DecodeString(token[j+1:]); err != nil {
		return p, invalid("signature encoding")
	}
	p.signingInput = token[:j]
	return p, nil
}

// verifySig checks sig over input with pub for alg.
func verifySig(alg string, pub crypto.PublicKey, input string, sig []byte) bool {
	digest := sha256.Sum256([]byte(input))
	switch alg {
	case ES256:
		pk, ok := pub.(*ecdsa.PublicKey)
		if !ok || len(sig) != 64 {
			return false
		}
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pk, digest[:], r, s)
	case RS256:
		pk, ok := pub.(*rsa.PublicKey)
		return ok && rsa.VerifyPKCS1v15(pk, crypto.SHA256, digest[:], sig) == nil
	}
	return false
}

// LeftHalfHash computes at_hash or c_hash (OpenID Connect Core 3.1.3.6, 3.3.2.11): the
// base64url of the left half of the hash of value, the hash being the one of the ID
// token's alg (SHA-512 for EdDSA, as go-oidc takes it: an eID may sign with Ed25519).
func LeftHalfHash(alg, value string) (string, error) {
	var h hash.Hash
	switch alg {
	case ES256, RS256, "PS256", "HS256":
		h = sha256.New()
	case "ES384", "RS384", "PS384", "HS384":
		h = sha512.New384()
	case "ES512", "RS512", "PS512", "HS512", "EdDSA":
		h = sha512.New()
	default:
		return "", fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
	}
	h.Write([]byte(value))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), nil
}
