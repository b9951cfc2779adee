package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/motlan/motlan/signing"
)

// Service is the signing service as the HTTP surface uses it (package signing implements it).
//
// The API methods take the calling client's id and must answer signing.ErrNotFound (or
// ErrForbidden) for requests of other clients. The approval methods take Motlan's citizen id
// and a function giving that citizen's pairwise subject at a client, so the service can check
// the request is theirs.
type Service interface {
	Create(ctx context.Context, in signing.CreateInput) (signing.Request, error)
	Get(ctx context.Context, clientID, id string) (signing.Request, error)
	// Wait returns as soon as the request's Version exceeds sinceVersion (negative: the
	// version it reads first), at once for an ended request, or after max with the
	// request as it is then.
	Wait(ctx context.Context, clientID, id string, sinceVersion int64, max time.Duration) (signing.Request, error)
	// Cancel withdraws a pending request; reason is "" or a short snake_case word
	// (signing.CancelSuperseded), stored and shown on its approval link.
	Cancel(ctx context.Context, clientID, id, reason string) (signing.Request, error)
	List(ctx context.Context, clientID, subject string, limit int) ([]signing.Request, error)
	SignedPDF(ctx context.Context, clientID, id string, index int) ([]byte, error)
	ForApproval(ctx context.Context, id, citizenID string, subjectForClient func(clientID string) string) (signing.Request, error)
	OriginalPDF(ctx context.Context, id string, index int, citizenID string, subjectForClient func(string) string) ([]byte, error)
	// Approve signs exactly the documents whose hashes the citizen was shown (hashes[i] is
	// Documents[i].SHA256), or fails with signing.ErrMismatch.
	Approve(ctx context.Context, id, citizenID string, subjectForClient func(string) string, hashes []string) (signing.Request, error)
	Reject(ctx context.Context, id, citizenID string, subjectForClient func(string) string) (signing.Request, error)
}

// Caller is who called the API, from a bearer access token.
type Caller struct {
	ClientID  string   // the OAuth client the token was issued to
	Subject   string   // set when a citizen's token with scope "sign" calls: their sub at ClientID
	CitizenID string   // Motlan's citizen id, with Subject
	Scopes    []string // granted scopes
}

// Scopes the API accepts: ScopeSigning on a client_credentials token (the portal, server to
// server), ScopeSign on a citizen's access token (only their own requests).
const (
	ScopeSigning = "signing"
	ScopeSign    = "sign"
)

// Auth is the OpenID provider as the HTTP surface uses it (package idp implements it).
type Auth interface {
	// APICaller authenticates the request's bearer access token. Return an error wrapping
	// ErrNoToken when there is no token at all; any other error is an invalid token.
	APICaller(r *http.Request) (Caller, error)
	// BrowserCitizen is the citizen logged in on this browser with the level (acr) and time
	// of their last eID login.
	BrowserCitizen(r *http.Request) (citizenID, acr string, authTime time.Time, ok bool)
	// StepUpURL logs the citizen in again at eID level 2, then comes back to returnPath.
	StepUpURL(returnPath, lang string) string
	// SubjectFor is the citizen's sub at that client (pairwise).
	SubjectFor(clientID, citizenID string) string
	// CitizenFor is the citizen the client knows as subject (a sub the provider gave that
	// client); ok is false when the client knows no such citizen.
	CitizenFor(ctx context.Context, clientID, subject string) (citizenID string, ok bool, err error)
}

// ErrNoToken is what Auth.APICaller wraps when the request carries no credentials, so the
// challenge carries no error code (RFC 6750 section 3.1).
var ErrNoToken = errors.New("httpapi: no bearer token")
