// Package store holds the broker's persistent records and the small interfaces, one per
// aggregate, that the provider needs from storage. Implementations live under adapters/
// (adapters/sqlstore); storetest holds the conformance suite every implementation passes.
//
// Secrets never reach the store in the clear: session cookies, authorization codes and
// refresh tokens are stored under the SHA-256 of the value the client holds, so IDs here are
// already hashes. Times are stored with at least millisecond precision and returned in UTC.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Errors callers branch on. Implementations wrap them with %w.
var (
	ErrNotFound    = errors.New("store: not found")
	ErrConflict    = errors.New("store: conflict")     // unique key taken, or a compare-and-swap lost
	ErrAlreadyUsed = errors.New("store: already used") // single-use record consumed before
	// ErrUnavailable: the store cannot be reached or cannot answer now (connection lost or
	// refused, database shut down or closed, locked past its timeout, disk full). It is
	// the one definition of a store outage: handlers answer it 503 with Retry-After, never
	// 401 or 500, and readiness reports it. Implementations wrap it around the cause.
	ErrUnavailable = errors.New("store: unavailable")
)

// Client is a relying party. Clients come from config and are upserted at start, so every
// replica sees the same set.
type Client struct {
	ID                     string
	Name                   string
	SecretHash             string // "sha256:<salt hex>:<hash hex>"; empty for public clients
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	AllowedScopes          []string
	AuthMethod             string          // client_secret_basic | client_secret_post | private_key_jwt | none
	JWKS                   json.RawMessage // public keys for private_key_jwt, may be empty
	JWKSURI                string
	SubjectType            string // pairwise | public
	IDTokenAlg             string // ES256 | RS256
	FirstParty             bool
	UpdatedAt              time.Time
	RequirePAR             bool // authorization requests must be pushed (RFC 9126 6)
	// BackchannelLogoutURI receives logout tokens (OpenID Connect Back-Channel Logout 1.0);
	// empty: the client is not told when a session ends.
	BackchannelLogoutURI             string
	BackchannelLogoutSessionRequired bool // the client needs sid (always sent)
}

// Attribute is one fact about a citizen as the eID stated it in one login: the value, whether
// the eID marked it verified, and how that login was made. Nothing here is inferred by
// Motlan: a record written before a field existed reads it as its zero value (not
// verified, no acr, no eID updated_at), never as a guess.
type Attribute struct {
	Value  json.RawMessage `json:"value"`  // a JSON string, or an object for address
	Source string          `json:"source"` // the upstream issuer that stated it
	Level  int             `json:"level"`  // eID level of the login that stated it (1, 2)
	// VerifiedAt is the time of the eID login that stated it (OIDC4IDA verification.time).
	VerifiedAt time.Time `json:"verified_at"`
	// Verified: the eID vouched for the value (its *_verified claim was true, or, for an
	// attribute without such a claim, the eID's identity record asserted it).
	Verified bool `json:"verified,omitempty"`
	// ACR and AMR are the eID's own acr and amr of that login, before mapping.
	ACR string   `json:"acr,omitempty"`
	AMR []string `json:"amr,omitempty"`
	// EIDUpdatedAt is the eID's updated_at claim in that login (when the eID's record last
	// changed); zero when the eID sent none.
	EIDUpdatedAt time.Time `json:"eid_updated_at,omitzero"`
}

