package idp

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
)

// DPoP, RFC 9449: a client proves possession of a key with a fresh signed proof on every
// request, and the access tokens (and public clients' refresh tokens) it gets are bound to
// that key, so a stolen token is useless without the private key.

// Error codes of RFC 9449 (sections 5 and 7.1).
const (
	ErrCodeInvalidDPoPProof = "invalid_dpop_proof"
	ErrCodeUseDPoPNonce     = "use_dpop_nonce" // RFC 9449 8, 9: retry with the DPoP-Nonce given
)

const (
	dpopTyp = "dpop+jwt"
	// dpopWindow is how far a proof's iat may lie from the server's clock, either way
	// (RFC 9449 11.1): proofs are made just before the request, so a minute covers
	// transit and clock skew; a proof's jti is remembered that long.
	dpopWindow = 60 * time.Second
	// maxDPoPProofLen bounds what is parsed: an RSA-4096 proof is under 2 KiB.
	maxDPoPProofLen = 8192
	maxDPoPJTILen   = 256
	// dpopReplayPrefix namespaces proof jtis in the client-assertion replay store (one
	// namespace per key), so no new table is needed and replicas share what was used.
	dpopReplayPrefix = "dpop:"
	// minDPoPRSABits refuses weak RSA proof keys.
	minDPoPRSABits = 2048
)

// dpopAlgs are the proof algorithms accepted: asymmetric only (RFC 9449 4.2), never none
// or HMAC.
var dpopAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.PS256, jose.RS256, jose.EdDSA}

// DPoPAlgs names the accepted proof algorithms, for discovery and challenges.
func DPoPAlgs() []string {
	out := make([]string, len(dpopAlgs))
	for i, a := range dpopAlgs {
		out[i] = string(a)
	}
	return out
}

// Reasons a proof is refused, one per check of RFC 9449 4.3. Callers and tests branch on
// them with errors.Is; their text is the error_description sent to the client.
var (
	ErrDPoPMalformed   = errors.New("the DPoP proof is not a well-formed JWT")
	ErrDPoPTyp         = errors.New("the DPoP proof's typ must be dpop+jwt")
	ErrDPoPAlg         = errors.New("the DPoP proof's alg is not an accepted asymmetric algorithm")
	ErrDPoPJWK         = errors.New("the DPoP proof must carry a valid public jwk in its header")
	ErrDPoPPrivateKey  = errors.New("the DPoP proof's jwk must not contain private key material")
	ErrDPoPSignature   = errors.New("the DPoP proof's signature does not verify with its jwk")
	ErrDPoPClaims      = errors.New("the DPoP proof must carry jti, htm, htu and iat")
	ErrDPoPHTM         = errors.New("the DPoP proof's htm does not match the request method")
	ErrDPoPHTU         = errors.New("the DPoP proof's htu does not match the request URL")
	ErrDPoPIAT         = errors.New("the DPoP proof's iat is too far from the current time")
	ErrDPoPATH         = errors.New("the DPoP proof's ath does not match the access token")
	ErrDPoPReplay      = errors.New("the DPoP proof was already used")
	ErrDPoPKeyMismatch = errors.New("the DPoP proof's key is not the key the token is bound to")
	ErrDPoPMissing     = errors.New("a DPoP proof is required")
	ErrDPoPMultiple    = errors.New("send exactly one DPoP header")
	ErrDPoPNonce       = errors.New("the DPoP proof must carry the server's current nonce (see DPoP-Nonce)")
)

// dpopReasons lists the reasons, to find the one inside a wrapped error.
var dpopReasons = []error{
	ErrDPoPMalformed, ErrDPoPTyp, ErrDPoPAlg, ErrDPoPJWK, ErrDPoPPrivateKey, ErrDPoPSignature,
	ErrDPoPClaims, ErrDPoPHTM, ErrDPoPHTU, ErrDPoPIAT, ErrDPoPATH, ErrDPoPReplay, ErrDPoPKeyMismatch,
	ErrDPoPMissing, ErrDPoPMultiple, ErrDPoPNonce,
}

