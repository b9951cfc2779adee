// Package cms owns the CMS (RFC 5652) and RFC 3161 encodings Motlan reads and writes: the
// object identifiers and algorithm identifiers, once; one bounded DER reader for
// SignedData (ParseSignedData), TSTInfo (ParseTSTInfo) and the time-stamp token made of
// both (ParseTimestampToken, used by the TSA client, the signer and the verifier alike);
// one SignedData builder
// (SignedData.Marshal with SignedAttributes) for PAdES signatures and time-stamp tokens;
// and the checks every signer verification shares (messageDigest, the signature over the
// signed attributes, ESS signing-certificate and signing-certificate-v2).
//
// It is hand-written rather than taken from a PKCS #7 library because each user needs
// something such libraries hide: the raw encodings the signatures cover, exactly the
// signed attributes PAdES baseline allows (no signingTime), and a reader that reports
// instead of panicking on hostile input. The reader accepts DER, plus one level of BER
// constructed OCTET STRING for eContent; it bounds every collection it walks to
// MaxElements. It does not decide policy: which algorithms are acceptable, whether bytes
// may follow the ContentInfo, or what a missing certificate means is the caller's.
//
// Not checked here: certificate paths, revocation, and the meaning of a TSTInfo's time.
// Tests cross-check the encodings against OpenSSL and github.com/digitorus/timestamp so
// this reader is not checked only against this builder.
package cms
