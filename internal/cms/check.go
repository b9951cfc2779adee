package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

// Errors of the signer checks; callers branch on them to name the failure.
var (
	ErrNoSignedAttrs = errors.New("the SignerInfo has no signed attributes")
	ErrMessageDigest = errors.New("no single messageDigest signed attribute")
	// ErrMessageDigestType: the messageDigest attribute's value is not an OCTET STRING.
	ErrMessageDigestType = errors.New("messageDigest is not an OCTET STRING")
	ErrDigestMismatch    = errors.New("messageDigest does not match the digest of the signed content")
	ErrUnknownAlg        = errors.New("unsupported signature algorithm")
	ErrSignature         = errors.New("the signature does not verify with the signer's key")
)

// MessageDigest returns the value of the single messageDigest signed attribute.
func (si *SignerInfo) MessageDigest() ([]byte, error) {
	if si.RawSignedAttrs == nil {
		return nil, ErrNoSignedAttrs
	}
	md := FindAttr(si.SignedAttrs, OIDAttrMessageDigest)
	if md == nil || len(md.Values) != 1 {
		return nil, ErrMessageDigest
	}
	var got []byte
	if rest, err := asn1.Unmarshal(md.Values[0], &got); err != nil || len(rest) > 0 {
		return nil, ErrMessageDigestType
	}
	return got, nil
}

// ContentTypeIs reports whether the single contentType signed attribute equals oid.
func (si *SignerInfo) ContentTypeIs(oid asn1.ObjectIdentifier) bool {
	a := FindAttr(si.SignedAttrs, OIDAttrContentType)
	if a == nil || len(a.Values) != 1 {
		return false
	}
	var got asn1.ObjectIdentifier
	_, err := asn1.Unmarshal(a.Values[0], &got)
	return err == nil && got.Equal(oid)
}

// CheckSignature verifies the signature over the DER signed attributes (the SET OF the
// signature covers, RFC 5652 5.4) with cert's key; h is the digest algorithm's hash. It
// returns the algorithm it checked with.
func (si *SignerInfo) CheckSignature(cert *x509.Certificate, h crypto.Hash) (x509.SignatureAlgorithm, error) {
	if si.RawSignedAttrs == nil {
		return x509.UnknownSignatureAlgorithm, ErrNoSignedAttrs
	}
	alg := SignatureAlgorithm(si.SignatureAlgorithm.Algorithm, h)
	if alg == x509.UnknownSignatureAlgorithm {
		return alg, fmt.Errorf("%w: %v with %v", ErrUnknownAlg, si.SignatureAlgorithm.Algorithm, h)
	}
	signed, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSet, IsCompound: true, Bytes: si.RawSignedAttrs})
	if err != nil {
		return alg, err
	}
	if err := cert.CheckSignature(alg, signed, si.Signature); err != nil {
		return alg, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	return alg, nil
}

// VerifyContent checks a signer of encapsulated content (a time-stamp token's): the
// digest algorithm is one of SHA-256/384/512, the contentType attribute names
// eContentType, messageDigest matches eContent, and the signature verifies with cert.
func (sd *SignedData) VerifyContent(si *SignerInfo, cert *x509.Certificate) error {
	h := Hash(si.DigestAlgorithm.Algorithm)
	if h == 0 || h == crypto.SHA1 || !h.Available() {
		return fmt.Errorf("%w: digest algorithm %s", ErrUnknownAlg, HashName(si.DigestAlgorithm.Algorithm))
	}
	md, err := si.MessageDigest()
	if err != nil {
		return err
	}
	if !si.ContentTypeIs(sd.EContentType) {
		return errors.New("the contentType attribute does not name the encapsulated content")
	}
	hh := h.New()
	hh.Write(sd.EContent)
	if !bytes.Equal(md, hh.Sum(nil)) {
		return ErrDigestMismatch
	}
	_, err = si.CheckSignature(cert, h)
	return err
}

// ESS signing-certificate (RFC 2634) and signing-certificate-v2 (RFC 5035).
type essCertIDv2 struct {
	HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"` // absent: SHA-256
	CertHash      []byte
	IssuerSerial  asn1.RawValue `asn1:"optional"`
}

type signingCertificateV2 struct {
	Certs    []essCertIDv2
	Policies asn1.RawValue `asn1:"optional"`
}

type essCertID struct {
	CertHash     []byte
	IssuerSerial asn1.RawValue `asn1:"optional"`
}

type signingCertificate struct {
	Certs    []essCertID
	Policies asn1.RawValue `asn1:"optional"`
}

// MatchSigningCertificateV2 checks that the first ESSCertIDv2 of a signing-certificate-v2
// attribute's value is the hash of cert (SHA-1 is not accepted).
func MatchSigningCertificateV2(value []byte, cert *x509.Certificate) error {
	var sc signingCertificateV2
	if _, err := asn1.Unmarshal(value, &sc); err != nil || len(sc.Certs) == 0 {
		return fmt.Errorf("signing-certificate-v2 is malformed: %v", err)
	}
	id := sc.Certs[0]
	h := crypto.SHA256 // DEFAULT
	if len(id.HashAlgorithm.Algorithm) > 0 {
		if h = Hash(id.HashAlgorithm.Algorithm); h == 0 || h == crypto.SHA1 || !h.Available() {
			return fmt.Errorf("signing-certificate-v2 hash algorithm %v not accepted", id.HashAlgorithm.Algorithm)
		}
	}
	return matchHash("signing-certificate-v2", h, id.CertHash, cert)
}

// MatchSigningCertificate checks the first ESSCertID (SHA-1) of a signing-certificate
// attribute's value against cert.
func MatchSigningCertificate(value []byte, cert *x509.Certificate) error {
	var sc signingCertificate
	if _, err := asn1.Unmarshal(value, &sc); err != nil || len(sc.Certs) == 0 {
		return fmt.Errorf("signing-certificate is malformed: %v", err)
	}
	return matchHash("signing-certificate", crypto.SHA1, sc.Certs[0].CertHash, cert)
}

func matchHash(what string, h crypto.Hash, want []byte, cert *x509.Certificate) error {
	if cert == nil {
		return fmt.Errorf("no signer certificate to compare %s with", what)
	}
	hh := h.New()
	hh.Write(cert.Raw)
	if !bytes.Equal(hh.Sum(nil), want) {
		return fmt.Errorf("%s does not identify the signer's certificate", what)
	}
	return nil
}
