package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sort"

	"github.com/digitorus/timestamp"
)

var (
	oidData                    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidSHA256                  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidAttrContentType         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidAttrSigningCertV2       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidAttrSignatureTimeStamp  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	oidECDSAWithSHA256         = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidSHA256WithRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
)

// ASN.1 shapes of RFC 5652 (CMS) and RFC 5035 (ESS signing-certificate-v2). Fields that
// carry their own tags are built as RawValue.
type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue // [0] EXPLICIT
}

type signedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional"` // [0] IMPLICIT SET OF Certificate
	SignerInfos      []signerInfo  `asn1:"set"`
}

type encapContentInfo struct {
	EContentType asn1.ObjectIdentifier
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type signerInfo struct {
	Version            int
	SID                issuerAndSerial
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue // [0] IMPLICIT SET OF Attribute
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional"` // [1] IMPLICIT SET OF Attribute
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue // SET OF AttributeValue
}

type essCertIDv2 struct {
	// hashAlgorithm DEFAULT sha256 is omitted, as DER requires for the default.
	CertHash     []byte
	IssuerSerial essIssuerSerial
}

type essIssuerSerial struct {
	Issuer asn1.RawValue // GeneralNames: SEQUENCE { [4] EXPLICIT Name }
	Serial *big.Int
}

type signingCertificateV2 struct {
	Certs []essCertIDv2
}

func signatureAlgorithm(pub crypto.PublicKey) (pkix.AlgorithmIdentifier, error) {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}, nil
	case *rsa.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSAEncryption, Parameters: asn1.NullRawValue}, nil
	}
	return pkix.AlgorithmIdentifier{}, fmt.Errorf("%w: unsupported key type %T", ErrBadOptions, pub)
}

func tagged(class, tag int, content []byte) asn1.RawValue {
	return asn1.RawValue{Class: class, Tag: tag, IsCompound: true, Bytes: content}
}

// derSet encodes the DER SET OF the given element encodings (sorted, as DER requires).
func derSet(elems [][]byte) []byte {
	sorted := append([][]byte(nil), elems...)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i], sorted[j]) < 0 })
	b, _ := asn1.Marshal(tagged(asn1.ClassUniversal, asn1.TagSet, bytes.Join(sorted, nil)))
	return b
}

func marshalAttribute(oid asn1.ObjectIdentifier, valueDER []byte) ([]byte, error) {
	return asn1.Marshal(attribute{Type: oid, Values: tagged(asn1.ClassUniversal, asn1.TagSet, valueDER)})
}

// signedAttributes returns the DER SET OF the signed attributes: contentType,
// messageDigest and signing-certificate-v2. No signingTime (ETSI EN 319 142-1, 6.3).
func signedAttributes(cert *x509.Certificate, docDigest []byte) ([]byte, error) {
	ct, _ := asn1.Marshal(oidData)
	md, _ := asn1.Marshal(docDigest)
	certHash := sha256.Sum256(cert.Raw)
	// GeneralNames ::= SEQUENCE OF GeneralName; directoryName is [4] EXPLICIT Name.
	dirName, _ := asn1.Marshal(tagged(asn1.ClassContextSpecific, 4, cert.RawIssuer))
	scv2, err := asn1.Marshal(signingCertificateV2{Certs: []essCertIDv2{{
		CertHash: certHash[:],
		IssuerSerial: essIssuerSerial{
			Issuer: tagged(asn1.ClassUniversal, asn1.TagSequence, dirName),
			Serial: cert.SerialNumber,
		},
	}}})
	if err != nil {
		return nil, err
	}
	var attrs [][]byte
	for _, a := range []struct {
		oid asn1.ObjectIdentifier
		v   []byte
	}{{oidAttrContentType, ct}, {oidAttrMessageDigest, md}, {oidAttrSigningCertV2, scv2}} {
		b, err := marshalAttribute(a.oid, a.v)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, b)
	}
	return derSet(attrs), nil
}

// buildCMS signs docDigest: it calls s.Sign exactly once and, for B-T, opt.Timestamp once.
func buildCMS(ctx context.Context, s Signer, opt *Options, docDigest []byte) ([]byte, error) {
	cert := opt.Certificate
	sigAlg, err := signatureAlgorithm(cert.PublicKey)
	if err != nil {
		return nil, err
	}
	attrs, err := signedAttributes(cert, docDigest)
	if err != nil {
		return nil, fmt.Errorf("pades: encoding signed attributes: %w", err)
	}
	attrsDigest := sha256.Sum256(attrs)
	sig, err := s.Sign(ctx, attrsDigest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("pades: signer: %w", err)
	}
	if err := verifyRaw(cert.PublicKey, attrsDigest[:], sig); err != nil {
		return nil, err
	}

	si := signerInfo{
		Version:            1,
		SID:                issuerAndSerial{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: cert.SerialNumber},
		DigestAlgorithm:    pkix.AlgorithmIdentifier{Algorithm: oidSHA256},
		SignedAttrs:        asn1.RawValue{FullBytes: append([]byte{0xA0}, attrs[1:]...)}, // SET -> [0] IMPLICIT
		SignatureAlgorithm: sigAlg,
		Signature:          sig,
	}
	if opt.Level == LevelBT {
		sigDigest := sha256.Sum256(sig)
		tok, err := opt.Timestamp(ctx, sigDigest[:], crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTimestamp, err)
		}
		if err := checkToken(tok, sigDigest[:]); err != nil {
			return nil, err
		}
		ua, err := marshalAttribute(oidAttrSignatureTimeStamp, tok)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTimestamp, err)
		}
		set := derSet([][]byte{ua})
		si.UnsignedAttrs = asn1.RawValue{FullBytes: append([]byte{0xA1}, set[1:]...)}
	}

	var certs []byte
	certs = append(certs, cert.Raw...)
	for _, c := range opt.Chain {
		if !c.Equal(cert) {
			certs = append(certs, c.Raw...)
		}
	}
	sd, err := asn1.Marshal(signedData{
		Version:          1,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{{Algorithm: oidSHA256}},
		EncapContentInfo: encapContentInfo{EContentType: oidData},
		Certificates:     tagged(asn1.ClassContextSpecific, 0, certs),
		SignerInfos:      []signerInfo{si},
	})
	if err != nil {
		return nil, fmt.Errorf("pades: encoding SignedData: %w", err)
	}
	return asn1.Marshal(contentInfo{ContentType: oidSignedData, Content: tagged(asn1.ClassContextSpecific, 0, sd)})
}

// verifyRaw checks the signer's output before it is embedded: a vault that signs with
// the wrong key or format would otherwise produce a document that fails later.
func verifyRaw(pub crypto.PublicKey, digest, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if ecdsa.VerifyASN1(k, digest, sig) {
			return nil
		}
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig) == nil {
			return nil
		}
	}
	return fmt.Errorf("pades: the signer returned a signature that does not verify with the certificate's key")
}

// checkToken parses a TimeStampToken, verifies its signature when it carries the TSA
// certificate, and checks that it covers digest.
func checkToken(tok, digest []byte) error {
	ts, err := timestamp.Parse(tok)
	if err != nil {
		return fmt.Errorf("%w: token: %v", ErrTimestamp, err)
	}
	if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, digest) {
		return fmt.Errorf("%w: the token does not cover the signature value", ErrTimestamp)
	}
	return nil
}
