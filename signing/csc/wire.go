package csc

// Algorithm OIDs (dotted strings, as CSC carries them).
const (
	OIDSHA256             = "2.16.840.1.101.3.4.2.1"
	OIDECPublicKey        = "1.2.840.10045.2.1"
	OIDECDSAWithSHA256    = "1.2.840.10045.4.3.2"
	OIDRSAEncryption      = "1.2.840.113549.1.1.1"
	OIDSHA256WithRSA      = "1.2.840.113549.1.1.11"
	SignatureQualifierAES = "eu_eidas_aes" // an advanced signature; Vietnam has no qualifier of its own in CSC
)

// Auth modes of credentials/info auth.mode.
const (
	AuthImplicit   = "implicit"
	AuthExplicit   = "explicit"
	AuthOAuth2Code = "oauth2code"
)

// Auth object types and the ids Motlan uses for them.
const (
	ObjectPassword = "Password"
	ObjectOTP      = "OTP"
	IDPIN          = "PIN"
	IDOTP          = "OTP"
)

// Status values of key.status and cert.status.
const (
	KeyEnabled    = "enabled"
	KeyDisabled   = "disabled"
	CertValid     = "valid"
	CertExpired   = "expired"
	CertRevoked   = "revoked"
	CertSuspended = "suspended"
	CertsChain    = "chain"
	CertsSingle   = "single"
	CertsNone     = "none"
	OperationSync = "S"
	SCAL1, SCAL2  = "1", "2"
)

// The methods Motlan implements, as info lists them, and the spec version it follows.
const (
	SpecsVersion   = "2.0.0.2"
	MethodInfo     = "info"
	MethodList     = "credentials/list"
	MethodCredInfo = "credentials/info"
	MethodAuthz    = "credentials/authorize"
	MethodSignHash = "signatures/signHash"
	MethodTS       = "signatures/timestamp"
	MethodChall    = "credentials/getChallenge"
)

// InfoResponse is the answer of info (11.1).
type InfoResponse struct {
	Specs       string   `json:"specs"`
	Name        string   `json:"name"`
	Logo        string   `json:"logo"`
	Region      string   `json:"region"`
	Lang        string   `json:"lang"`
	Description string   `json:"description"`
	AuthType    []string `json:"authType"`
	OAuth2      string   `json:"oauth2,omitempty"`
	Methods     []string `json:"methods"`
}

// ListRequest is credentials/list (11.4).
type ListRequest struct {
	UserID         string `json:"userID,omitempty"`
	CredentialInfo bool   `json:"credentialInfo,omitempty"`
	Certificates   string `json:"certificates,omitempty"`
	CertInfo       bool   `json:"certInfo,omitempty"`
	AuthInfo       bool   `json:"authInfo,omitempty"`
	OnlyValid      bool   `json:"onlyValid,omitempty"`
	Lang           string `json:"lang,omitempty"`
	ClientData     string `json:"clientData,omitempty"`
}

// ListResponse answers credentials/list.
type ListResponse struct {
	CredentialIDs   []string         `json:"credentialIDs"`
	CredentialInfos []CredentialInfo `json:"credentialInfos,omitempty"`
	OnlyValid       bool             `json:"onlyValid,omitempty"`
}

// InfoRequest is credentials/info (11.5).
type InfoRequest struct {
	CredentialID string `json:"credentialID"`
	Certificates string `json:"certificates,omitempty"`
	CertInfo     bool   `json:"certInfo,omitempty"`
	AuthInfo     bool   `json:"authInfo,omitempty"`
	Lang         string `json:"lang,omitempty"`
	ClientData   string `json:"clientData,omitempty"`
}

// CredentialInfo answers credentials/info; CredentialID is set inside credentials/list.
type CredentialInfo struct {
	CredentialID       string   `json:"credentialID,omitempty"`
	Description        string   `json:"description,omitempty"`
	SignatureQualifier string   `json:"signatureQualifier,omitempty"`
	Key                KeyInfo  `json:"key"`
	Cert               CertInfo `json:"cert"`
	Auth               AuthInfo `json:"auth"`
	SCAL               string   `json:"SCAL,omitempty"`
	Multisign          int      `json:"multisign"`
	Lang               string   `json:"lang,omitempty"`
}

// KeyInfo is credentialInfo.key.
type KeyInfo struct {
	Status string   `json:"status"`
	Algo   []string `json:"algo"`
	Len    int      `json:"len"`
	Curve  string   `json:"curve,omitempty"`
}