// Citizen is a person known from the eID. (Issuer, Subject) is unique.
type Citizen struct {
	ID         string // Motlan's own stable id
	Issuer     string // the upstream issuer
	Subject    string // the upstream subject
	CCCD       string // 12-digit personal ID number, may be empty
	Attributes map[string]Attribute
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Session is a citizen's single-sign-on session at Motlan.
type Session struct {
	ID              string // SHA-256 hex of the cookie value
	CitizenID       string
	AuthTime        time.Time
	ACR             string // eID level, "1" or "2"
	AMR             []string
	UpstreamIDToken string // kept for upstream logout (id_token_hint)
	CreatedAt       time.Time
	ExpiresAt       time.Time
}

// AuthRequest is a login transaction: the relying party's validated authorization request,
// plus the state of the upstream round trip while one is under way.
type AuthRequest struct {
	ID                  string // random, also used as the consent/login page handle
	ClientID            string
	RedirectURI         string
	ResponseMode        string
	Scopes              []string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              []string
	MaxAge              int // seconds; -1 when absent
	ACRValues           []string
	Claims              json.RawMessage // the OIDC Core 5.5 claims request, may be empty
	UILocales           []string
	LoginHint           string

	UpstreamState    string // unique while non-empty
	UpstreamNonce    string
	UpstreamVerifier string

	SessionID string // set once the citizen is logged in for this request
	CSRFToken string // binds the consent form to this request
	DPoPJKT   string // RFC 9449 10: the key thumbprint whose DPoP proof must redeem the code
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuthCode is an issued authorization code. ID is the SHA-256 hex of the code.
type AuthCode struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	CitizenID           string
	SessionID           string
	Scopes              []string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	Claims              json.RawMessage
	AuthTime            time.Time
	ACR                 string
	AMR                 []string
	CreatedAt           time.Time
	ExpiresAt           time.Time
	DPoPJKT             string // RFC 9449 10: only a DPoP proof by this key redeems the code
}

// RefreshToken is one link of a rotation family. ID is the SHA-256 hex of the token.
type RefreshToken struct {
	ID        string
	FamilyID  string // all tokens rotated from one code share it
	ClientID  string
	CitizenID string
	SessionID string
	Scopes    []string
	Claims    json.RawMessage
	AuthTime  time.Time
	ACR       string
	AMR       []string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until rotated
	Revoked   bool
	// SuccessorID is the token this one was last rotated to; empty until rotated. A retry
	// within the reuse grace window replaces the successor (RotateRefreshTokenAgain).
	SuccessorID string
}

// Consent is what a citizen allowed one client.
type Consent struct {
	CitizenID string
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
}

// Release records which claims went to which client, for every release.
type Release struct {
	CitizenID string
	ClientID  string
	Claims    []string
	Via       string // id_token | userinfo
	At        time.Time
}

// Clients holds relying parties.
type Clients interface {
	// UpsertClient creates or replaces a client, and enables it again if it was disabled.
	UpsertClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id string) (Client, error) // ErrNotFound when disabled
	ListClients(ctx context.Context) ([]Client, error)        // enabled clients only
	// DisableClientsExcept disables every enabled client whose ID is not in keep (the
	// configuration is the truth), revokes their refresh tokens, deletes their unused
	// authorization codes, and returns the IDs it disabled, in one transaction.
	DisableClientsExcept(ctx context.Context, keep []string) ([]string, error)
}

// Citizens holds citizen records.
type Citizens interface {
	// UpsertCitizen creates the citizen for (Issuer, Subject) or updates it: a non-empty
	// CCCD replaces the stored one (an empty one keeps it), and attributes merge (one given
	// replaces the stored one; those not given are kept). It returns the stored record; ID
	// and CreatedAt of an existing citizen are kept.
	UpsertCitizen(ctx context.Context, c Citizen) (Citizen, error)
	GetCitizen(ctx context.Context, id string) (Citizen, error)
}

// Sessions holds SSO sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, id string) (Session, error) // ErrNotFound once expired
	// DeleteSession ends session id (no error when it is gone already) and writes audit
	// as pending audit records (see Login.Audit) in the same transaction.
	DeleteSession(ctx context.Context, id string, audit ...AuditRecord) error
}

// AuthRequests holds login transactions.
type AuthRequests interface {
	CreateAuthRequest(ctx context.Context, r AuthRequest) error
	GetAuthRequest(ctx context.Context, id string) (AuthRequest, error) // ErrNotFound once expired
	GetAuthRequestByUpstreamState(ctx context.Context, state string) (AuthRequest, error)
	// UpdateAuthRequest reads, applies fn and writes back atomically; if fn errors nothing
	// is written and that error is returned. fn runs under the row's lock: it must be quick
	// and must not call the store.
	UpdateAuthRequest(ctx context.Context, id string, fn func(AuthRequest) (AuthRequest, error)) (AuthRequest, error)
	// DeleteAuthRequest removes a transaction; ErrNotFound if it was already gone, so that
	// of concurrent deleters exactly one succeeds (the transaction is single-use).
	DeleteAuthRequest(ctx context.Context, id string) error
}

// PushedRequests holds pushed authorization requests (RFC 9126): validated requests a
// client pushed, each redeemable once at the authorization endpoint.
type PushedRequests interface {
	// CreatePushedRequest stores r under id (the random part of the request_uri) for
	// r.ClientID until expiresAt; ErrConflict if id is taken.
	CreatePushedRequest(ctx context.Context, id string, r AuthRequest, expiresAt time.Time) error
	// ConsumePushedRequest returns the request stored under id for clientID and deletes it,
	// atomically: of concurrent callers exactly one gets it. Unknown, used, expired, or
	// pushed by another client: ErrNotFound (and another client's request stays).
	ConsumePushedRequest(ctx context.Context, id, clientID string) (AuthRequest, error)
}