// dpopExpect is what a proof must match.
type dpopExpect struct {
	Method string // htm: the request's method
	URL    string // htu: the endpoint's URL; query and fragment are ignored
	// AccessToken, at a protected resource, is the token the proof must name in ath.
	AccessToken string
	Now         time.Time
}

// dpopProof is a verified proof.
type dpopProof struct {
	JKT      string // RFC 7638 SHA-256 thumbprint of the proof key, base64url
	JTI      string
	IssuedAt time.Time
	Nonce    string // the nonce claim, "" when absent
}

// verifyDPoPProof checks a proof against every rule of RFC 9449 4.3 but the jti replay
// check, which needs the store (Provider.useDPoPProof). Errors wrap one of the ErrDPoP*
// reasons.
func verifyDPoPProof(proof string, want dpopExpect) (dpopProof, error) {
	var out dpopProof
	if len(proof) == 0 || len(proof) > maxDPoPProofLen || strings.Count(proof, ".") != 2 {
		return out, ErrDPoPMalformed
	}
	// The header is read by hand first, so each refusal names its rule; go-jose then
	// parses and verifies the same bytes.
	rawHeader, err := base64.RawURLEncoding.DecodeString(proof[:strings.IndexByte(proof, '.')])
	if err != nil {
		return out, ErrDPoPMalformed
	}
	// Members are looked up by their exact names, as go-jose does (encoding/json would
	// match struct fields case-insensitively, so "TYP" could stand in for typ).
	var hdr map[string]json.RawMessage
	if json.Unmarshal(rawHeader, &hdr) != nil || hdr == nil {
		return out, ErrDPoPMalformed
	}
	var typ, alg string
	if json.Unmarshal(hdr["typ"], &typ) != nil || !strings.EqualFold(typ, dpopTyp) {
		return out, ErrDPoPTyp
	}
	if json.Unmarshal(hdr["alg"], &alg) != nil || !acceptedDPoPAlg(alg) {
		return out, ErrDPoPAlg
	}
	var jwkMembers map[string]json.RawMessage
	if json.Unmarshal(hdr["jwk"], &jwkMembers) != nil || jwkMembers == nil {
		return out, ErrDPoPJWK
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"} {
		if _, ok := jwkMembers[private]; ok {
			return out, ErrDPoPPrivateKey
		}
	}
	var check jose.JSONWebKey
	if check.UnmarshalJSON(hdr["jwk"]) != nil { // private members were refused above
		return out, ErrDPoPJWK
	}
	jws, err := jose.ParseSignedCompact(proof, dpopAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return out, ErrDPoPMalformed
	}
	jwk := jws.Signatures[0].Protected.JSONWebKey
	if jwk == nil || !jwk.Valid() || !jwk.IsPublic() {
		return out, ErrDPoPJWK
	}
	if k, ok := jwk.Key.(*rsa.PublicKey); ok && k.N.BitLen() < minDPoPRSABits {
		return out, ErrDPoPJWK
	}
	payload, err := jws.Verify(jwk)
	if err != nil {
		return out, ErrDPoPSignature
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(payload, &members) != nil {
		return out, ErrDPoPClaims
	}
	var cl struct {
		JTI, HTM, HTU *string
		IAT           *float64
		ATH, Nonce    *string
	}
	for name, dst := range map[string]any{"jti": &cl.JTI, "htm": &cl.HTM, "htu": &cl.HTU, "iat": &cl.IAT, "ath": &cl.ATH, "nonce": &cl.Nonce} {
		if v, ok := members[name]; ok && json.Unmarshal(v, dst) != nil {
			return out, ErrDPoPClaims
		}
	}
	if cl.JTI == nil || cl.HTM == nil || cl.HTU == nil || cl.IAT == nil ||
		*cl.JTI == "" || len(*cl.JTI) > maxDPoPJTILen || math.IsNaN(*cl.IAT) || math.IsInf(*cl.IAT, 0) {
		return out, ErrDPoPClaims
	}
	if *cl.HTM != want.Method {
		return out, ErrDPoPHTM
	}
	got, ok1 := normalizeHTU(*cl.HTU)
	exp, ok2 := normalizeHTU(want.URL)
	if !ok1 || !ok2 || got != exp {
		return out, ErrDPoPHTU
	}
	// Compare in seconds as floats, so an absurd iat cannot overflow a time.Time.
	now := float64(want.Now.UnixNano()) / 1e9
	if d := *cl.IAT - now; d > dpopWindow.Seconds() || d < -dpopWindow.Seconds() {
		return out, ErrDPoPIAT
	}
	if want.AccessToken != "" {
		if cl.ATH == nil || subtle.ConstantTimeCompare([]byte(*cl.ATH), []byte(accessTokenHash(want.AccessToken))) != 1 {
			return out, ErrDPoPATH
		}
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return out, ErrDPoPJWK
	}
	sec, frac := math.Modf(*cl.IAT)
	out = dpopProof{
		JKT: base64.RawURLEncoding.EncodeToString(tp), JTI: *cl.JTI,
		IssuedAt: time.Unix(int64(sec), int64(frac*1e9)),
	}
	if cl.Nonce != nil {
		out.Nonce = *cl.Nonce
	}
	return out, nil
}

func acceptedDPoPAlg(alg string) bool {
	for _, a := range dpopAlgs {
		if string(a) == alg {
			return true
		}
	}
	return false
}

// accessTokenHash is RFC 9449 4.2's ath: base64url of the SHA-256 of the token's ASCII.
func accessTokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// normalizeHTU reduces an http(s) URL to the form htu values are compared in (RFC 9449
// 4.3): query and fragment dropped, then RFC 3986 6.2.2 syntax-based normalisation (case
// of scheme and host, percent-encoding, dot segments) and 6.2.3 scheme-based
// normalisation (default port, empty path). ok is false for anything but an absolute
// http(s) URL without userinfo.
func normalizeHTU(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" && !(scheme == "https" && port == "443") && !(scheme == "http" && port == "80") {
		host += ":" + port
	}
	path := removeDotSegments(normalizePercent(u.EscapedPath()))
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, true
}