// CertInfo is credentialInfo.cert; Certificates are base64 DER, the end entity first.
type CertInfo struct {
	Status       string   `json:"status,omitempty"`
	Certificates []string `json:"certificates,omitempty"`
	IssuerDN     string   `json:"issuerDN,omitempty"`
	SerialNumber string   `json:"serialNumber,omitempty"`
	SubjectDN    string   `json:"subjectDN,omitempty"`
	ValidFrom    string   `json:"validFrom,omitempty"`
	ValidTo      string   `json:"validTo,omitempty"`
}

// AuthInfo is credentialInfo.auth.
type AuthInfo struct {
	Mode       string       `json:"mode"`
	Expression string       `json:"expression,omitempty"`
	Objects    []AuthObject `json:"objects,omitempty"`
}

// AuthObject is one input the explicit mode asks for.
type AuthObject struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	Format      string `json:"format,omitempty"`
	Label       string `json:"label,omitempty"`
	Description string `json:"description,omitempty"`
}

// AuthorizeRequest is credentials/authorize (11.6).
type AuthorizeRequest struct {
	CredentialID     string     `json:"credentialID"`
	NumSignatures    int        `json:"numSignatures"`
	Hashes           []string   `json:"hashes,omitempty"`
	HashAlgorithmOID string     `json:"hashAlgorithmOID,omitempty"`
	AuthData         []AuthData `json:"authData,omitempty"`
	Description      string     `json:"description,omitempty"`
	ClientData       string     `json:"clientData,omitempty"`
}

// AuthData is one value for an explicit auth object.
type AuthData struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

// AuthorizeResponse answers credentials/authorize.
type AuthorizeResponse struct {
	SAD       string `json:"SAD"`
	ExpiresIn int64  `json:"expiresIn,omitempty"`
}

// ChallengeRequest is credentials/getChallenge: the provider sends the holder an OTP.
type ChallengeRequest struct {
	CredentialID string `json:"credentialID"`
	ClientData   string `json:"clientData,omitempty"`
}

// SignHashRequest is signatures/signHash (11.10).
type SignHashRequest struct {
	CredentialID     string   `json:"credentialID"`
	SAD              string   `json:"SAD"`
	Hashes           []string `json:"hashes"`
	HashAlgorithmOID string   `json:"hashAlgorithmOID,omitempty"`
	SignAlgo         string   `json:"signAlgo"`
	SignAlgoParams   string   `json:"signAlgoParams,omitempty"`
	OperationMode    string   `json:"operationMode,omitempty"`
	ClientData       string   `json:"clientData,omitempty"`
}

// SignHashResponse answers signatures/signHash; Signatures are base64, in hash order.
type SignHashResponse struct {
	Signatures []string `json:"signatures,omitempty"`
	ResponseID string   `json:"responseID,omitempty"`
}

// TimestampRequest is signatures/timestamp (11.12): an RFC 3161 token over hash.
type TimestampRequest struct {
	Hash             string `json:"hash"`
	HashAlgorithmOID string `json:"hashAlgorithmOID"`
	Nonce            string `json:"nonce,omitempty"`
	ClientData       string `json:"clientData,omitempty"`
}

// TimestampResponse answers signatures/timestamp; Timestamp is the base64 token.
type TimestampResponse struct {
	Timestamp string `json:"timestamp"`
}

// Error is every error answer.
type Error struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// Error codes. The OAuth ones are RFC 6749/6750's; CSC uses invalid_request with a
// description for most faults. Motlan's server adds the specific codes below, and its
// client also reads the descriptions other providers send.
const (
	ErrInvalidRequest = "invalid_request"
	ErrInvalidToken   = "invalid_token"
	ErrAccessDenied   = "access_denied"
	ErrInsufficient   = "insufficient_scope"
	ErrServer         = "server_error"
	ErrExpiredSAD     = "expired_sad" // the SAD ran out, was used up, or binds other hashes
	ErrInvalidOTP     = "invalid_otp"
	ErrInvalidPIN     = "invalid_pin"
	ErrCredDisabled   = "credential_disabled"  // key disabled or certificate suspended
	ErrCredRevoked    = "credential_revoked"   // certificate revoked or expired
	ErrNotFoundCred   = "invalid_credentialID" // no such credential for this user
)
