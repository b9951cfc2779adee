package clientauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/motlan/motlan/idp/internal/web"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
)

// Clients finds registered clients.
type Clients interface {
	Get(ctx context.Context, id string) (store.Client, bool)
}

// Config configures an Authenticator.
type Config struct {
	Issuer     string
	TokenURL   string // an assertion's aud may name the issuer or this
	Clients    Clients
	Assertions store.Assertions // spent private_key_jwt assertion IDs
	Now        func() time.Time
}

// Authenticator authenticates clients.
type Authenticator struct {
	cfg Config
}

// New builds an Authenticator.
func New(cfg Config) *Authenticator { return &Authenticator{cfg: cfg} }

// ParseForm reads a request to a token-style endpoint (RFC 6749 3.2): POST,
// form-encoded, no parameter twice, nothing in the query.
func ParseForm(r *http.Request) *oe.Error {
	if r.Method != http.MethodPost {
		return &oe.Error{Code: oe.InvalidRequest, Description: "the token endpoint takes POST", Status: http.StatusMethodNotAllowed}
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return oe.New(oe.InvalidRequest, "Content-Type must be application/x-www-form-urlencoded")
	}
	if r.URL.RawQuery != "" {
		return oe.New(oe.InvalidRequest, "parameters belong in the body, not the query")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, web.MaxParamBytes)
	if err := r.ParseForm(); err != nil {
		return oe.New(oe.InvalidRequest, "the body is not a valid form or is too large")
	}
	if !web.Storable(r.PostForm) {
		return oe.New(oe.InvalidRequest, "parameters must be UTF-8 text")
	}
	for name, v := range r.PostForm {
		if len(v) > 1 {
			return oe.New(oe.InvalidRequest, "a parameter is repeated%s", web.Named(name))
		}
	}
	return nil
}

const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Authenticate is the one place every grant authenticates its client (RFC 6749 2.3,
// OIDC Core 9). The method used must be the one the client registered. basic reports
// whether HTTP Basic was tried, for the WWW-Authenticate challenge.
func (a *Authenticator) Authenticate(ctx context.Context, r *http.Request) (c store.Client, basic bool, err *oe.Error) {
	form := r.PostForm
	user, pass, hasBasic := r.BasicAuth()
	assertion := form.Get("client_assertion")
	method, id := "", ""
	switch {
	case hasBasic:
		if form.Get("client_secret") != "" || assertion != "" {
			return c, true, oe.New(oe.InvalidRequest, "use exactly one client authentication method")
		}
		// RFC 6749 2.3.1: id and secret are form-urlencoded before Basic encoding.
		var e1, e2 error
		id, e1 = url.QueryUnescape(user)
		pass, e2 = url.QueryUnescape(pass)
		if e1 != nil || e2 != nil {
			return c, true, oe.New(oe.InvalidClient, "malformed Basic credentials")
		}
		method = "client_secret_basic"
	case assertion != "":
		if form.Get("client_secret") != "" {
			return c, false, oe.New(oe.InvalidRequest, "use exactly one client authentication method")
		}
		if form.Get("client_assertion_type") != clientAssertionType {
			return c, false, oe.New(oe.InvalidClient, "client_assertion_type must be "+clientAssertionType)
		}
		method = "private_key_jwt"
		id = form.Get("client_id")
		if id == "" {
			id = unverifiedSubject(assertion)
		}
	case form.Get("client_secret") != "":
		method, id, pass = "client_secret_post", form.Get("client_id"), form.Get("client_secret")
	default:
		method, id = "none", form.Get("client_id")
	}
	if bid := form.Get("client_id"); bid != "" && bid != id {
		return c, hasBasic, oe.New(oe.InvalidRequest, "client_id does not match the authenticated client")
	}
	client, ok := a.cfg.Clients.Get(ctx, id)
	if id == "" || !ok {
		return c, hasBasic, oe.New(oe.InvalidClient, "unknown client")
	}
	if client.AuthMethod != method {
		return c, hasBasic, oe.New(oe.InvalidClient, "this client must authenticate with %s", client.AuthMethod)
	}
	switch method {
	case "client_secret_basic", "client_secret_post":
		if !CheckSecret(client.SecretHash, pass) {
			return c, hasBasic, oe.New(oe.InvalidClient, "client authentication failed")
		}
	case "private_key_jwt":
		if e := a.checkAssertion(ctx, client, assertion); e != nil {
			return c, false, e
		}
	}
	return client, hasBasic, nil
}

// HashSecret returns the stored form of a client secret. Client secrets are long random
// strings (config enforces at least 32 characters), so a salted SHA-256 resists guessing;
// a slow hash would cost more CPU per token request than all of the login's other work.
func HashSecret(salt []byte, secret string) string {
	sum := sha256.Sum256(append(append([]byte{}, salt...), secret...))
	return "sha256:" + hex.EncodeToString(salt) + ":" + hex.EncodeToString(sum[:])
}

// CheckSecret compares a presented secret with its stored hash in constant time.
func CheckSecret(stored, secret string) bool {
	parts := strings.Split(stored, ":")
	if len(parts) != 3 || parts[0] != "sha256" || secret == "" {
		return false
	}
	salt, err := hex.DecodeString(parts[1])
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(HashSecret(salt, secret)), []byte(stored)) == 1
}

