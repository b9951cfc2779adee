package verify

import (
	"crypto/x509"
	"errors"
	"time"
)

// Options configure Verify.
type Options struct {
	// Roots are the trust anchors for the signers' and the TSAs' certificates. Nil means
	// the system pool is NOT used: every chain is then untrusted
	// (INDETERMINATE/NO_CERTIFICATE_CHAIN_FOUND).
	Roots *x509.CertPool
	// Intermediates adds CA certificates to those the CMS carries.
	Intermediates *x509.CertPool
	// At is the validation time; zero means time.Now().
	At time.Time
	// MaxSize bounds the input (DefaultMaxSize when 0). The whole file is held in memory.
	MaxSize int64
	// RequireRevocation makes missing revocation evidence an INDETERMINATE result, as
	// ETSI EN 319 102-1 does: TRY_LATER while the certificate is still valid at the
	// validation time (evidence can still be fetched), REVOCATION_OUT_OF_BOUNDS_NO_POE
	// once it expired (no CA answers for it any more and the file holds nothing from
	// its validity). When false (the default, for B-B and B-T files checked without the
	// network), missing evidence only adds a warning; evidence that is present is always
	// checked, and a revocation it proves always fails the signature.
	RequireRevocation bool
}

// DefaultMaxSize is the input limit when Options.MaxSize is 0.
const DefaultMaxSize = 64 << 20

// Errors returned for input that cannot be verified at all; use errors.Is. A readable
// PDF without signatures is not an error: its Report has zero Signatures.
var (
	// ErrInvalidPDF: not a PDF, truncated, broken cross-reference, structures the
	// reader cannot walk safely.
	ErrInvalidPDF = errors.New("verify: invalid PDF")
	// ErrEncrypted: encrypted PDFs are not verified.
	ErrEncrypted = errors.New("verify: encrypted PDF")
	// ErrTooLarge: the input exceeds Options.MaxSize.
	ErrTooLarge = errors.New("verify: input too large")
)

// Indication is the main status of ETSI TS 119 102-1 (clause 5.1.3).
type Indication string

// Indications.
const (
	TotalPassed   Indication = "TOTAL_PASSED"
	TotalFailed   Indication = "TOTAL_FAILED"
	Indeterminate Indication = "INDETERMINATE"
)

// SubIndication qualifies TOTAL_FAILED and INDETERMINATE (ETSI TS 119 102-1, table 5).
type SubIndication string

// Sub-indications this verifier produces.
const (
	// TOTAL_FAILED
	FormatFailure    SubIndication = "FORMAT_FAILURE"     // ByteRange or CMS structure unusable
	HashFailure      SubIndication = "HASH_FAILURE"       // messageDigest differs from the signed bytes
	SigCryptoFailure SubIndication = "SIG_CRYPTO_FAILURE" // the signature value does not verify
	// INDETERMINATE
	NoSigningCertificateFound SubIndication = "NO_SIGNING_CERTIFICATE_FOUND" // no certificate matches the signer identifier
	NoCertificateChainFound   SubIndication = "NO_CERTIFICATE_CHAIN_FOUND"   // no chain to Options.Roots
	OutOfBoundsNoPOE          SubIndication = "OUT_OF_BOUNDS_NO_POE"         // certificate expired at the validation time, no earlier proof of existence
	NotYetValid               SubIndication = "NOT_YET_VALID"                // the best signature time precedes the certificate
	ChainConstraintsFailure   SubIndication = "CHAIN_CONSTRAINTS_FAILURE"    // key usage or other chain constraint not met
	CryptoConstraintsFailure  SubIndication = "CRYPTO_CONSTRAINTS_FAILURE"   // algorithm not supported or not accepted
	SigConstraintsFailure     SubIndication = "SIG_CONSTRAINTS_FAILURE"      // not verified: beyond MaxSignatures per document
	// Revocation (see Options.RequireRevocation and CertStatus).
	Revoked                    SubIndication = "REVOKED"                         // TOTAL_FAILED: revoked at or before the signature's proof of existence
	RevokedNoPOE               SubIndication = "REVOKED_NO_POE"                  // revoked at or before the validation time, no proof the signature came earlier
	RevokedCANoPOE             SubIndication = "REVOKED_CA_NO_POE"               // a CA certificate of the path was revoked before the proof of existence
	TryLater                   SubIndication = "TRY_LATER"                       // no revocation evidence; the certificate is still valid, so it can still be fetched
	RevocationOutOfBoundsNoPOE SubIndication = "REVOCATION_OUT_OF_BOUNDS_NO_POE" // no revocation evidence and the certificate expired: none can be fetched any more
)

