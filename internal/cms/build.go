package cms

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"slices"
)

// Builder is one SignedData with one signer identified by issuer and serial number,
// SHA-256 as its digest algorithm. Fill it in two steps: SignedAttributes gives what the
// signer signs (its SHA-256), then set Signature (and any UnsignedAttrs) and Marshal.
type Builder struct {
	EContentType asn1.ObjectIdentifier
	EContent     []byte   // nil: detached
	Certificates [][]byte // DER certificates, written in this order; none: the field is absent
	Signer       *x509.Certificate
	// SignedAttrs is the DER SET OF Attribute from SignedAttributes.
	SignedAttrs        []byte
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      [][]byte // DER Attributes
}

// MarshalAttribute encodes an Attribute with one value, given as DER.
func MarshalAttribute(oid asn1.ObjectIdentifier, valueDER []byte) ([]byte, error) {
	return asn1.Marshal(struct {
		Type   asn1.ObjectIdentifier
		Values []asn1.RawValue `asn1:"set"`
	}{oid, []asn1.RawValue{{FullBytes: valueDER}}})
}

// set encodes DER elements as a SET OF: sorted by encoding, under tag (SET, or the
// [0]/[1] IMPLICIT of signed and unsigned attributes).
func set(class, tag int, elems [][]byte) []byte {
	sorted := slices.Clone(elems)
	slices.SortFunc(sorted, bytes.Compare)
	b, err := asn1.Marshal(asn1.RawValue{Class: class, Tag: tag, IsCompound: true, Bytes: bytes.Join(sorted, nil)})
	if err != nil {
		panic("cms: encoding a SET: " + err.Error()) // a RawValue with bytes always encodes
	}
	return b
}

// SignedAttributes returns the DER SET OF the signed attributes: contentType,
// messageDigest (digest of the content) and the extra attributes, each DER.
func SignedAttributes(contentType asn1.ObjectIdentifier, digest []byte, extra ...[]byte) ([]byte, error) {
	ct, err := asn1.Marshal(contentType)
	if err != nil {
		return nil, err
	}
	md, _ := asn1.Marshal(digest) // a byte slice always encodes
	ctAttr, err := MarshalAttribute(OIDAttrContentType, ct)
	if err != nil {
		return nil, err
	}
	mdAttr, err := MarshalAttribute(OIDAttrMessageDigest, md)
	if err != nil {
		return nil, err
	}
	return set(asn1.ClassUniversal, asn1.TagSet, append([][]byte{ctAttr, mdAttr}, extra...)), nil
}

// essCertIDv2Out is the ESSCertIDv2 written: hashAlgorithm DEFAULT sha256 is omitted, as
// DER requires for the default.
type essCertIDv2Out struct {
	CertHash     []byte
	IssuerSerial essIssuerSerial
}

type essIssuerSerial struct {
	Issuer asn1.RawValue // GeneralNames
	Serial *big.Int
}

// SigningCertificateV2 is the ESS signing-certificate-v2 attribute (RFC 5035) naming cert
// by its SHA-256 hash (the DEFAULT, so omitted) and its issuer and serial number.
func SigningCertificateV2(cert *x509.Certificate) ([]byte, error) {
	sum := sha256.Sum256(cert.Raw)
	// GeneralNames ::= SEQUENCE OF GeneralName; directoryName is [4] EXPLICIT Name.
	dirName, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: cert.RawIssuer})
	if err != nil {
		return nil, err
	}
	v, err := asn1.Marshal(struct{ Certs []essCertIDv2Out }{[]essCertIDv2Out{{
		CertHash:     sum[:],
		IssuerSerial: essIssuerSerial{asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: dirName}, cert.SerialNumber},
	}}})
	if err != nil {
		return nil, err
	}
	return MarshalAttribute(OIDAttrSigningCertV2, v)
}

// Marshal encodes the DER ContentInfo. The SignedData version is 1 for id-data content
// and 3 otherwise (RFC 5652 5.1).
func (b *Builder) Marshal() ([]byte, error) {
	sid, err := asn1.Marshal(issuerAndSerial{Issuer: asn1.RawValue{FullBytes: b.Signer.RawIssuer}, Serial: b.Signer.SerialNumber})
	if err != nil {
		return nil, err
	}
	sha256ID := pkix.AlgorithmIdentifier{Algorithm: OIDSHA256}
	si := struct {
		Version            int
		SID                asn1.RawValue
		DigestAlgorithm    pkix.AlgorithmIdentifier
		SignedAttrs        asn1.RawValue
		SignatureAlgorithm pkix.AlgorithmIdentifier
		Signature          []byte
		UnsignedAttrs      asn1.RawValue `asn1:"optional"`
	}{Version: 1, SID: asn1.RawValue{FullBytes: sid}, DigestAlgorithm: sha256ID,
		SignedAttrs:        asn1.RawValue{FullBytes: append([]byte{0xA0}, b.SignedAttrs[1:]...)}, // SET -> [0] IMPLICIT
		SignatureAlgorithm: b.SignatureAlgorithm, Signature: b.Signature}
	if len(b.UnsignedAttrs) > 0 {
		si.UnsignedAttrs = asn1.RawValue{FullBytes: set(asn1.ClassContextSpecific, 1, b.UnsignedAttrs)}
	}
	eci := struct {
		EContentType asn1.ObjectIdentifier
		EContent     asn1.RawValue `asn1:"optional"`
	}{EContentType: b.EContentType}
	if b.EContent != nil {
		oct, _ := asn1.Marshal(b.EContent) // a byte slice always encodes
		eci.EContent = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: oct}
	}
	version := 3
	if b.EContentType.Equal(OIDData) {
		version = 1
	}
	sd := struct {
		Version          int
		DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
		EncapContentInfo any
		Certificates     asn1.RawValue `asn1:"optional"` // [0] IMPLICIT SET OF Certificate
		SignerInfos      []any         `asn1:"set"`
	}{Version: version, DigestAlgorithms: []pkix.AlgorithmIdentifier{sha256ID}, EncapContentInfo: eci, SignerInfos: []any{si}}
	if len(b.Certificates) > 0 {
		sd.Certificates = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: bytes.Join(b.Certificates, nil)}
	}
	sdDER, err := asn1.Marshal(sd)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue // [0] EXPLICIT
	}{OIDSignedData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sdDER}})
}
