// Package signing is remote signing: a relying party (the portal) asks for a citizen's
// signature on one or more PDFs, the citizen approves once on the phone after a fresh
// level-2 eID login, and Motlan applies a PAdES signature with the citizen's own key.
//
// This file is the contract between the service (service.go), its storage (Store,
// implemented in adapters/sqlstore) and the HTTP surface (package signing/httpapi).
// Signatures come from a Backend (backend.go): the local vault with the dev CA, or a
// licensed CA's remote signing service over CSC API v2 (adapters/csc); the documents of a
// request are signed together with one Backend call (batch.go). A remote backend's
// authorisation is taken at the approval, with the PIN or OTP, and kept sealed on the
// request for the signing run (authorize.go).
package signing

import (
	"context"
	"errors"
	"time"

	"github.com/motlan/motlan/signing/ltv"
)

// Status of a signing request. pending → signing → signed is the happy path; a request
// leaves pending at most once (approve, reject, cancel or expiry), so it signs at most once.
type Status string

const (
	StatusPending  Status = "pending"  // waiting for the citizen
	StatusSigning  Status = "signing"  // approved; documents being signed (resumable)
	StatusSigned   Status = "signed"   // every document signed
	StatusRejected Status = "rejected" // the citizen declined
	StatusCanceled Status = "canceled" // the relying party withdrew it
	StatusExpired  Status = "expired"  // nobody answered in time
	StatusFailed   Status = "failed"   // signing failed for good (see Request.Failure)
)

// Final reports whether no further change can happen.
func (s Status) Final() bool {
	return s == StatusSigned || s == StatusRejected || s == StatusCanceled || s == StatusExpired || s == StatusFailed
}

// Level is the PAdES baseline level asked for.
type Level string

const (
	LevelBB Level = "B-B"
	LevelBT Level = "B-T" // default
	// LevelBLT is B-T, then a /DSS with the evidence (certificates, OCSP responses,
	// CRLs) that validates the signature and its timestamp after the certificates expire.
	LevelBLT Level = "B-LT"
	// LevelBLTA is B-LT, then a document timestamp over the whole file.
	LevelBLTA Level = "B-LTA"
)

// longTerm reports whether l needs the LTV extender after signing.
func (l Level) longTerm() bool { return l == LevelBLT || l == LevelBLTA }

// Placement of the visible signature; nil Rect with Auto false means invisible.
type Placement struct {
	Page int        `json:"page,omitempty"` // 1-based; 0 with Auto: last page
	Rect [4]float64 `json:"rect,omitempty"` // llx, lly, urx, ury in PDF points
	Auto bool       `json:"auto,omitempty"` // Motlan picks a spot at the bottom of the page
}

// Document is one PDF of a request. The original and signed bytes are kept for a while
// after the request ends (Retention);
// SHA256 is what the citizen approves (sole control: only these bytes get signed).
type Document struct {
	Index     int        `json:"index"`
	Title     string     `json:"title"`
	Pages     int        `json:"pages"`
	Size      int64      `json:"size"`
	SHA256    string     `json:"sha256"` // hex of the original
	Placement *Placement `json:"placement,omitempty"`
	SignedAt  time.Time  `json:"signed_at,omitzero"` // zero until its signature is applied
	SignedSHA string     `json:"signed_sha256,omitempty"`
	// EvidenceGaps is the B-LT/B-LTA evidence that could not be collected for earlier
	// signatures on the document (not the citizen's, whose evidence is mandatory).
	EvidenceGaps []ltv.Gap `json:"evidence_gaps,omitempty"`
}

