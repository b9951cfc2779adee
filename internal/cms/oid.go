package cms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// Content types, attributes and algorithms (RFC 5652, 3161, 5035, 5754, 5758, 8410).
var (
	OIDData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	OIDSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	OIDTSTInfo    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}

	OIDAttrContentType        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	OIDAttrMessageDigest      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	OIDAttrSigningTime        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	OIDAttrSigningCert        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	OIDAttrSigningCertV2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	OIDAttrSignatureTimeStamp = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}

	OIDSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	OIDSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	OIDSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	OIDSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	OIDRSAEncryption   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	OIDRSAPSS          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	OIDSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	OIDSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	OIDSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	OIDECPublicKey     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	OIDECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	OIDECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	OIDECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	OIDEd25519         = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// hashes maps digest algorithm OIDs to hashes, in both directions.
var hashes = []struct {
	oid asn1.ObjectIdentifier
	h   crypto.Hash
}{{OIDSHA1, crypto.SHA1}, {OIDSHA256, crypto.SHA256}, {OIDSHA384, crypto.SHA384}, {OIDSHA512, crypto.SHA512}}

// Hash returns the hash a digest AlgorithmIdentifier names, or 0. SHA-1 is returned:
// whether it is acceptable is the caller's policy.
func Hash(oid asn1.ObjectIdentifier) crypto.Hash {
	for _, e := range hashes {
		if e.oid.Equal(oid) {
			return e.h
		}
	}
	return 0
}

// HashOID returns the digest algorithm OID of h.
func HashOID(h crypto.Hash) (asn1.ObjectIdentifier, bool) {
	for _, e := range hashes {
		if e.h == h {
			return e.oid, true
		}
	}
	return nil, false
}

// HashName names the digest algorithm oid ("SHA-256"), or gives the OID when unknown.
func HashName(oid asn1.ObjectIdentifier) string {
	if h := Hash(oid); h != 0 {
		return h.String()
	}
	return oid.String()
}

// signatureAlgorithms maps a SignerInfo's signatureAlgorithm and digestAlgorithm to the
// x509 algorithm that checks it. A bare key OID (rsaEncryption, id-ecPublicKey, RSASSA-PSS)
// takes the digest's hash; a combined OID must agree with it.
var signatureAlgorithms = []struct {
	oid asn1.ObjectIdentifier
	h   crypto.Hash // 0: any
	alg x509.SignatureAlgorithm
}{
	{OIDRSAEncryption, crypto.SHA256, x509.SHA256WithRSA},
	{OIDRSAEncryption, crypto.SHA384, x509.SHA384WithRSA},
	{OIDRSAEncryption, crypto.SHA512, x509.SHA512WithRSA},
	{OIDRSAPSS, crypto.SHA256, x509.SHA256WithRSAPSS},
	{OIDRSAPSS, crypto.SHA384, x509.SHA384WithRSAPSS},
	{OIDRSAPSS, crypto.SHA512, x509.SHA512WithRSAPSS},
	{OIDECPublicKey, crypto.SHA256, x509.ECDSAWithSHA256},
	{OIDECPublicKey, crypto.SHA384, x509.ECDSAWithSHA384},
	{OIDECPublicKey, crypto.SHA512, x509.ECDSAWithSHA512},
	{OIDSHA256WithRSA, crypto.SHA256, x509.SHA256WithRSA},
	{OIDSHA384WithRSA, crypto.SHA384, x509.SHA384WithRSA},
	{OIDSHA512WithRSA, crypto.SHA512, x509.SHA512WithRSA},
	{OIDECDSAWithSHA256, crypto.SHA256, x509.ECDSAWithSHA256},
	{OIDECDSAWithSHA384, crypto.SHA384, x509.ECDSAWithSHA384},
	{OIDECDSAWithSHA512, crypto.SHA512, x509.ECDSAWithSHA512},
	{OIDEd25519, 0, x509.PureEd25519},
}

// SignatureAlgorithm returns the x509 algorithm for a SignerInfo's signatureAlgorithm
// sigAlg and digest algorithm h, or x509.UnknownSignatureAlgorithm.
func SignatureAlgorithm(sigAlg asn1.ObjectIdentifier, h crypto.Hash) x509.SignatureAlgorithm {
	for _, e := range signatureAlgorithms {
		if e.oid.Equal(sigAlg) && (e.h == 0 || e.h == h) {
			return e.alg
		}
	}
	return x509.UnknownSignatureAlgorithm
}

// SignatureAlgorithmFor is the signatureAlgorithm Motlan writes for a key signing a
// SHA-256 digest: ecdsa-with-SHA256, or sha256WithRSAEncryption with NULL parameters.
func SignatureAlgorithmFor(pub crypto.PublicKey) (pkix.AlgorithmIdentifier, error) {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: OIDECDSAWithSHA256}, nil
	case *rsa.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: OIDSHA256WithRSA, Parameters: asn1.NullRawValue}, nil
	}
	return pkix.AlgorithmIdentifier{}, fmt.Errorf("cms: unsupported key type %T (want ECDSA or RSA)", pub)
}
