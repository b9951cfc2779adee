package idp

import (
	"context"
	"errors"
	"github.com/motlan/motlan/idp/authflow"
	"net/http"
	"time"

	"github.com/motlan/motlan/idp/clientauth"
	"github.com/motlan/motlan/idp/dpop"
	"github.com/motlan/motlan/idp/grants"
	"github.com/motlan/motlan/idp/resource"
	"github.com/motlan/motlan/idp/session"
	"github.com/motlan/motlan/idp/store"
)

// What the rest of Motlan (the server, the signing API, the command) uses of the
// provider, kept here so the per-concern packages stay internal to the provider's design.

// BackchannelLogoutEvent is the event a logout token carries.
const BackchannelLogoutEvent = session.BackchannelLogoutEvent

// Error codes of RFC 9449 (sections 5 and 7.1).
const (
	ErrCodeInvalidDPoPProof = dpop.ErrCodeInvalidProof
	ErrCodeUseDPoPNonce     = dpop.ErrCodeUseNonce
)

// AccessInfo is what a valid access token says, for Motlan's own APIs.
type AccessInfo = resource.AccessInfo

// ErrInvalidToken reports a missing, malformed, forged, expired or revoked access token.
var ErrInvalidToken = resource.ErrInvalidToken

// ServiceScopes are the scopes a client may ask for with client_credentials.
var ServiceScopes = grants.ServiceScopes

// HashSecret returns the stored form of a client secret.
func HashSecret(salt []byte, secret string) string { return clientauth.HashSecret(salt, secret) }

// CheckSecret compares a presented secret with its stored hash in constant time.
func CheckSecret(stored, secret string) bool { return clientauth.CheckSecret(stored, secret) }

// DPoPAlgs names the accepted DPoP proof algorithms, for discovery and challenges.
func DPoPAlgs() []string { return dpop.Algs() }

// DPoPChallenge is a WWW-Authenticate value for the DPoP scheme (RFC 9449 7.1).
func DPoPChallenge(code string, description ...string) string {
	return dpop.Challenge(code, description...)
}

// VerifyAccessToken checks the access token of an API request, Bearer (RFC 6750) or DPoP
// with its proof for this request (RFC 9449 7), and says whose it is. Errors wrap
// ErrInvalidToken; the *oautherr.Error inside names the RFC 6750 or RFC 9449 code.
func (p *Provider) VerifyAccessToken(r *http.Request) (AccessInfo, error) {
	return p.resource.VerifyAccessToken(r)
}

// OfferDPoPNonce sets the DPoP-Nonce response header (RFC 9449 8.2) when the provider
// requires nonces and the request carries a DPoP proof.
func (p *Provider) OfferDPoPNonce(w http.ResponseWriter, r *http.Request) { p.dpop.OfferNonce(w, r) }

// StepUpURL sends the browser to a fresh eID login at level 2 that returns to returnPath
// (a path on this provider).
func (p *Provider) StepUpURL(returnPath, lang string) string {
	return p.flow.StepUpURL(returnPath, lang)
}

// SetStepUpPurpose installs what tells the eID (and the citizen) why a step-up login is
// asked: the signing request behind its return path.
func (p *Provider) SetStepUpPurpose(fn authflow.StepUpPurpose) { p.flow.SetStepUpPurpose(fn) }

// BrowserCitizen is the citizen logged in on this browser, with the level and time of
// their last eID login.
func (p *Provider) BrowserCitizen(r *http.Request) (citizenID, acr string, authTime time.Time, ok bool) {
	return p.sessions.BrowserCitizen(r)
}

// CitizenForSubject is the citizen a client knows by subject: a sub the provider put in a
// token for that client. ok is false for a sub the client was never given.
func (p *Provider) CitizenForSubject(ctx context.Context, clientID, subject string) (string, bool, error) {
	id, err := p.cfg.Store.SubjectCitizen(ctx, clientID, subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", false, nil
	case err != nil:
		return "", false, err
	}
	return id, true, nil
}

// SubjectFor is the sub a client knows a citizen by.
func (p *Provider) SubjectFor(clientID, citizenID string) string {
	c, ok := p.clients.Get(context.Background(), clientID)
	if !ok {
		return ""
	}
	return p.tokens.Subject(c, citizenID)
}