// normalizePercent decodes percent-encoded unreserved characters and upper-cases the hex
// digits of the others (RFC 3986 6.2.2.1, 6.2.2.2).
func normalizePercent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			b.WriteByte(s[i])
			continue
		}
		c := unhex(s[i+1])<<4 | unhex(s[i+2])
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteString(strings.ToUpper(s[i : i+3]))
		}
		i += 2
	}
	return b.String()
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// removeDotSegments is RFC 3986 5.2.4.
func removeDotSegments(in string) string {
	out := ""
	up := func() {
		if i := strings.LastIndexByte(out, '/'); i >= 0 {
			out = out[:i]
		} else {
			out = ""
		}
	}
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			up()
		case in == "/..":
			in = "/"
			up()
		case in == "." || in == "..":
			in = ""
		default:
			start := 0
			if in[0] == '/' {
				start = 1
			}
			i := strings.IndexByte(in[start:], '/')
			if i < 0 {
				i = len(in)
			} else {
				i += start
			}
			out += in[:i]
			in = in[i:]
		}
	}
	return out
}

// dpopError is the OAuth error for a refused proof: invalid_dpop_proof, 400 at the token
// endpoint and 401 at resources (RFC 9449 5, 7.1).
func dpopError(err error, status int) *oe.Error {
	desc := ErrDPoPMalformed.Error()
	for _, r := range dpopReasons {
		if errors.Is(err, r) {
			desc = r.Error()
			break
		}
	}
	if errors.Is(err, ErrDPoPNonce) {
		return &oe.Error{Code: ErrCodeUseDPoPNonce, Description: desc, Status: status}
	}
	return &oe.Error{Code: ErrCodeInvalidDPoPProof, Description: desc, Status: status}
}