// Report is the result of Verify. It is the body of the JSON report of
// `motlan verify` and POST /signing/v1/verify; field names are stable.
type Report struct {
	// ValidationTime is Options.At (or the time Verify ran).
	ValidationTime time.Time `json:"validation_time"`
	// FileSize is the number of bytes verified; SHA256 their hex digest.
	FileSize int64  `json:"file_size"`
	SHA256   string `json:"sha256"`
	// Revisions counts the %%EOF markers that end a revision (a linearized file counts
	// its first-page section as one).
	Revisions int `json:"revisions"`
	// Signatures in signing order (by the end of their signed range). Empty, not null,
	// when the document has none.
	Signatures []Signature `json:"signatures"`
	// DSS summarises the last revision's document security store; nil without one.
	DSS *DSS `json:"dss,omitempty"`
	// TimestampChain lists the document timestamps in order, each a proof of existence
	// for every byte it covers (signatures, their timestamps, the DSS before it).
	TimestampChain []TimestampLink `json:"timestamp_chain,omitempty"`
}

// DSS counts what the document security store holds (ETSI EN 319 142-1 5.4.2).
type DSS struct {
	Certs      int `json:"certs"`
	OCSPs      int `json:"ocsps"`
	CRLs       int `json:"crls"`
	VRIEntries int `json:"vri_entries"`
	// Problems are entries that could not be read (not a stream, too large, ...).
	Problems []string `json:"problems,omitempty"`
}

// TimestampLink is one document timestamp of the chain.
type TimestampLink struct {
	FieldName string    `json:"field_name"`
	Time      time.Time `json:"time"`
	// SignedEnd is the end of the bytes it covers.
	SignedEnd int64  `json:"signed_end"`
	Valid     bool   `json:"valid"`
	TSA       string `json:"tsa,omitempty"`
	// ValidatedAt is when its TSA certificate was checked: the next document
	// timestamp's time (its own proof of existence), or the validation time for the last.
	ValidatedAt time.Time `json:"validated_at"`
}

// POE is a proof of existence (ETSI EN 319 102-1 5.6.2.3) for a signature: it existed
// at Time.
type POE struct {
	Time time.Time `json:"time"`
	// Source is "signature_timestamp" or "document_timestamp" (FieldName names it).
	Source    string `json:"source"`
	FieldName string `json:"field_name,omitempty"`
}

// CertStatus is the revocation status of one certificate, from the file's evidence only.
type CertStatus struct {
	// Role is "signer", "signer_ca", "timestamp" (the TSA of the signature timestamp,
	// or of a document timestamp) or "timestamp_ca".
	Role    string `json:"role"`
	Subject string `json:"subject"`
	Serial  string `json:"serial"`
	// Status is "good" (not revoked at CheckedAt), "revoked" (at or before CheckedAt) or
	// "unknown" (no usable evidence covers CheckedAt).
	Status string `json:"status"`
	// CheckedAt is the time the status is for: the proof of existence of what the
	// certificate signed (the signature timestamp's time, ...), else the validation time.
	CheckedAt time.Time `json:"checked_at"`
	// RevokedAt and Reason are set when evidence shows a revocation, also one after
	// CheckedAt (then Status is still "good").
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	// FromDSS: the evidence that decided the status came from the DSS.
	FromDSS bool `json:"from_dss"`
	// Evidence lists every OCSP response and CRL about this certificate in the file.
	Evidence []EvidenceRef `json:"evidence"`

	notAfter time.Time // the certificate's, for the sub-indication of missing evidence
}

