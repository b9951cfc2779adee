// Package pades signs PDF documents with PAdES baseline signatures (ETSI EN 319 142-1,
// levels B-B and B-T).
//
// Sign appends one incremental update to the input: a signature dictionary with
// /SubFilter /ETSI.CAdES.detached, a signature field merged with its widget annotation
// (an approval signature, never a DocMDP certification, so later signers keep earlier
// signatures valid), the updated page /Annots and AcroForm, and a cross-reference section
// of the same kind as the input's last one (table or stream). The original bytes are left
// untouched.
//
// The CMS SignedData is built with internal/cms (hand-written, shared with the TSA and
// the verifier), not by a general PKCS #7 library: its signed attributes are exactly
// contentType, messageDigest and ESS signing-certificate-v2 (no signingTime: the claimed
// time goes into the signature dictionary's /M). For B-T an RFC 3161 token over the
// signature value is added as the unsigned attribute id-aa-signatureTimeStampToken, after
// internal/cms has read it and checked its imprint (and its signature when it carries the
// TSA certificate). Tests read the result with their own ASN.1 shapes and
// github.com/digitorus/timestamp, and compare it with golden DER (TestGoldenCMS, -update).
//
// The private-key operation happens exactly once per document. /Contents space is
// reserved up-front from the certificate sizes plus a timestamp allowance; when the final
// CMS does not fit, Sign returns a *ContentsOverflowError instead of signing again.
//
// An encrypted input that opens without a password (an owner password only, standard
// security handler: RC4, AES-128 or AES-256) is signed with its update encrypted with
// the document's key, as ISO 32000-2 7.6 requires (encrypt.go); one that needs a user
// password is ErrPasswordRequired.
//
// Parsing uses internal/pdf (Motlan's fork of github.com/digitorus/pdf, the reader under
// github.com/digitorus/pdfsign), opened through signing/internal/pdfguard from the
// io.ReaderAt itself (the file is never copied into memory); the reader refuses hostile
// input where it parses it, and its panics on malformed input are turned into
// ErrInvalidPDF.
package pades
