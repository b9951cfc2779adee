// Package eid is the seam between the broker and the national eID it logs citizens in at.
// adapters/vneid implements Connector for any standards OpenID Connect provider.
package eid

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"time"
)

// Errors callers branch on; implementations wrap them with %w.
var (
	// ErrDenied: the citizen cancelled or the eID refused the login (maps to access_denied).
	ErrDenied = errors.New("eid: login denied")
	// ErrUnavailable: the eID could not be reached or answered wrongly (maps to
	// temporarily_unavailable).
	ErrUnavailable = errors.New("eid: unavailable")
	// ErrInvalidResponse: the eID's answer failed verification (bad ID token, nonce
	// mismatch, wrong issuer or audience). Treated as a failed login, never trusted.
	ErrInvalidResponse = errors.New("eid: invalid response")
)

// AuthOptions shape the upstream login.
type AuthOptions struct {
	ACR        string // requested eID level, "1" or "2"; empty: the eID's default
	ForceLogin bool   // prompt=login upstream
	MaxAge     int    // seconds; -1 when absent
	LoginHint  string
	UILocales  []string
	// BindingMessage says why the login is asked ("Cổng X asks you to sign 3
	// documents"), for eIDs that show one (the dev eID; OIDC CIBA's binding_message).
	BindingMessage string
}

// Identity is what the eID verified about the citizen in one login.
type Identity struct {
	Issuer   string
	Subject  string
	ACR      string // the eID level, mapped to Motlan's levels: "1" or "2"
	AMR      []string
	AuthTime time.Time
	// UpstreamACR is the eID's own acr, as sent ("" when it sent none).
	UpstreamACR string
	// Attributes are keyed by Motlan's attribute names (name, family_name, given_name,
	// birthdate, gender, address, phone_number, cccd, nationality, place_of_origin), each
	// value as JSON (a string, or an object for address), after the configured mapping.
	Attributes map[string]json.RawMessage
	// Verified says, per attribute in Attributes, whether the eID vouched for its value:
	// its *_verified claim where it sends one (OIDC Core 5.1), else whether the attribute
	// is one the eID's identity record asserts (phone_number and email are not: they are
	// verified only when the eID says so).
	Verified map[string]bool
	// UpdatedAt is the eID's updated_at (when its record of the citizen last changed);
	// zero when it sent none.
	UpdatedAt  time.Time
	RawIDToken string // kept for upstream logout
}

// Connector logs citizens in at the eID with the authorization code flow.
type Connector interface {
	// AuthCodeURL is where the citizen's browser goes; state, nonce and the PKCE verifier
	// are the broker's own, fresh per login. An error wraps ErrUnavailable when the eID's
	// configuration cannot be had.
	AuthCodeURL(ctx context.Context, state, nonce, verifier string, opts AuthOptions) (string, error)
	// CheckCallback checks the query of the eID's redirect back before Exchange: the RFC
	// 9207 iss, and an error parameter mapped to ErrDenied, ErrUnavailable or
	// ErrInvalidResponse. State is the broker's to check.
	CheckCallback(q url.Values) error
	// Exchange redeems the code from the callback, verifies the ID token (issuer,
	// audience, expiry, nonce, signature), reads userinfo and maps the claims.
	Exchange(ctx context.Context, code, verifier, nonce string) (Identity, error)
}

// Logouter is a Connector whose eID offers RP-initiated logout; the broker ends the
// citizen's eID session too when it ends its own.
type Logouter interface {
	// EndSessionURL is the eID's end_session_endpoint, or "" when it has none.
	EndSessionURL() string
}