// EvidenceRef is one OCSP response or CRL about a certificate.
type EvidenceRef struct {
	Type string `json:"type"` // "ocsp" or "crl"
	// Source is "dss", "vri" (only in a /VRI entry) or "cms".
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
	// Issuer is the OCSP responder or the CRL issuer.
	Issuer     string     `json:"issuer,omitempty"`
	ProducedAt *time.Time `json:"produced_at,omitempty"`
	ThisUpdate time.Time  `json:"this_update"`
	NextUpdate *time.Time `json:"next_update,omitempty"`
	// Status is what it says of the certificate: "good", "revoked" or "unknown".
	Status    string     `json:"status,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// POE is the earliest document timestamp covering it, when one does.
	POE *time.Time `json:"poe,omitempty"`
	// Used: it decided the status. Problem says why it could not be used.
	Used    bool   `json:"used"`
	Problem string `json:"problem,omitempty"`

	verified bool // signature, authority and CertID checked, known status, issued by the validation time
}

// Signature is the validation report of one signature dictionary.
type Signature struct {
	// FieldName is the fully qualified field name (parent names joined with ".").
	FieldName string `json:"field_name"`
	// Type is "signature" or "document_timestamp" (/Type /DocTimeStamp).
	Type      string `json:"type"`
	SubFilter string `json:"sub_filter"`
	// InFinalRevision is false for a signature whose field no longer appears in the
	// last revision's AcroForm (found by walking an earlier revision).
	InFinalRevision bool `json:"in_final_revision"`

	Signer *Signer `json:"signer,omitempty"`
	// ClaimedTime is the signature dictionary's /M: what the signer's software claimed.
	ClaimedTime *time.Time `json:"claimed_time,omitempty"`
	// Timestamp is the signature timestamp (id-aa-signatureTimeStampToken) or, for a
	// document timestamp, the token itself.
	Timestamp *Timestamp `json:"timestamp,omitempty"`

	// Level is "B-B", "B-T", "B-LT", "B-LTA" (PAdES baseline, ETSI EN 319 142-1),
	// "PKCS7-B", "PKCS7-T" (adbe.pkcs7.detached), "DocTimeStamp", or "not PAdES".
	// B-LT: B-T and the DSS holds revocation evidence for the signer's and the signature
	// timestamp's TSA certificates, and the file holds their CA certificates. B-LTA:
	// B-LT and a valid document timestamp covers that DSS evidence. LevelReasons say
	// why a higher level was not reached.
	Level        string   `json:"level"`
	LevelReasons []string `json:"level_reasons,omitempty"`

	ByteRange ByteRange `json:"byte_range"`
	Integrity Integrity `json:"integrity"`
	Coverage  Coverage  `json:"coverage"`
	// Changes describes what was appended after the signed revision; nil when nothing was.
	Changes *Changes `json:"changes_after_signing,omitempty"`
	Chain   Chain    `json:"chain"`
	// ProofsOfExistence: the signature timestamp and the document timestamps that
	// cover the signature, earliest first.
	ProofsOfExistence []POE `json:"proofs_of_existence,omitempty"`
	// Revocation is the status of the signer's (or, for a document timestamp, the
	// TSA's) certificate path, then of the signature timestamp's TSA path.
	Revocation []CertStatus `json:"revocation,omitempty"`
	// VRIEntry: the DSS has a /VRI entry for this signature.
	VRIEntry bool `json:"vri_entry,omitempty"`

	Indication    Indication    `json:"indication"`
	SubIndication SubIndication `json:"sub_indication,omitempty"`
	// Errors explain a failed or indeterminate indication; Warnings are findings that
	// do not change it (later changes, an unusable timestamp, ...).
	Errors   []string `json:"errors,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// Signer identifies the signing certificate's subject.
type Signer struct {
	// Name is the subject CN, UTF-8 as in the certificate.
	Name string `json:"name"`
	// IDType is the UID prefix ("CCCD", "CMND", "HC", ...); IDMasked the number with all
	// but its first 3 and last 2 characters replaced by '*'. The full number is never
	// reported.
	IDType    string    `json:"id_type,omitempty"`
	IDMasked  string    `json:"id_masked,omitempty"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

// Timestamp describes an RFC 3161 token.
type Timestamp struct {
	// Time is the token's genTime (meaningful only when Valid).
	Time time.Time `json:"time"`
	TSA  string    `json:"tsa,omitempty"`
	// ImprintMatches: the messageImprint equals the hash of the signature value (or, for
	// a document timestamp, of the signed byte ranges).
	ImprintMatches bool `json:"imprint_matches"`
	// SignatureValid: the token's own CMS signature verifies with the TSA certificate.
	SignatureValid bool `json:"signature_valid"`
	// ChainTrusted: the TSA certificate chains to Options.Roots with the timeStamping
	// extended key usage at the token's proof of existence: the earliest valid
	// document timestamp covering it, else the validation time.
	ChainTrusted bool `json:"chain_trusted"`
	// Valid is all three.
	Valid bool   `json:"valid"`
	Error string `json:"error,omitempty"`
}

// ByteRange is the /ByteRange and its sanity checks: starts at 0, two ranges, the gap is
// exactly the /Contents hex string, no overlap, within the file.
type ByteRange struct {
	Values   []int64  `json:"values"`
	Valid    bool     `json:"valid"`
	Problems []string `json:"problems,omitempty"`
}

// Integrity is the cryptographic check of the CMS.
type Integrity struct {
	DigestAlgorithm    string `json:"digest_algorithm,omitempty"`
	SignatureAlgorithm string `json:"signature_algorithm,omitempty"`
	// DigestMatches: messageDigest (or the timestamp imprint) equals the digest of the
	// ByteRange bytes.
	DigestMatches bool `json:"digest_matches"`
	// SignatureValid: the signature verifies with the signer certificate's key over the
	// DER signed attributes.
	SignatureValid bool `json:"signature_valid"`
}

// Coverage says what the signed bytes cover.
type Coverage struct {
	// SignedEnd is ByteRange[2]+ByteRange[3]: the end of the signed bytes.
	SignedEnd int64 `json:"signed_end"`
	// CoversRevision: the signed bytes end at a %%EOF (optionally followed by an
	// end-of-line): the signature covers its whole revision.
	CoversRevision bool `json:"covers_revision"`
	// CoversWholeDocument: the signed bytes end at the end of the file.
	CoversWholeDocument bool `json:"covers_whole_document"`
}

// Change classifications, from harmless to suspicious.
const (
	ChangesSignatures  = "signatures_only" // signatures, their fields/widgets/appearances, DSS
	ChangesAnnotations = "annotations"     // plus annotations and metadata
	ChangesOther       = "other"           // other objects were modified (page content, pages, ...)
	ChangesUnknown     = "unknown"         // the signed revision could not be compared
)

// Changes describes the incremental updates after a signed revision.
type Changes struct {
	// LaterRevisions counts %%EOF markers after the signed bytes.
	LaterRevisions int `json:"later_revisions"`
	// Classification is the worst category among ChangedObjects: "signatures_only",
	// "annotations", "other" or "unknown".
	Classification string          `json:"classification"`
	Objects        []ChangedObject `json:"objects,omitempty"`
	// Truncated: more objects changed than are listed (the classification still
	// covers the checked ones); or the comparison stopped at its budget.
	Truncated bool `json:"truncated,omitempty"`
	// Checked says what was compared.
	Checked string `json:"checked"`
}

// ChangedObject is one object added or modified after the signed revision.
type ChangedObject struct {
	Object string `json:"object"` // "12 0"
	Change string `json:"change"` // "added" or "modified"
	Type   string `json:"type,omitempty"`
	// Category is "signature", "annotation", "metadata", "structure" or "other".
	Category string `json:"category"`
	// Keys lists the dictionary keys that differ (for a modified dictionary).
	Keys []string `json:"keys,omitempty"`
}

// Chain is the signer's certificate path validation.
type Chain struct {
	Trusted bool `json:"trusted"`
	// ValidatedAt is the time the path was validated at; TimeSource says where it came
	// from: "timestamp" (a valid signature timestamp, proof of existence),
	// "document_timestamp" (the earliest valid document timestamp covering the
	// signature, when it has no valid signature timestamp) or "validation_time".
	ValidatedAt time.Time `json:"validated_at"`
	TimeSource  string    `json:"time_source"`
	// Path lists subjects from the signer to the root, when a path was found.
	Path []string `json:"path,omitempty"`
	// KeyUsageOK: the certificate allows digitalSignature or nonRepudiation.
	KeyUsageOK bool   `json:"key_usage_ok"`
	Error      string `json:"error,omitempty"`
}
