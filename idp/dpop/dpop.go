package dpop

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Key signs proofs with one private key, whose public half travels in each proof's jwk.
type Key struct {
	signer jose.Signer
	jkt    string
	// Now gives a proof's iat; nil is time.Now.
	Now func() time.Time
	// Nonce, when set, goes into every proof: the server's last DPoP-Nonce (RFC 9449 8).
	Nonce string
}

// New returns a Key for a private key (*ecdsa.PrivateKey, *rsa.PrivateKey or
// ed25519.PrivateKey) and its JWS algorithm (ES256, ES384, PS256, RS256, EdDSA).
func New(priv crypto.Signer, alg jose.SignatureAlgorithm) (*Key, error) {
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt")
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: priv}, opts)
	if err != nil {
		return nil, fmt.Errorf("dpop: signer: %w", err)
	}
	pub := jose.JSONWebKey{Key: priv.Public()}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("dpop: thumbprint: %w", err)
	}
	return &Key{signer: s, jkt: base64.RawURLEncoding.EncodeToString(tp)}, nil
}

// Thumbprint is the key's RFC 7638 SHA-256 thumbprint, base64url: the dpop_jkt
// authorization parameter and the jkt of tokens bound to this key.
func (k *Key) Thumbprint() string { return k.jkt }

// Claims are a proof's claims (RFC 9449 4.2).
type Claims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	ATH   string `json:"ath,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

// Proof makes a fresh proof for a request: method and URL (query and fragment are not
// part of htu, RFC 9449 4.2), and accessToken when the request presents one (ath).
func (k *Key) Proof(method, url, accessToken string) (string, error) {
	now := time.Now
	if k.Now != nil {
		now = k.Now
	}
	c := Claims{JTI: rand.Text(), HTM: method, HTU: stripQuery(url), IAT: now().Unix(), Nonce: k.Nonce}
	if accessToken != "" {
		c.ATH = TokenHash(accessToken)
	}
	return k.Sign(c)
}

// Sign signs arbitrary claims: tests use it for proofs that are wrong on purpose.
func (k *Key) Sign(c Claims) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	jws, err := k.signer.Sign(b)
	if err != nil {
		return "", fmt.Errorf("dpop: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// TokenHash is the ath of an access token: base64url(SHA-256(token)).
func TokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Authorize sets the DPoP header of r, and, when accessToken is given, Authorization:
// DPoP with the token (RFC 9449 7.1).
func (k *Key) Authorize(r *http.Request, accessToken string) error {
	u := *r.URL
	proof, err := k.Proof(r.Method, u.String(), accessToken)
	if err != nil {
		return err
	}
	r.Header.Set("DPoP", proof)
	if accessToken != "" {
		r.Header.Set("Authorization", "DPoP "+accessToken)
	}
	return nil
}

func stripQuery(u string) string {
	for i := 0; i < len(u); i++ {
		if u[i] == '?' || u[i] == '#' {
			return u[:i]
		}
	}
	return u
}
