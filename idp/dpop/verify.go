package dpop

import (
	"crypto"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Error codes of RFC 9449 (sections 5 and 7.1).
const (
	ErrCodeInvalidProof = "invalid_dpop_proof"
	ErrCodeUseNonce     = "use_dpop_nonce" // RFC 9449 8, 9: retry with the DPoP-Nonce given
)

const (
	proofTyp = "dpop+jwt"
	// window is how far a proof's iat may lie from the server's clock, either way
	// (RFC 9449 11.1): proofs are made just before the request, so a minute covers
	// transit and clock skew; a proof's jti is remembered that long.
	window = 60 * time.Second
	// maxProofLen bounds what is parsed: an RSA-4096 proof is under 2 KiB.
	maxProofLen = 8192
	maxJTILen   = 256
	// replayPrefix namespaces proof jtis in the client-assertion replay store (one
	// namespace per key), so no new table is needed and replicas share what was used.
	replayPrefix = "dpop:"
	// minRSABits refuses weak RSA proof keys.
	minRSABits = 2048
)

// algs are the proof algorithms accepted: asymmetric only (RFC 9449 4.2), never none
// or HMAC.
var algs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.PS256, jose.RS256, jose.EdDSA}

// Algs names the accepted proof algorithms, for discovery and challenges.
func Algs() []string {
	out := make([]string, len(algs))
	for i, a := range algs {
		out[i] = string(a)
	}
	return out
}

// Reasons a proof is refused, one per check of RFC 9449 4.3. Callers and tests branch on
// them with errors.Is; their text is the error_description sent to the client.
var (
	ErrMalformed   = errors.New("the DPoP proof is not a well-formed JWT")
	ErrTyp         = errors.New("the DPoP proof's typ must be dpop+jwt")
	ErrAlg         = errors.New("the DPoP proof's alg is not an accepted asymmetric algorithm")
	ErrJWK         = errors.New("the DPoP proof must carry a valid public jwk in its header")
	ErrPrivateKey  = errors.New("the DPoP proof's jwk must not contain private key material")
	ErrSignature   = errors.New("the DPoP proof's signature does not verify with its jwk")
	ErrClaims      = errors.New("the DPoP proof must carry jti, htm, htu and iat")
	ErrHTM         = errors.New("the DPoP proof's htm does not match the request method")
	ErrHTU         = errors.New("the DPoP proof's htu does not match the request URL")
	ErrIAT         = errors.New("the DPoP proof's iat is too far from the current time")
	ErrATH         = errors.New("the DPoP proof's ath does not match the access token")
	ErrReplay      = errors.New("the DPoP proof was already used")
	ErrKeyMismatch = errors.New("the DPoP proof's key is not the key the token is bound to")
	ErrMissing     = errors.New("a DPoP proof is required")
	ErrMultiple    = errors.New("send exactly one DPoP header")
	ErrNonce       = errors.New("the DPoP proof must carry the server's current nonce (see DPoP-Nonce)")
)

// reasons lists the reasons, to find the one inside a wrapped error.
var reasons = []error{
	ErrMalformed, ErrTyp, ErrAlg, ErrJWK, ErrPrivateKey, ErrSignature,
	ErrClaims, ErrHTM, ErrHTU, ErrIAT, ErrATH, ErrReplay, ErrKeyMismatch,
	ErrMissing, ErrMultiple, ErrNonce,
}

// expected is what a proof must match.
type expected struct {
	Method string // htm: the request's method
	URL    string // htu: the endpoint's URL; query and fragment are ignored
	// AccessToken, at a protected resource, is the token the proof must name in ath.
	AccessToken string
	Now         time.Time
}

// verified is a verified proof.
type verified struct {
	JKT      string // RFC 7638 SHA-256 thumbprint of the proof key, base64url
	JTI      string
	IssuedAt time.Time
	Nonce    string // the nonce claim, "" when absent
}

// verifyProof checks a proof against every rule of RFC 9449 4.3 but the jti replay
// check, which needs the store (Checker.check). Errors wrap one of the Err*
// reasons.
func verifyProof(proof string, want expected) (verified, error) {
	var out verified
	if len(proof) == 0 || len(proof) > maxProofLen || strings.Count(proof, ".") != 2 {
		return out, ErrMalformed
	}
	if err := checkHeader(proof); err != nil {
		return out, err
	}
	jwk, payload, err := verifySignature(proof)
	if err != nil {
		return out, err
	}
	cl, err := checkClaims(payload, want)
	if err != nil {
		return out, err
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return out, ErrJWK
	}
	sec, frac := math.Modf(*cl.IAT)
	out = verified{
		JKT: base64.RawURLEncoding.EncodeToString(tp), JTI: *cl.JTI,
		IssuedAt: time.Unix(int64(sec), int64(frac*1e9)),
	}
	if cl.Nonce != nil {
		out.Nonce = *cl.Nonce
	}
	return out, nil
}