// AuthCodes holds authorization codes.
type AuthCodes interface {
	CreateAuthCode(ctx context.Context, c AuthCode) error
	// ConsumeAuthCode returns the code and marks it used, atomically: of concurrent callers
	// exactly one gets it; later calls get ErrAlreadyUsed (with the record, so the caller
	// can revoke what the first use issued); unknown or expired codes get ErrNotFound.
	ConsumeAuthCode(ctx context.Context, id string) (AuthCode, error)
}

// RotateDecision decides a refresh from the token read and whether its session is live:
// the successor and what to store with it, or why not. citizen reads the token's citizen
// in the same transaction (ErrNotFound if there is none), for a decision that needs it.
type RotateDecision func(old RefreshToken, sessionLive bool, citizen func() (Citizen, error)) (RefreshToken, Minted, error)

// RefreshTokens holds refresh tokens.
type RefreshTokens interface {
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	GetRefreshToken(ctx context.Context, id string) (RefreshToken, error)
	// RotateRefreshTokenAgain answers a retry of an already rotated token (a response lost
	// on the way to the client): atomically, it revokes oldID's successor, records next.ID
	// as the new successor and stores next, so the family keeps one live token. oldID's
	// UsedAt does not move. If the successor was used, revoked or has expired (the family
	// moved on, so this is a replay, not a retry), it stores nothing and returns
	// ErrAlreadyUsed; if oldID is unknown, expired or revoked, ErrNotFound; if oldID was
	// never rotated, ErrConflict. What each of with holds is stored with next.
	RotateRefreshTokenAgain(ctx context.Context, oldID string, next RefreshToken, with ...Minted) error
	// RotateRefreshTokenWith is a refresh in one transaction: it reads oldID (ErrNotFound if
	// unknown or expired; used and revoked ones are read) with whether its session is live
	// (GetSession would find it), and calls decide. If decide returns an error, it stores
	// nothing and returns that error as is. Else it marks oldID used at next.CreatedAt (now
	// if zero), records next.ID as its successor and stores next and what the Minted holds,
	// atomically; if oldID was used, it stores nothing and returns ErrAlreadyUsed, if it
	// was revoked or has expired, ErrNotFound. decide may be called more than once (the
	// last call's result is stored) and must not write to the store.
	RotateRefreshTokenWith(ctx context.Context, oldID string, decide RotateDecision) error
	RevokeRefreshFamily(ctx context.Context, familyID string) error
	// RevokeFamily is a revocation's write (RFC 7009): in one transaction it revokes
	// familyID's live refresh tokens, denylists deny.Key until deny.Until (the family's
	// access tokens, see RevokedTokens) and writes audit as pending audit records (see
	// Login.Audit). When none of the family's tokens was live it changes nothing, writes
	// no record and returns false, so the act and its record go together or not at all.
	RevokeFamily(ctx context.Context, familyID string, deny Deny, audit ...AuditRecord) (bool, error)
	// SessionClients lists, sorted and without duplicates, the clients that were issued an
	// authorization code or a refresh token in the session sessionID (redeemed or not,
	// revoked or not, until the records are purged): the clients back-channel logout
	// tells when the session ends.
	SessionClients(ctx context.Context, sessionID string) ([]string, error)
}

// RevokedTokens is the denylist of access tokens revoked before they expire (RFC 7009):
// access tokens are self-contained JWTs, so revoking one means remembering its jti until
// its exp.
type RevokedTokens interface {
	// RevokeToken denylists jti until expiresAt; revoking a denylisted jti again is no
	// error. audit is written as pending audit records (see Login.Audit) in the same
	// transaction.
	RevokeToken(ctx context.Context, jti string, expiresAt time.Time, audit ...AuditRecord) error
	// TokenRevoked reports whether jti is denylisted and its entry has not expired.
	TokenRevoked(ctx context.Context, jti string) (bool, error)
}

// Deny is a denylist entry (see RevokedTokens): Key stands for a jti until Until.
type Deny struct {
	Key   string
	Until time.Time
}

// Consents holds remembered consents.
type Consents interface {
	GetConsent(ctx context.Context, citizenID, clientID string) (Consent, error)
	// UpsertConsent stores c, and audit as pending audit records (see Login.Audit) in the
	// same transaction.
	UpsertConsent(ctx context.Context, c Consent, audit ...AuditRecord) error
}