// Request is a signing request.
type Request struct {
	ID             string
	ClientID       string // the relying party that created it
	Subject        string // the citizen, as the sub the client knows (pairwise)
	CitizenID      string // Motlan's citizen id once known (at approval, or from a citizen token)
	Reason         string
	Location       string
	Level          Level
	Status         Status
	Documents      []Document
	CallbackURL    string
	IdempotencyKey string   // unique per client while set
	Fingerprint    string   // hex SHA-256 of what the client sent; a retry with the same key must match
	ApprovedHashes []string // the document hashes the citizen approved, in order
	Failure        string   // a short, non-personal reason when Status is failed
	// Worker and LeaseUntil say which signing run holds the request while it is signing:
	// another run (a replica's Resume) takes it over only once LeaseUntil has passed.
	Worker     string
	LeaseUntil time.Time
	Attempts   int // signing runs started (while pending: wrong PINs or OTPs); bounded, then the request fails
	// SignTime is the signing time fixed at the approval (each signature's /M), so that
	// the signing run makes exactly the signed attributes the provider authorised. Zero:
	// the run's own time (the local vault).
	SignTime time.Time
	// AuthorizedDigests are, for a backend that authorises at approval (Authorizer), the
	// hex SHA-256 of each document's CMS signed attributes the grant covers, in order.
	AuthorizedDigests []string
	// Grant is that authorisation (the SAD), sealed under the master key; useless after
	// GrantExpires. Never shown or logged.
	Grant        []byte
	GrantExpires time.Time
	CreatedAt    time.Time
	ExpiresAt    time.Time
	UpdatedAt    time.Time
	Version      int64 // incremented by every update (for long-poll and CAS)
	// BlockedUntil is set while the request is pending and its citizen is over the
	// approval rate limit: they cannot approve before then (zero: not blocked).
	BlockedUntil time.Time
	// ReturnURL is where the approval page sends the citizen back to the portal after
	// they answer ("" when the portal gave none).
	ReturnURL string
	// CancelReason is why the portal withdrew the request (CancelSuperseded, or "").
	CancelReason string
}

// CancelSuperseded is the cancel reason of a request the portal replaced by a new one: its
// link says so, and it can never be approved.
const CancelSuperseded = "superseded"

// CitizenCert is a citizen's current signing certificate, kept so that it is reused for
// every signature until it expires or is revoked.
type CitizenCert struct {
	CitizenID   string
	Serial      string   // lower-case hex
	Certificate []byte   // DER
	Chain       [][]byte // DER, the issuing CA first, the root last
	NotAfter    time.Time
	CreatedAt   time.Time
}

// Errors callers branch on.
var (
	ErrNotFound   = errors.New("signing: request not found")
	ErrConflict   = errors.New("signing: conflict")          // idempotency key reused with other content, or a lost race
	ErrFinal      = errors.New("signing: request has ended") // no transition out of a final status
	ErrNotPending = errors.New("signing: request is not pending")
	ErrExpired    = errors.New("signing: request expired")
	ErrMismatch   = errors.New("signing: approved hashes differ from the documents")
	ErrForbidden  = errors.New("signing: not this citizen's or client's request")
	ErrNotSigned  = errors.New("signing: request is not signed") // signed PDFs are served only once all are
	// ErrCertificateRevoked: the citizen's certificate is revoked for a reason that forbids
	// using the key again (key compromise and the like); an operator must act.
	ErrCertificateRevoked = errors.New("signing: citizen certificate revoked")
	// ErrUpstream: a timestamp authority, OCSP responder, CRL or CA certificate needed
	// for B-LT or B-LTA could not be fetched; try again later.
	ErrUpstream = errors.New("signing: timestamp authority or revocation source unavailable")
)

