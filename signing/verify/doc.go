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
//     PKCS7-B/PKCS7-T for adbe.pkcs7.detached, "not PAdES" otherwise, with reasons;
//   - the signature timestamp (id-aa-signatureTimeStampToken): its CMS signature, its
//     imprint over the signature value, and its TSA's chain to Options.Roots with the
//     timeStamping extended key usage at the validation time;
//   - the signer's chain to Options.Roots (x509.Verify, any extended key usage; key usage
//     digitalSignature or nonRepudiation) at the best signature time: the timestamp's time
//     when a valid one exists, else the validation time. The claimed /M is reported, never
//     trusted. No revocation checking and no network access.
//
// Indications: TOTAL_FAILED with FORMAT_FAILURE (ByteRange or CMS structure), HASH_FAILURE
// or SIG_CRYPTO_FAILURE; INDETERMINATE with NO_SIGNING_CERTIFICATE_FOUND,
// NO_CERTIFICATE_CHAIN_FOUND, OUT_OF_BOUNDS_NO_POE (expired at the validation time, no
// timestamp before expiry), NOT_YET_VALID, CHAIN_CONSTRAINTS_FAILURE,
// CRYPTO_CONSTRAINTS_FAILURE, or FORMAT_FAILURE for a signature that does not end at a
// revision's %%EOF or an unsupported SubFilter; TOTAL_PASSED otherwise. Changes after
// signing do not change the indication of the earlier signature (its revision is intact);
// they are reported in changes_after_signing and as a warning.
//
// Input that cannot be read at all gives an error wrapping ErrInvalidPDF, ErrEncrypted or
// ErrTooLarge; a readable PDF without signatures gives a Report with an empty Signatures
// list. The PDF reader (github.com/digitorus/pdf) panics on malformed input and has
// quadratic or unbounded paths: Verify checks the header, %%EOF near the end, declared
// sizes, object-stream /N and /First and /Extends before using it, and recovers its panics.
// The CMS is parsed here with encoding/asn1 (DER; BER indefinite lengths are a
// FORMAT_FAILURE).
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
//	    "level": "B-T",
//	    "byte_range": {"values": [0, 1234, 39000, 1213], "valid": true},
//	    "integrity": {"digest_algorithm": "SHA-256", "signature_algorithm": "ECDSA-SHA256", "digest_matches": true, "signature_valid": true},
//	    "coverage": {"signed_end": 40213, "covers_revision": true, "covers_whole_document": true},
//	    "chain": {"trusted": true, "validated_at": "…", "time_source": "timestamp", "path": ["…"], "key_usage_ok": true},
//	    "indication": "TOTAL_PASSED"
//	  }]
//	}
package verify