// Releases is the append-only record of claim releases.
type Releases interface {
	RecordRelease(ctx context.Context, r Release) error
	ListReleases(ctx context.Context, citizenID string) ([]Release, error)
}

// Subjects remembers which sub each client was given for which citizen, so a client's
// sub can be resolved back to the citizen (a pairwise sub is a one-way hash).
type Subjects interface {
	// RecordSubject remembers that clientID knows citizenID as subject; recording the
	// same pair again is no error.
	RecordSubject(ctx context.Context, clientID, subject, citizenID string, at time.Time) error
	// SubjectCitizen is the citizen clientID knows as subject, or ErrNotFound.
	SubjectCitizen(ctx context.Context, clientID, subject string) (string, error)
}

// ClientSubject is one (client, subject) pair of Subjects.
type ClientSubject struct {
	ClientID, Subject, CitizenID string
	At                           time.Time
}

// Assertions remembers used client-assertion IDs: a private_key_jwt assertion is
// single-use (OIDC Core 9).
type Assertions interface {
	// UseAssertion records (clientID, jti) until expiresAt; ErrAlreadyUsed if it is
	// recorded already and not yet expired.
	UseAssertion(ctx context.Context, clientID, jti string, expiresAt time.Time) error
}

// Logins batches the writes of a login's hot path into one transaction each: on SQLite a
// commit costs more than the statements in it.
type Logins interface {
	// RecordLogin upserts l.Citizen (as UpsertCitizen), creates l.Session for the stored
	// citizen and, when l.Code is not nil, the code for that citizen and session, and
	// writes l.Audit's records as pending audit records, all or nothing. When l.Once is not
	// nil it is marked used in the same transaction, as UseAssertion(once.Namespace,
	// once.Key, once.ExpiresAt) would; if it was used already nothing is stored and the
	// error is ErrAlreadyUsed. It returns the stored citizen.
	//
	// A store may return before the write is durable, provided that the next durable
	// write of the same store (a redemption of l.Code among them) makes it durable too: a
	// crash then loses only a login whose code no relying party redeemed, and the citizen
	// logs in again. A store may call l.Audit more than once (a transaction run again);
	// it stores what the last call returns.
	RecordLogin(ctx context.Context, l Login) (Citizen, error)
	// RedeemAuthCode consumes the code as ConsumeAuthCode does and, in the same
	// transaction, calls next with it and stores what next returns (see Redemption). If
	// next fails, the code stays consumed, nothing else is stored, and next's error is
	// returned with the code. next runs under the store's lock: quick, and no store calls
	// but citizen, which reads the code's citizen in the transaction. A store may call
	// next more than once (a transaction run again); it stores what the last call returns.
	RedeemAuthCode(ctx context.Context, id string, next func(c AuthCode, citizen func() (Citizen, error)) (Redemption, error)) (AuthCode, error)
}

// Redemption is what the token endpoint stores with a consumed code, in its transaction:
// one durable write for the whole exchange.
type Redemption struct {
	Refresh *RefreshToken // nil: none
	Minted
}

// Minted is what minting tokens stores with the grant, in the grant's transaction (a
// code's redemption or a refresh token's rotation).
type Minted struct {
	Subject *ClientSubject // recorded as Subjects.RecordSubject does; nil: none
	Release *Release       // nil: none
	// Audit records are written as pending audit records (see Login.Audit).
	Audit []AuditRecord
}

// Login is what one login on the way back from the eID stores, in one transaction.
type Login struct {
	Citizen Citizen
	Session Session
	Code    *AuthCode // nil: none
	Once    *Once     // nil: none
	// Audit returns the login's audit records (Kind, Actor, At, Details) for the stored
	// citizen; they are written as pending records, sealed into the log later (see
	// Audit.SealPendingAudit). An error stores nothing. nil: no records. It runs in the
	// transaction: quick, no store calls.
	Audit func(Citizen) ([]AuditRecord, error)
}

// Once is a single-use value, such as the state of an upstream login whose transaction
// travelled in a cookie rather than in the store: it is kept (with the client assertions'
// jti values, Namespace in place of the client) until ExpiresAt.
type Once struct {
	Namespace, Key string
	ExpiresAt      time.Time
}

// Store is everything the provider needs.
type Store interface {
	Clients
	Citizens
	Sessions
	AuthRequests
	PushedRequests
	AuthCodes
	RefreshTokens
	RevokedTokens
	Consents
	Releases
	Subjects
	TokenKeys
	Assertions
	Logins
}

