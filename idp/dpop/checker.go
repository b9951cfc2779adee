package dpop

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
)

// ReplayStore remembers used proof jtis across replicas: the client-assertion replay
// store, with one namespace per key, so no new table is needed.
type ReplayStore interface {
	UseAssertion(ctx context.Context, clientID, jti string, expiresAt time.Time) error
}

// CheckerConfig configures the provider's DPoP checks.
type CheckerConfig struct {
	// Secret derives the server nonce key; the provider's Config.Secret.
	Secret []byte
	// Nonce requires proofs to carry a nonce the provider handed out (RFC 9449 8, 9).
	Nonce bool
	// BoundDefault makes proofs mandatory at the token endpoint for every client without
	// its own setting in BoundClients.
	BoundDefault bool
	BoundClients map[string]bool
	Replay       ReplayStore
	Now          func() time.Time
	Logger       *slog.Logger
}

// Checker is the provider's side of DPoP: it verifies proofs, spends their jtis, hands
// out nonces and enforces token binding at resources.
type Checker struct {
	cfg      CheckerConfig
	nonceKey []byte
}

// NewChecker builds a Checker.
func NewChecker(cfg CheckerConfig) (*Checker, error) {
	key, err := hkdf.Key(sha256.New, cfg.Secret, nil, "motlan dpop nonce", 32)
	if err != nil {
		return nil, fmt.Errorf("dpop: nonce key: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Checker{cfg: cfg, nonceKey: key}, nil
}

// check verifies a proof and spends its jti: a proof is accepted once per key, across
// replicas, for as long as its iat is acceptable. Errors wrap an Err* reason, or are
// store failures.
func (c *Checker) check(ctx context.Context, proof string, want expected) (verified, error) {
	want.Now = c.cfg.Now()
	dp, err := verifyProof(proof, want)
	if err != nil {
		return dp, err
	}
	if c.cfg.Nonce && !c.validNonce(dp.Nonce, want.Now) {
		return dp, ErrNonce
	}
	switch err := c.cfg.Replay.UseAssertion(ctx, replayPrefix+dp.JKT, dp.JTI, dp.IssuedAt.Add(window+time.Second)); {
	case errors.Is(err, store.ErrAlreadyUsed):
		return dp, ErrReplay
	case err != nil:
		return dp, fmt.Errorf("dpop: record proof: %w", err)
	}
	return dp, nil
}

// Required reports whether a client's access tokens must be DPoP-bound: its own
// setting, else the provider's default.
func (c *Checker) Required(clientID string) bool {
	if v, ok := c.cfg.BoundClients[clientID]; ok {
		return v
	}
	return c.cfg.BoundDefault
}

// Endpoint checks the proof sent to one of the provider's POST endpoints (token, PAR) at
// url, and returns the thumbprint what the request issues is to be bound to; "" without a
// proof, which is refused when required.
func (c *Checker) Endpoint(r *http.Request, url string, required bool) (string, *oe.Error) {
	proof, present, err := Header(r)
	if err != nil {
		return "", OAuthError(err, http.StatusBadRequest)
	}
	if !present {
		if required {
			return "", OAuthError(ErrMissing, http.StatusBadRequest)
		}
		return "", nil
	}
	dp, err := c.check(r.Context(), proof, expected{Method: http.MethodPost, URL: url})
	if err != nil {
		return "", c.failure(r.Context(), err, http.StatusBadRequest)
	}
	return dp.JKT, nil
}

// failure maps a check error: a refused proof, or a store failure.
func (c *Checker) failure(ctx context.Context, err error, status int) *oe.Error {
	for _, r := range reasons {
		if errors.Is(err, r) {
			return OAuthError(err, status)
		}
	}
	c.cfg.Logger.ErrorContext(ctx, "dpop", "err", err)
	return oe.Internal(err)
}

// SenderConstraint enforces a token's DPoP binding at a protected resource (RFC 9449
// 7): a bound token needs the DPoP scheme and a fresh proof by its key for this request
// (method, URL htu) naming the token in ath; a Bearer-only token may not be sent as DPoP.
func (c *Checker) SenderConstraint(r *http.Request, usedDPoP bool, token, boundJKT, htu string) *oe.Error {
	bound := boundJKT != ""
	if !usedDPoP {
		if bound {
			return oe.New(oe.InvalidToken, "the access token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof")
		}
		if _, present, _ := Header(r); present {
			// A proof with a Bearer token binds nothing; ignoring it would hide a client bug.
			return oe.New(oe.InvalidRequest, "a DPoP proof was sent with a Bearer token")
		}
		return nil
	}
	if !bound {
		return oe.New(oe.InvalidToken, "the access token is not DPoP-bound: send it as Bearer")
	}
	proof, present, err := Header(r)
	if err == nil && !present {
		err = ErrMissing
	}
	if err != nil {
		return OAuthError(err, http.StatusUnauthorized)
	}
	dp, err := c.check(r.Context(), proof, expected{Method: r.Method, URL: htu, AccessToken: token})
	if err == nil && subtle.ConstantTimeCompare([]byte(dp.JKT), []byte(boundJKT)) != 1 {
		err = ErrKeyMismatch
	}
	if err != nil {
		return c.failure(r.Context(), err, http.StatusUnauthorized)
	}
	return nil
}