// dpopHeader returns the request's DPoP header; more than one is refused (RFC 9449 4.3).
func dpopHeader(r *http.Request) (proof string, present bool, err error) {
	v := r.Header.Values("DPoP")
	switch len(v) {
	case 0:
		return "", false, nil
	case 1:
		return v[0], true, nil
	}
	return "", true, ErrDPoPMultiple
}

// checkDPoP verifies a proof and spends its jti: a proof is accepted once per key, across
// replicas, for as long as its iat is acceptable. Errors wrap an ErrDPoP* reason, or are
// store failures.
func (p *Provider) checkDPoP(ctx context.Context, proof string, want dpopExpect) (dpopProof, error) {
	want.Now = p.now()
	dp, err := verifyDPoPProof(proof, want)
	if err != nil {
		return dp, err
	}
	if p.cfg.DPoPNonce && !p.validDPoPNonce(dp.Nonce, want.Now) {
		return dp, ErrDPoPNonce
	}
	switch err := p.store.UseAssertion(ctx, dpopReplayPrefix+dp.JKT, dp.JTI, dp.IssuedAt.Add(dpopWindow+time.Second)); {
	case errors.Is(err, store.ErrAlreadyUsed):
		return dp, ErrDPoPReplay
	case err != nil:
		return dp, fmt.Errorf("dpop: record proof: %w", err)
	}
	return dp, nil
}

// dpopRequired reports whether a client's access tokens must be DPoP-bound: its own
// setting, else the provider's default.
func (p *Provider) dpopRequired(clientID string) bool {
	if v, ok := p.cfg.DPoPBoundClients[clientID]; ok {
		return v
	}
	return p.cfg.DPoPBoundDefault
}

// tokenEndpointDPoP checks the DPoP proof of a token request (RFC 9449 5) and returns the
// thumbprint the tokens are to be bound to; "" without a proof, which a client that must
// use DPoP is refused.
func (p *Provider) tokenEndpointDPoP(r *http.Request, client store.Client) (string, *oe.Error) {
	return p.endpointDPoP(r, client, PathToken)
}

// endpointDPoP checks the proof sent to one of the provider's POST endpoints (token, PAR).
func (p *Provider) endpointDPoP(r *http.Request, client store.Client, path string) (string, *oe.Error) {
	proof, present, err := dpopHeader(r)
	if err != nil {
		return "", dpopError(err, http.StatusBadRequest)
	}
	if !present {
		if path == PathToken && p.dpopRequired(client.ID) {
			return "", dpopError(ErrDPoPMissing, http.StatusBadRequest)
		}
		return "", nil
	}
	dp, err := p.checkDPoP(r.Context(), proof, dpopExpect{Method: http.MethodPost, URL: p.URL(path)})
	if err != nil {
		return "", p.dpopFailure(r.Context(), err, http.StatusBadRequest)
	}
	return dp.JKT, nil
}

// dpopFailure maps a checkDPoP error: a refused proof, or a store failure.
func (p *Provider) dpopFailure(ctx context.Context, err error, status int) *oe.Error {
	for _, r := range dpopReasons {
		if errors.Is(err, r) {
			return dpopError(err, status)
		}
	}
	p.log.ErrorContext(ctx, "dpop", "err", err)
	return &oe.Error{Code: oe.ServerError, Description: "internal error", Status: http.StatusInternalServerError}
}

// confirmation is RFC 7800's cnf claim with RFC 9449 6.1's jkt member.
type confirmation struct {
	JKT string `json:"jkt"`
}

// A DPoP-bound refresh token of a public client carries its key's thumbprint after this
// separator. The store keeps only the hash of the whole value, so the thumbprint cannot be
// changed or stripped without the token becoming unknown: the binding needs no column.
const refreshJKTSep = "~"

// bindRefresh binds a refresh token value to a key thumbprint.
func bindRefresh(secret, jkt string) string {
	if jkt == "" {
		return secret
	}
	return secret + refreshJKTSep + jkt
}

