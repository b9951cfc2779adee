// Package verify is Motlan's verifier for signed PDFs: it validates every signature
// dictionary of a document and reports, per signature, in the style of ETSI TS 119 102-2.
//
// What is checked for each signature field of type /Sig (walking the AcroForm of the last
// revision and of up to 32 earlier ones, so a signature whose field a later update removed
// is still reported):
//
//   - ByteRange sanity: four integers, first range at 0, the gap exactly the /Contents hex
//     string (same bytes as the parsed /Contents), no overlap, within the file;
//   - integrity: the CMS messageDigest equals the digest of the ByteRange bytes and the
//     signature verifies with the signer certificate's key over the DER signed attributes;
//   - coverage: the signed bytes end at a %%EOF (the whole revision is signed) and whether
//     they end at the end of the file; when they do not, what later updates changed (see
//     changes.go for what the classification compares);
//   - the PAdES level: B-B (ETSI.CAdES.detached, ESS signing-certificate-v2 identifying the
//     signer, no signingTime, contentType id-data), B-T (plus a valid signature timestamp),
//     B-LT (plus, in the DSS, OCSP responses or CRLs that verify for the signer's and the
//     signature timestamp's TSA certificates, and their CA certificates in the file),
//     B-LTA (plus a valid document timestamp covering that DSS evidence), PKCS7-B/PKCS7-T
//     for adbe.pkcs7.detached, "not PAdES" otherwise, with reasons;
//   - the signature timestamp (id-aa-signatureTimeStampToken): its CMS signature, its
//     imprint over the signature value, and its TSA's chain to Options.Roots with the
//     timeStamping extended key usage at the token's proof of existence (POE);
//   - document timestamps (/SubFilter /ETSI.RFC3161): the imprint over their ByteRange,
//     their TSA's chain and revocation at their own POE (the next document timestamp,
//     else the validation time); reported as the timestamp_chain. One that passes is a
//     POE for every byte it covers: signatures, their timestamps, the DSS before it;
//   - the signer's chain to Options.Roots (x509.Verify, any extended key usage; key usage
//     digitalSignature or nonRepudiation) at the best signature time: the signature
//     timestamp's time when valid, else the earliest document timestamp covering the
//     signature, else the validation time. The claimed /M is reported, never trusted;
//   - revocation of the signer's and the TSAs' paths (every certificate but the root) at
//     that time, from the file only: the last revision's /DSS (/Certs, /OCSPs, /CRLs and
//     /VRI entries, bounded), the DSS of each revision a document timestamp covers, the
//     CMS certificates, crls and adbe-revocationInfoArchival. The rules are in
//     revocation.go: OCSP responses signed by the issuer or a delegated responder it
//     certified (id-kp-OCSPSigning, valid at producedAt), CertID matching serial and issuer
//     hashes; CRLs signed by the issuer, no delta CRLs; "good" only while current at the
//     time checked (up to nextUpdate) and issued within the certificate's validity;
//     evidence issued after the validation time ignored. No network access, ever.
//
// Long-term validation (ETSI EN 319 102-1, simplified): a certificate revoked after the
// POE passes; revoked at or before it, TOTAL_FAILED/REVOKED (INDETERMINATE/REVOKED_NO_POE
// without a timestamp POE, REVOKED_CA_NO_POE for a CA certificate). A certificate expired
// at the validation time passes when a POE precedes expiry (the chain is validated at the
// POE), else INDETERMINATE/OUT_OF_BOUNDS_NO_POE. Missing revocation evidence is a warning
// by default (B-B and B-T files carry none); with Options.RequireRevocation it is
// INDETERMINATE/TRY_LATER while the certificate is still valid at the validation time
// (fresh evidence can be fetched) and REVOCATION_OUT_OF_BOUNDS_NO_POE once it expired
// (no CA answers for it any more). Simplification: the signatures of OCSP responses and
// CRLs are checked at the time they state, whether or not a document timestamp proves
// they existed then (their POE is reported per item); the responder's own revocation is
// not checked (the dev CA marks it id-pkix-ocsp-nocheck).
//
// Indications: TOTAL_FAILED with FORMAT_FAILURE (ByteRange or CMS structure), HASH_FAILURE,
// SIG_CRYPTO_FAILURE or REVOKED; INDETERMINATE with the revocation sub-indications above,
// NO_SIGNING_CERTIFICATE_FOUND,
// NO_CERTIFICATE_CHAIN_FOUND, OUT_OF_BOUNDS_NO_POE (expired at the validation time, no
// timestamp before expiry), NOT_YET_VALID, CHAIN_CONSTRAINTS_FAILURE,
// CRYPTO_CONSTRAINTS_FAILURE, FORMAT_FAILURE for a signature that does not end at a
// revision's %%EOF or an unsupported SubFilter, or SIG_CONSTRAINTS_FAILURE for one beyond
// MaxSignatures; TOTAL_PASSED otherwise. Changes after
// signing do not change the indication of the earlier signature (its revision is intact);
// they are reported in changes_after_signing and as a warning.
//
// Work is bounded per document: at most MaxSignatures (64) signature dictionaries are
// verified (document timestamps first, then signatures in field order); the others are
// reported INDETERMINATE/SIG_CONSTRAINTS_FAILURE with an error saying they were not
// verified. Each CRL and OCSP response is parsed once and its signature checked once per
// issuer or responder certificate, what it says of a certificate is evaluated once, and
// the digest of a ByteRange and the changes after a signed revision are computed once,
// however many signatures share them.
//
// Input that cannot be read at all gives an error wrapping ErrInvalidPDF, ErrEncrypted or
// ErrTooLarge; a readable PDF without signatures gives a Report with an empty Signatures
// list. The PDF reader (github.com/digitorus/pdf) panics on malformed input and has
// quadratic or unbounded paths: Verify checks the header, %%EOF near the end, declared
// sizes, object-stream /N and /First and /Extends before using it, and recovers its panics.
// The CMS and TSTInfo are read by internal/cms, hand-written on encoding/asn1 and shared
// with the signer and the TSA (DER, one level of constructed eContent; BER indefinite
// lengths are a FORMAT_FAILURE); the policy on top (one SignerInfo, only zero padding
// after the DER, no SHA-1) is cms.go's.
//
// The code follows the building blocks of ETSI EN 319 102-1, one function each in
// blocks.go under the standard's name: formatChecking (5.2.2, after the ByteRange
// checks of byterange.go), identifySigningCertificate (5.2.3), x509Validation (5.2.6,
// with 5.2.5's revocation checks from revocation.go), cryptographicVerification
// (5.2.7), signatureAcceptanceValidation (5.2.8, against the PAdES baseline),
// timestampValidation (5.4) and pastSignatureValidation (5.6.2.4, simplified: the path
// is validated at the earliest proof of existence at once). Verifier.validate runs them;
// longterm.go judges revocation and the B-LT and B-LTA levels.
//
// A report, as JSON (abridged):
//
//	{
//	  "validation_time": "2026-01-02T09:00:00Z",
//	  "file_size": 40213, "sha256": "…", "revisions": 2,
//	  "signatures": [{
//	    "field_name": "Signature1", "type": "signature", "sub_filter": "ETSI.CAdES.detached",
//	    "in_final_revision": true,
//	    "signer": {"name": "Lê Công Hảo", "id_type": "CCCD", "id_masked": "038*******67", …},
//	    "claimed_time": "2026-01-02T15:30:00+07:00",
//	    "timestamp": {"time": "…", "imprint_matches": true, "signature_valid": true, "chain_trusted": true, "valid": true},
//	    "level": "B-LT",
//	    "byte_range": {"values": [0, 1234, 39000, 1213], "valid": true},
//	    "integrity": {"digest_algorithm": "SHA-256", "signature_algorithm": "ECDSA-SHA256", "digest_matches": true, "signature_valid": true},
//	    "coverage": {"signed_end": 40213, "covers_revision": true, "covers_whole_document": true},
//	    "chain": {"trusted": true, "validated_at": "…", "time_source": "timestamp", "path": ["…"], "key_usage_ok": true},
//	    "proofs_of_existence": [{"time": "…", "source": "signature_timestamp"}],
//	    "revocation": [{"role": "signer", "status": "good", "checked_at": "…", "from_dss": true,
//	      "evidence": [{"type": "ocsp", "source": "dss", "this_update": "…", "status": "good", "used": true}]}, …],
//	    "indication": "TOTAL_PASSED"
//	  }],
//	  "dss": {"certs": 5, "ocsps": 2, "crls": 2, "vri_entries": 0}
//	}
package verify