// Input error codes (InputError.Code, see types_input.go): stable strings the HTTP layer
// turns into problem types. Codes about the request as a whole come with Index -1.
const (
	CodeNotPDF           = "not_pdf"
	CodeEncrypted        = "encrypted"         // a security handler Motlan cannot open
	CodePasswordRequired = "password_required" // opens only with a password: send an unlocked copy
	CodeTooLarge         = "too_large"
	CodeNoPages          = "no_pages"
	CodeDamaged          = "damaged"
	CodeTooMany          = "too_many"          // more documents than MaxDocuments (Index -1)
	CodeNoDocuments      = "no_documents"      // Index -1
	CodeLocked           = "locked"            // certified with no changes allowed (DocMDP P=1)
	CodeBadPlacement     = "bad_placement"     // page out of range or empty rectangle
	CodeUnsupportedLevel = "unsupported_level" // B-T, B-LT or B-LTA without a timestamp authority (or LTV) configured (Index -1)
	CodeNotSigned        = "not_signed"        // Extend: the PDF has no signature to extend
	CodeUnknownIssuer    = "unknown_issuer"    // Extend: a certificate's issuer is neither in the PDF, configured, nor downloadable
	CodeInvalid          = "invalid"           // a request field (Index -1) or title is malformed
)

// Store keeps requests and their documents; adapters/sqlstore implements it. Every method
// is safe across replicas. Errors wrap ErrNotFound, ErrConflict or ErrFinal.
type Store interface {
	// CreateSigningRequest stores r and its original documents (pdfs[i] is Documents[i]).
	// With an IdempotencyKey already used by the same client it stores nothing and returns
	// the existing request, with ErrConflict wrapped only when the Fingerprint differs.
	// Version starts at 1; UpdatedAt is the store's now.
	CreateSigningRequest(ctx context.Context, r Request, pdfs [][]byte) (Request, error)
	GetSigningRequest(ctx context.Context, id string) (Request, error)
	// UpdateSigningRequest is a compare-and-swap on Version: fn sees the stored request and
	// returns the new one; the store bumps Version and UpdatedAt. fn runs under the row lock
	// and must not call the store; an error from fn is returned as is and nothing changes.
	// The identity (ID, ClientID, Subject, IdempotencyKey, Fingerprint, CreatedAt) and each
	// document but its SignedAt, SignedSHA and EvidenceGaps cannot change. A request in a final status
	// is not updated: ErrFinal.
	UpdateSigningRequest(ctx context.Context, id string, fn func(Request) (Request, error)) (Request, error)
	// ListSigningRequests returns the client's requests for subject (every subject when
	// empty), newest first, at most limit.
	ListSigningRequests(ctx context.Context, clientID, subject string, limit int) ([]Request, error)
	// ListSigningRequestsByStatus returns up to limit requests in status, oldest first
	// (Resume uses it to find requests left signing).
	ListSigningRequestsByStatus(ctx context.Context, status Status, limit int) ([]Request, error)
	// OriginalPDF returns a document as submitted; ErrPurged once the retention policy
	// deleted the request's documents.
	OriginalPDF(ctx context.Context, id string, index int) ([]byte, error)
	// PutSignedPDF stores the signed bytes of one document once; a second put of the same
	// document returns ErrConflict and keeps the first.
	PutSignedPDF(ctx context.Context, id string, index int, pdf []byte) error
	// SignedPDF returns the signed bytes of one document, ErrNotFound while it has none,
	// or ErrPurged once the retention policy deleted the request's documents.
	SignedPDF(ctx context.Context, id string, index int) ([]byte, error)
	// ExpireSigningRequests marks pending requests past ExpiresAt expired; returns their ids.
	ExpireSigningRequests(ctx context.Context, now time.Time) ([]string, error)

	CertStore
}

// CertStore keeps each citizen's current signing certificate.
type CertStore interface {
	// CitizenCert returns the citizen's certificate, or ErrNotFound.
	CitizenCert(ctx context.Context, citizenID string) (CitizenCert, error)
	// PutCitizenCert stores c as the citizen's certificate if the stored one has serial
	// replaces ("" when there must be none yet); otherwise it returns ErrConflict and
	// changes nothing, so of replicas certifying one citizen at once one wins.
	PutCitizenCert(ctx context.Context, c CitizenCert, replaces string) error
}