// refreshJKT is the thumbprint a refresh token value is bound to, "" for none.
func refreshJKT(raw string) string {
	_, jkt, _ := strings.Cut(raw, refreshJKTSep)
	return jkt
}

// validJKT checks the syntax of a SHA-256 JWK thumbprint: 43 base64url characters.
func validJKT(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// presentedToken is an access token as a request presents it.
type presentedToken struct {
	Token string
	DPoP  bool // sent as Authorization: DPoP (RFC 9449 7.1), else Bearer (RFC 6750)
}

// resourceToken extracts the access token of a protected-resource request: Authorization
// DPoP, or Bearer in any form RFC 6750 allows.
func resourceToken(r *http.Request) (presentedToken, *oe.Error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "DPoP") {
			// DPoP is set on errors too, so that they are answered with a DPoP challenge.
			if len(r.Header.Values("Authorization")) > 1 {
				return presentedToken{DPoP: true}, oe.New(oe.InvalidRequest, "more than one Authorization header")
			}
			if r.URL.Query().Has("access_token") {
				return presentedToken{DPoP: true}, oe.New(oe.InvalidRequest, "access tokens in the query are not accepted")
			}
			tok = strings.TrimSpace(tok)
			if tok == "" {
				return presentedToken{DPoP: true}, oe.New(oe.InvalidRequest, "Authorization must be: DPoP <token>")
			}
			if r.Method == http.MethodPost {
				// A second token in the body: RFC 6750 2 allows one method per request.
				if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
					r.Body = http.MaxBytesReader(nil, r.Body, maxParamBytes)
					if err := r.ParseForm(); err != nil {
						return presentedToken{DPoP: true}, oe.New(oe.InvalidRequest, "unparsable form body")
					}
					if r.PostForm.Has("access_token") {
						return presentedToken{DPoP: true}, oe.New(oe.InvalidRequest, "more than one access token")
					}
				}
			}
			return presentedToken{Token: tok, DPoP: true}, nil
		}
	}
	tok, e := bearerToken(r)
	return presentedToken{Token: tok}, e
}

// checkSenderConstraint enforces a token's DPoP binding at a protected resource (RFC 9449
// 7): a bound token needs the DPoP scheme and a fresh proof by its key for this request
// (method, URL) naming the token in ath; a Bearer-only token may not be sent as DPoP.
func (p *Provider) checkSenderConstraint(r *http.Request, pt presentedToken, at accessClaims, htu string) *oe.Error {
	bound := at.Cnf != nil && at.Cnf.JKT != ""
	if !pt.DPoP {
		if bound {
			return oe.New(oe.InvalidToken, "the access token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof")
		}
		if _, present, _ := dpopHeader(r); present {
			// A proof with a Bearer token binds nothing; ignoring it would hide a client bug.
			return oe.New(oe.InvalidRequest, "a DPoP proof was sent with a Bearer token")
		}
		return nil
	}
	if !bound {
		return oe.New(oe.InvalidToken, "the access token is not DPoP-bound: send it as Bearer")
	}
	proof, present, err := dpopHeader(r)
	if err == nil && !present {
		err = ErrDPoPMissing
	}
	if err != nil {
		return dpopError(err, http.StatusUnauthorized)
	}
	dp, err := p.checkDPoP(r.Context(), proof, dpopExpect{Method: r.Method, URL: htu, AccessToken: pt.Token})
	if err == nil && subtle.ConstantTimeCompare([]byte(dp.JKT), []byte(at.Cnf.JKT)) != 1 {
		err = ErrDPoPKeyMismatch
	}
	if err != nil {
		return p.dpopFailure(r.Context(), err, http.StatusUnauthorized)
	}
	return nil
}

// requestURL is the URL a resource request was sent to as the client sees it: the
// issuer's scheme and host (the provider may sit behind a TLS proxy) and the request path.
func (p *Provider) requestURL(r *http.Request) string {
	u, err := url.Parse(p.cfg.Issuer)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + r.URL.EscapedPath()
}