func unverifiedSubject(assertion string) string {
	tok, err := jwt.ParseSigned(assertion, algs)
	if err != nil {
		return ""
	}
	var cl jwt.Claims
	if tok.UnsafeClaimsWithoutVerification(&cl) != nil {
		return ""
	}
	return cl.Subject
}

var algs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256, jose.PS256, jose.EdDSA}

// AssertionAlgs names the accepted client-assertion algorithms, for discovery.
func AssertionAlgs() []string {
	return slices.Collect(func(yield func(string) bool) {
		for _, a := range algs {
			if !yield(string(a)) {
				return
			}
		}
	})
}

// checkAssertion verifies a private_key_jwt client assertion (RFC 7523 3, OIDC Core 9).
func (a *Authenticator) checkAssertion(ctx context.Context, c store.Client, assertion string) *oe.Error {
	fail := oe.New(oe.InvalidClient, "client assertion rejected")
	if len(assertion) > 8192 {
		return fail
	}
	tok, err := jwt.ParseSigned(assertion, algs)
	if err != nil || len(tok.Headers) != 1 {
		return fail
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(c.JWKS, &set); err != nil {
		return oe.New(oe.InvalidClient, "client has no usable keys registered")
	}
	var keys []jose.JSONWebKey
	if kid := tok.Headers[0].KeyID; kid != "" {
		keys = set.Key(kid)
	} else {
		keys = set.Keys
	}
	now := a.cfg.Now()
	for _, k := range keys {
		var cl jwt.Claims
		if tok.Claims(k.Key, &cl) != nil {
			continue
		}
		aud := []string(cl.Audience)
		if cl.Issuer != c.ID || cl.Subject != c.ID || cl.ID == "" || cl.Expiry == nil {
			return fail
		}
		if !slices.Contains(aud, a.cfg.Issuer) && !slices.Contains(aud, a.cfg.TokenURL) {
			return fail
		}
		if err := cl.ValidateWithLeeway(jwt.Expected{Time: now}, 30*time.Second); err != nil {
			return fail
		}
		if cl.Expiry.Time().Sub(now) > 10*time.Minute {
			return oe.New(oe.InvalidClient, "client assertion lives too long (at most 10 minutes)")
		}
		// Single use (OIDC Core 9): remembered until it expires, across replicas.
		if err := a.cfg.Assertions.UseAssertion(ctx, c.ID, cl.ID, cl.Expiry.Time().Add(30*time.Second)); errors.Is(err, store.ErrAlreadyUsed) {
			return oe.New(oe.InvalidClient, "client assertion was already used")
		} else if err != nil {
			return oe.Internal(err)
		}
		return nil
	}
	return fail
}