// TokenKey is a token-signing key, sealed (encrypted) by the keys package before it is
// stored. A key is published in JWKS from CreatedAt, signs from ActiveAt, and is dropped
// from JWKS after RetireAt (zero: never).
type TokenKey struct {
	ID        string // the JWK kid
	Alg       string // ES256 | RS256
	Sealed    []byte // AES-256-GCM of the PKCS#8 private key
	PublicJWK json.RawMessage
	CreatedAt time.Time
	ActiveAt  time.Time
	RetireAt  time.Time
}

// TokenKeys holds token-signing keys.
type TokenKeys interface {
	// CreateTokenKey stores k; ErrConflict if its ID is taken.
	CreateTokenKey(ctx context.Context, k TokenKey) error
	ListTokenKeys(ctx context.Context) ([]TokenKey, error) // ordered by CreatedAt, then ID
}

// RateLimits counts requests per key in fixed windows, shared by every replica through the
// database, so a limit holds however many replicas serve. Keys are opaque to the store
// (the ratelimit package hashes them, so no IP address or citizen id is kept in clear).
//
// Fixed windows: one row per (key, window start), one atomic increment per take. A
// sliding log would need a row per request and a sliding estimate is inexact; a fixed
// window is exact within each window (never more than limit takes allowed in it) and
// costs one statement, at the price of up to 2*limit in a span of one window that straddles
// a boundary, which is acceptable for abuse limits.
type RateLimits interface {
	// TakeRateLimit counts one request for key in the window of length window holding
	// now (windows start at multiples of window since the Unix epoch) and reports whether
	// it is within limit; if not, retryAfter is how long until the window ends. Atomic:
	// however many callers race, across store instances too, at most limit are allowed
	// per key and window.
	TakeRateLimit(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (allowed bool, retryAfter time.Duration, err error)
	// DeleteExpiredRateLimits removes the counters of windows that ended before now.
	DeleteExpiredRateLimits(ctx context.Context, now time.Time) (int64, error)
}

// AuditRecord is one entry of the append-only audit log. Hash is the SHA-256 (hex) of a
// canonical encoding of (Seq, At, Kind, Actor, Details, PrevHash), computed by the audit
// package; PrevHash is the Hash of record Seq-1 ("" for the first), so the records form a
// chain that an edit, insertion or removal breaks.
type AuditRecord struct {
	Seq      int64
	At       time.Time // millisecond precision, UTC
	Kind     string    // e.g. login, release, consent, signing.create, ...
	Actor    string    // pseudonymous: "citizen:<id>", "client:<id>", "admin:<name>"
	Details  json.RawMessage
	PrevHash string
	Hash     string
}

// Audit holds the audit log. Appends are serialized so the chain never forks, also
// between replicas.
type Audit interface {
	// AppendAudit appends rs in order, all or nothing: holding the log's lock, it first
	// seals pending records as SealPendingAudit does (so the log keeps the order in which
	// acts committed), then gives each record of rs the next seq (1 on an empty log) and as
	// PrevHash the hash of the record before it ("" for the first), sets its Hash to
	// seal(r), stores it, and returns the stored records of rs. Several records in one call share one transaction (group commit).
	// Details are stored byte for byte. If seal fails nothing is stored. seal runs under
	// the lock: quick, and no store calls.
	AppendAudit(ctx context.Context, rs []AuditRecord, seal func(AuditRecord) (string, error)) ([]AuditRecord, error)
	// ListAudit returns up to limit records with Seq > after, by Seq.
	ListAudit(ctx context.Context, after int64, limit int) ([]AuditRecord, error)
	// AuditHead returns the seq and hash of the last record appended (0, "" when empty),
	// kept apart from the records so that removing the newest records shows.
	AuditHead(ctx context.Context) (seq int64, hash string, err error)
	// SealPendingAudit moves up to limit pending records (those an act wrote in its own
	// transaction, see Login.Audit), oldest first, into the log: holding the log's lock,
	// it chains each as AppendAudit does and removes it from the pending ones, all in one
	// transaction. It returns the sealed records; none when nothing is pending.
	SealPendingAudit(ctx context.Context, limit int, seal func(AuditRecord) (string, error)) ([]AuditRecord, error)
	// PendingAudit returns how many records wait to be sealed and the time of the oldest.
	PendingAudit(ctx context.Context) (n int, oldest time.Time, err error)
}
