package httpapi

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/keys/ca"
)

// ScopeAdmin is the scope of the admin API: a client_credentials token of a client whose
// configuration lists it. Citizens' tokens never carry it.
const ScopeAdmin = "admin"

// ProblemAlreadyRevoked answers a second revocation of a certificate (409); the first stands.
const ProblemAlreadyRevoked = ProblemBase + "already-revoked"

// Revoker revokes citizens' certificates (keys/ca.DevCA implements it, as motlan revoke
// uses it).
type Revoker interface {
	// RevokeCertificate fails with ca.ErrUnknownCertificate, ca.ErrInvalidReason,
	// ca.ErrInvalidRequest (a date in the future) or ca.ErrAlreadyRevoked (returning the
	// revocation that stands).
	RevokeCertificate(ctx context.Context, serial *big.Int, reason int, at time.Time) (*x509.Certificate, ca.Revocation, error)
}

// admin authenticates an admin API call: a client's own token (no citizen) with ScopeAdmin.
func (a *API) admin(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := a.auth.APICaller(r)
		if err != nil {
			if errors.Is(err, store.ErrUnavailable) {
				writeProblem(w, storeUnavailable())
				return
			}
			p := problem(http.StatusUnauthorized, ProblemUnauthorized, "Unauthorized", "a valid bearer access token is required")
			if errors.Is(err, ErrNoToken) {
				p.challenge = realm + `, scope="` + ScopeAdmin + `"`
			} else {
				p.challenge = realm + `, error="invalid_token", error_description="the access token is invalid or expired"`
			}
			writeProblem(w, p)
			return
		}
		if c.ClientID == "" || c.Subject != "" || c.CitizenID != "" || !slices.Contains(c.Scopes, ScopeAdmin) {
			p := problem(http.StatusForbidden, ProblemInsufficientScope, "Insufficient scope", "the token lacks the scope "+strconv.Quote(ScopeAdmin))
			p.challenge = realm + `, error="insufficient_scope", scope="` + ScopeAdmin + `"`
			writeProblem(w, p)
			return
		}
		if err := h(w, r, c); err != nil {
			a.fail(w, r, err)
		}
	}
}

type revokeBody struct {
	Reason    string `json:"reason"`
	RevokedAt string `json:"revoked_at,omitempty"` // RFC 3339; default now; may lie in the past
}

type revocationJSON struct {
	Serial    string    `json:"serial"`
	Reason    string    `json:"reason"`
	RevokedAt time.Time `json:"revoked_at"`
}

// handleRevoke revokes a certificate: POST /admin/v1/certificates/{serial}/revoke with
// {"reason": "keyCompromise"}. It is the same revocation as motlan revoke.
func (a *API) handleRevoke(w http.ResponseWriter, r *http.Request, c Caller) error {
	if a.revoker == nil {
		return problem(http.StatusServiceUnavailable, ProblemUnavailable, "Service unavailable", "the revocation API is not configured on this server")
	}
	serial, err := ca.ParseSerial(r.PathValue("serial"))
	if err != nil {
		return problem(http.StatusNotFound, ProblemNotFound, "Not found", "the serial number must be hex")
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return problem(http.StatusUnsupportedMediaType, ProblemUnsupportedMediaType, "Unsupported media type", "send application/json")
	}
	var in revokeBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return badField("body", "a JSON object with reason (and optionally revoked_at) is required")
	}
	if in.Reason == "" {
		return badField("reason", "reason is required")
	}
	reason, err := ca.ParseReason(in.Reason)
	if err != nil {
		return badField("reason", "reason must be unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation")
	}
	var at time.Time
	if in.RevokedAt != "" {
		if at, err = time.Parse(time.RFC3339, in.RevokedAt); err != nil {
			return badField("revoked_at", "revoked_at must be an RFC 3339 time")
		}
	}
	_, rev, err := a.revoker.RevokeCertificate(r.Context(), serial, reason, at)
	switch {
	case errors.Is(err, ca.ErrUnknownCertificate):
		return problem(http.StatusNotFound, ProblemNotFound, "Not found", "no certificate with this serial number was issued by this CA")
	case errors.Is(err, ca.ErrAlreadyRevoked):
		detail := "the certificate is already revoked; a revocation is final"
		if rev.Serial != nil {
			detail = fmt.Sprintf("the certificate was revoked (%s) at %s; a revocation is final", ca.ReasonName(rev.Reason), rev.RevokedAt.UTC().Format(time.RFC3339))
		}
		return problem(http.StatusConflict, ProblemAlreadyRevoked, "Already revoked", detail)
	case errors.Is(err, ca.ErrInvalidRequest):
		return badField("revoked_at", "revoked_at must not lie in the future")
	case errors.Is(err, ca.ErrInvalidReason):
		return badField("reason", "reason is not accepted")
	case err != nil:
		return err
	}
	a.audit.Log(r.Context(), audit.Event{Kind: audit.KindRevoke, Actor: "client:" + c.ClientID, Details: map[string]any{
		"serial": fmt.Sprintf("%x", serial), "reason": ca.ReasonName(rev.Reason), "at": rev.RevokedAt.UTC().Format(time.RFC3339), "via": "admin API"}})
	a.log.InfoContext(r.Context(), "admin: certificate revoked", "client", c.ClientID, "serial", fmt.Sprintf("%x", serial),
		"reason", ca.ReasonName(rev.Reason), "revoked_at", rev.RevokedAt)
	writeJSON(w, http.StatusOK, revocationJSON{Serial: fmt.Sprintf("%x", serial), Reason: ca.ReasonName(rev.Reason), RevokedAt: rev.RevokedAt.UTC()})
	return nil
}