// checkHeader reads the proof's header by hand, so each refusal names its rule; go-jose
// then parses and verifies the same bytes.
func checkHeader(proof string) error {
	rawHeader, err := base64.RawURLEncoding.DecodeString(proof[:strings.IndexByte(proof, '.')])
	if err != nil {
		return ErrMalformed
	}
	// Members are looked up by their exact names, as go-jose does (encoding/json would
	// match struct fields case-insensitively, so "TYP" could stand in for typ).
	var hdr map[string]json.RawMessage
	if json.Unmarshal(rawHeader, &hdr) != nil || hdr == nil {
		return ErrMalformed
	}
	var typ, alg string
	if json.Unmarshal(hdr["typ"], &typ) != nil || !strings.EqualFold(typ, proofTyp) {
		return ErrTyp
	}
	if json.Unmarshal(hdr["alg"], &alg) != nil || !acceptedAlg(alg) {
		return ErrAlg
	}
	var jwkMembers map[string]json.RawMessage
	if json.Unmarshal(hdr["jwk"], &jwkMembers) != nil || jwkMembers == nil {
		return ErrJWK
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"} {
		if _, ok := jwkMembers[private]; ok {
			return ErrPrivateKey
		}
	}
	var check jose.JSONWebKey
	if check.UnmarshalJSON(hdr["jwk"]) != nil { // private members were refused above
		return ErrJWK
	}
	return nil
}

// verifySignature verifies the proof with the public key in its own header and returns
// that key and the payload.
func verifySignature(proof string) (*jose.JSONWebKey, []byte, error) {
	jws, err := jose.ParseSignedCompact(proof, algs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, nil, ErrMalformed
	}
	jwk := jws.Signatures[0].Protected.JSONWebKey
	if jwk == nil || !jwk.Valid() || !jwk.IsPublic() {
		return nil, nil, ErrJWK
	}
	if k, ok := jwk.Key.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
		return nil, nil, ErrJWK
	}
	payload, err := jws.Verify(jwk)
	if err != nil {
		return nil, nil, ErrSignature
	}
	return jwk, payload, nil
}

// proofClaims are a proof's claims; nil where absent.
type proofClaims struct {
	JTI, HTM, HTU *string
	IAT           *float64
	ATH, Nonce    *string
}

// checkClaims reads the payload's claims and checks them against the request.
func checkClaims(payload []byte, want expected) (proofClaims, error) {
	var cl proofClaims
	var members map[string]json.RawMessage
	if json.Unmarshal(payload, &members) != nil {
		return cl, ErrClaims
	}
	for name, dst := range map[string]any{"jti": &cl.JTI, "htm": &cl.HTM, "htu": &cl.HTU, "iat": &cl.IAT, "ath": &cl.ATH, "nonce": &cl.Nonce} {
		if v, ok := members[name]; ok && json.Unmarshal(v, dst) != nil {
			return cl, ErrClaims
		}
	}
	if cl.JTI == nil || cl.HTM == nil || cl.HTU == nil || cl.IAT == nil ||
		*cl.JTI == "" || len(*cl.JTI) > maxJTILen || math.IsNaN(*cl.IAT) || math.IsInf(*cl.IAT, 0) {
		return cl, ErrClaims
	}
	if *cl.HTM != want.Method {
		return cl, ErrHTM
	}
	got, ok1 := normalizeHTU(*cl.HTU)
	exp, ok2 := normalizeHTU(want.URL)
	if !ok1 || !ok2 || got != exp {
		return cl, ErrHTU
	}
	// Compare in seconds as floats, so an absurd iat cannot overflow a time.Time.
	now := float64(want.Now.UnixNano()) / 1e9
	if d := *cl.IAT - now; d > window.Seconds() || d < -window.Seconds() {
		return cl, ErrIAT
	}
	if want.AccessToken != "" {
		if cl.ATH == nil || subtle.ConstantTimeCompare([]byte(*cl.ATH), []byte(TokenHash(want.AccessToken))) != 1 {
			return cl, ErrATH
		}
	}
	return cl, nil
}

func acceptedAlg(alg string) bool {
	for _, a := range algs {
		if string(a) == alg {
			return true
		}
	}
	return false
}