// writeResourceError answers a protected-resource error: with a DPoP challenge (RFC 9449
// 7.1) when the request used the DPoP scheme, else as RFC 6750 says. A request without any
// token is offered both schemes.
func writeResourceError(w http.ResponseWriter, e *oe.Error, usedDPoP bool) {
	if e.Code == oe.ServerError {
		oe.WriteJSON(w, e, false)
		return
	}
	if !usedDPoP && e.Code == "" {
		// RFC 6750 3.1 and RFC 9449 7.1: no error information, one challenge per scheme.
		w.Header().Set("WWW-Authenticate", `Bearer realm="motlan"`)
		w.Header().Add("WWW-Authenticate", DPoPChallenge(""))
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if !usedDPoP {
		oe.WriteBearer(w, e)
		return
	}
	w.Header().Set("WWW-Authenticate", DPoPChallenge(e.Code, e.Description))
	if e.Status == 0 && (e.Code == oe.InvalidToken || e.Code == ErrCodeInvalidDPoPProof) {
		e = &oe.Error{Code: e.Code, Description: e.Description, Status: http.StatusUnauthorized}
	}
	oe.WriteJSON(w, e, false)
}

// DPoPChallenge is a WWW-Authenticate value for the DPoP scheme (RFC 9449 7.1): with an
// error code and description when given, and always the accepted algorithms.
func DPoPChallenge(code string, description ...string) string {
	c := `DPoP realm="motlan"`
	if code != "" {
		c += `, error="` + code + `"`
		if len(description) > 0 && description[0] != "" {
			c += `, error_description="` + headerSafe(description[0]) + `"`
		}
	}
	return c + `, algs="` + strings.Join(DPoPAlgs(), " ") + `"`
}

// headerSafe keeps a description inside a quoted-string's safe characters.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return '\''
		}
		return r
	}, s)
}

// Server nonces (RFC 9449 8, 9), with Config.DPoPNonce: a proof must carry a nonce the
// server handed out recently, which bounds how long a proof made in advance (by malware on
// the client, with a clock set ahead) stays usable. Nonces are stateless, so replicas need
// nothing shared but the secret: the time slot they were made in and its MAC. A nonce is
// accepted in its own slot and the next, so a fresh one lives one to two slots.
const dpopNonceSlot = 5 * time.Minute

// dpopNonce is the nonce for the slot of now.
func (p *Provider) dpopNonce(now time.Time) string {
	return p.dpopNonceFor(now.Unix() / int64(dpopNonceSlot/time.Second))
}

func (p *Provider) dpopNonceFor(slot int64) string {
	key, err := derive(p.cfg.Secret, "motlan dpop nonce")
	if err != nil {
		return "" // only for a length hkdf cannot produce
	}
	b := binary.BigEndian.AppendUint64(nil, uint64(slot))
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b)[:8+16])
}

// validDPoPNonce reports whether nonce was made by this provider in the current slot or
// the one before.
func (p *Provider) validDPoPNonce(nonce string, now time.Time) bool {
	if len(nonce) != 32 { // base64url of 24 bytes
		return false
	}
	slot := now.Unix() / int64(dpopNonceSlot/time.Second)
	for _, s := range []int64{slot, slot - 1} {
		if hmac.Equal([]byte(nonce), []byte(p.dpopNonceFor(s))) {
			return true
		}
	}
	return false
}

// OfferDPoPNonce sets the DPoP-Nonce response header (RFC 9449 8.2) when the provider
// requires nonces and the request carries a DPoP proof, so that the client always holds a
// fresh one: on a use_dpop_nonce error, and on success for its next request.
func (p *Provider) OfferDPoPNonce(w http.ResponseWriter, r *http.Request) {
	if !p.cfg.DPoPNonce || r.Header.Get("DPoP") == "" {
		return
	}
	if n := p.dpopNonce(p.now()); n != "" {
		w.Header().Set("DPoP-Nonce", n)
	}
}
