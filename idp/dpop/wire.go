package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"strings"
	"time"

	oe "github.com/motlan/motlan/idp/oautherr"
)

// OAuthError is the OAuth error for a refused proof: invalid_dpop_proof, 400 at the token
// endpoint and 401 at resources (RFC 9449 5, 7.1).
func OAuthError(err error, status int) *oe.Error {
	desc := ErrMalformed.Error()
	for _, r := range reasons {
		if errors.Is(err, r) {
			desc = r.Error()
			break
		}
	}
	if errors.Is(err, ErrNonce) {
		return &oe.Error{Code: ErrCodeUseNonce, Description: desc, Status: status}
	}
	return &oe.Error{Code: ErrCodeInvalidProof, Description: desc, Status: status}
}

// Header returns the request's DPoP header; more than one is refused (RFC 9449 4.3).
func Header(r *http.Request) (proof string, present bool, err error) {
	v := r.Header.Values("DPoP")
	switch len(v) {
	case 0:
		return "", false, nil
	case 1:
		return v[0], true, nil
	}
	return "", true, ErrMultiple
}

// A DPoP-bound refresh token of a public client carries its key's thumbprint after this
// separator. The store keeps only the hash of the whole value, so the thumbprint cannot be
// changed or stripped without the token becoming unknown: the binding needs no column.
const refreshJKTSep = "~"

// BindRefresh binds a refresh token value to a key thumbprint.
func BindRefresh(secret, jkt string) string {
	if jkt == "" {
		return secret
	}
	return secret + refreshJKTSep + jkt
}

// RefreshJKT is the thumbprint a refresh token value is bound to, "" for none.
func RefreshJKT(raw string) string {
	_, jkt, _ := strings.Cut(raw, refreshJKTSep)
	return jkt
}

// ValidJKT checks the syntax of a SHA-256 JWK thumbprint: 43 base64url characters.
func ValidJKT(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// Challenge is a WWW-Authenticate value for the DPoP scheme (RFC 9449 7.1): with an
// error code and description when given, and always the accepted algorithms.
func Challenge(code string, description ...string) string {
	c := `DPoP realm="motlan"`
	if code != "" {
		c += `, error="` + code + `"`
		if len(description) > 0 && description[0] != "" {
			c += `, error_description="` + oe.QuoteSafe(description[0]) + `"`
		}
	}
	return c + `, algs="` + strings.Join(Algs(), " ") + `"`
}

// Server nonces (RFC 9449 8, 9), with CheckerConfig.Nonce: a proof must carry a nonce the
// server handed out recently, which bounds how long a proof made in advance (by malware on
// the client, with a clock set ahead) stays usable. Nonces are stateless, so replicas need
// nothing shared but the secret: the time slot they were made in and its MAC. A nonce is
// accepted in its own slot and the next, so a fresh one lives one to two slots.
const nonceSlot = 5 * time.Minute

// nonce is the nonce for the slot of now.
func (c *Checker) nonce(now time.Time) string {
	return c.nonceFor(now.Unix() / int64(nonceSlot/time.Second))
}

func (c *Checker) nonceFor(slot int64) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(slot))
	m := hmac.New(sha256.New, c.nonceKey)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b)[:8+16])
}

// validNonce reports whether nonce was made by this provider in the current slot or
// the one before.
func (c *Checker) validNonce(nonce string, now time.Time) bool {
	if len(nonce) != 32 { // base64url of 24 bytes
		return false
	}
	slot := now.Unix() / int64(nonceSlot/time.Second)
	for _, s := range []int64{slot, slot - 1} {
		if hmac.Equal([]byte(nonce), []byte(c.nonceFor(s))) {
			return true
		}
	}
	return false
}

// OfferNonce sets the DPoP-Nonce response header (RFC 9449 8.2) when the provider
// requires nonces and the request carries a DPoP proof, so that the client always holds a
// fresh one: on a use_dpop_nonce error, and on success for its next request.
func (c *Checker) OfferNonce(w http.ResponseWriter, r *http.Request) {
	if !c.cfg.Nonce || r.Header.Get("DPoP") == "" {
		return
	}
	if n := c.nonce(c.cfg.Now()); n != "" {
		w.Header().Set("DPoP-Nonce", n)
	}
}
