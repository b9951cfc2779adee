package cms

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// MaxElements bounds every collection the reader walks (certificates, CRLs, signers,
// attributes, attribute values): hostile input must not make it allocate without end.
const MaxElements = 4096

// ErrFormat: the bytes are not a CMS structure this package reads.
var ErrFormat = errors.New("CMS format")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
}

// SignedData is a parsed SignedData. Raw encodings stay where signatures cover them.
type SignedData struct {
	EContentType asn1.ObjectIdentifier
	EContent     []byte // nil when detached
	Certificates []*x509.Certificate
	// BadCertificates counts X.509-shaped certificates that did not parse; other
	// certificate formats (attribute certificates, ...) are skipped without a count.
	BadCertificates int
	CRLs            [][]byte // DER CertificateLists; other revocation formats are skipped
	Signers         []SignerInfo
}

// SignerInfo is a parsed SignerInfo.
type SignerInfo struct {
	SID                asn1.RawValue // issuerAndSerialNumber or [0] subjectKeyIdentifier
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	SignedAttrs        []Attribute
	UnsignedAttrs      []Attribute
	// RawSignedAttrs is the content octets of signedAttrs; nil when absent.
	RawSignedAttrs []byte
}

// Attribute is an attribute's type and the DER encodings of its values.
type Attribute struct {
	Type   asn1.ObjectIdentifier
	Values [][]byte
}

type rawContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type rawSignedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo rawEncapContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      asn1.RawValue
}

type rawEncapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     asn1.RawValue `asn1:"optional,tag:0"` // [0] EXPLICIT OCTET STRING
}

type rawSignerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type rawAttribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

// ParseSignedData parses a DER ContentInfo holding a SignedData and returns the bytes
// after it, for the caller to judge (a PDF's /Contents pads the DER with zeros).
func ParseSignedData(der []byte) (*SignedData, []byte, error) {
	var ci rawContentInfo
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return nil, nil, formatErr("ContentInfo: %v", err)
	}
	if !ci.ContentType.Equal(OIDSignedData) {
		return nil, nil, formatErr("content type %v is not SignedData", ci.ContentType)
	}
	var raw rawSignedData
	if r, err := asn1.Unmarshal(ci.Content.Bytes, &raw); err != nil || len(r) > 0 {
		return nil, nil, formatErr("SignedData: %v", err)
	}
	if raw.SignerInfos.Class != asn1.ClassUniversal || raw.SignerInfos.Tag != asn1.TagSet {
		return nil, nil, formatErr("SignedData: signerInfos is not a SET")
	}
	sd := &SignedData{EContentType: raw.EncapContentInfo.EContentType}
	if sd.EContent, err = eContent(raw.EncapContentInfo.EContent); err != nil {
		return nil, nil, err
	}
	if err := sd.readCertificates(raw.Certificates.Bytes); err != nil {
		return nil, nil, err
	}
	if err := sd.readCRLs(raw.CRLs.Bytes); err != nil {
		return nil, nil, err
	}
	if err := sd.readSigners(raw.SignerInfos.Bytes); err != nil {
		return nil, nil, err
	}
	return sd, rest, nil
}

// eContent returns the encapsulated content ([0] EXPLICIT OCTET STRING), nil if absent.
func eContent(ec asn1.RawValue) ([]byte, error) {
	if len(ec.FullBytes) == 0 {
		return nil, nil
	}
	var inner asn1.RawValue
	if rest, err := asn1.Unmarshal(ec.Bytes, &inner); err != nil || len(rest) > 0 {
		return nil, formatErr("eContent: %v", err)
	}
	b, err := octets(inner)
	if b == nil && err == nil {
		b = []byte{}
	}
	return b, err
}

// octets returns the content of an OCTET STRING, primitive or (BER) constructed of
// primitive parts.
func octets(v asn1.RawValue) ([]byte, error) {
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagOctetString {
		return nil, formatErr("eContent is not an OCTET STRING")
	}
	if !v.IsCompound {
		return v.Bytes, nil
	}
	var out []byte
	err := walk(v.Bytes, "constructed eContent", func(part asn1.RawValue) error {
		if part.IsCompound || part.Class != asn1.ClassUniversal || part.Tag != asn1.TagOctetString {
			return formatErr("constructed eContent")
		}
		out = append(out, part.Bytes...)
		return nil
	})
	return out, err
}

// walk calls f for each DER element of content octets b, at most MaxElements of them.
func walk(b []byte, what string, f func(asn1.RawValue) error) error {
	for n := 0; len(b) > 0; n++ {
		if n == MaxElements {
			return formatErr("%s: more than %d elements", what, MaxElements)
		}
		var v asn1.RawValue
		var err error
		if b, err = asn1.Unmarshal(b, &v); err != nil {
			return formatErr("%s: %v", what, err)
		}
		if err := f(v); err != nil {
			return err
		}
	}
	return nil
}

func (sd *SignedData) readCertificates(b []byte) error {
	return walk(b, "certificates", func(v asn1.RawValue) error {
		if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagSequence {
			return nil // other certificate formats
		}
		c, err := x509.ParseCertificate(v.FullBytes)
		if err != nil {
			sd.BadCertificates++
			return nil
		}
		sd.Certificates = append(sd.Certificates, c)
		return nil
	})
}

func (sd *SignedData) readCRLs(b []byte) error {
	return walk(b, "crls", func(v asn1.RawValue) error {
		if v.Class == asn1.ClassUniversal && v.Tag == asn1.TagSequence {
			sd.CRLs = append(sd.CRLs, v.FullBytes) // other formats (OCSP, [1]) are skipped
		}
		return nil
	})
}

func (sd *SignedData) readSigners(b []byte) error {
	return walk(b, "signerInfos", func(v asn1.RawValue) error {
		var r rawSignerInfo
		if rest, err := asn1.Unmarshal(v.FullBytes, &r); err != nil || len(rest) > 0 {
			return formatErr("SignerInfo: %v", err)
		}
		si := SignerInfo{SID: r.SID, DigestAlgorithm: r.DigestAlgorithm, SignatureAlgorithm: r.SignatureAlgorithm, Signature: r.Signature}
		var err error
		if len(r.SignedAttrs.FullBytes) > 0 {
			si.RawSignedAttrs = r.SignedAttrs.Bytes
			if si.RawSignedAttrs == nil {
				si.RawSignedAttrs = []byte{}
			}
			if si.SignedAttrs, err = parseAttributes(r.SignedAttrs.Bytes); err != nil {
				return err
			}
		}
		if len(r.UnsignedAttrs.FullBytes) > 0 {
			if si.UnsignedAttrs, err = parseAttributes(r.UnsignedAttrs.Bytes); err != nil {
				return err
			}
		}
		sd.Signers = append(sd.Signers, si)
		return nil
	})
}

// parseAttributes parses the content octets of a SET OF Attribute; a type appearing
// twice is an error.
func parseAttributes(b []byte) ([]Attribute, error) {
	var out []Attribute
	err := walk(b, "attributes", func(v asn1.RawValue) error {
		var a rawAttribute
		if rest, err := asn1.Unmarshal(v.FullBytes, &a); err != nil || len(rest) > 0 {
			return formatErr("attribute: %v", err)
		}
		if FindAttr(out, a.Type) != nil {
			return formatErr("attribute %v appears twice", a.Type)
		}
		at := Attribute{Type: a.Type}
		err := walk(a.Values.Bytes, "attribute values", func(val asn1.RawValue) error {
			at.Values = append(at.Values, val.FullBytes)
			return nil
		})
		out = append(out, at)
		return err
	})
	return out, err
}

// FindAttr returns the attribute of type oid, or nil.
func FindAttr(attrs []Attribute, oid asn1.ObjectIdentifier) *Attribute {
	for i := range attrs {
		if attrs[i].Type.Equal(oid) {
			return &attrs[i]
		}
	}
	return nil
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

// IssuerAndSerial returns the SID's issuer (DER Name) and serial when it is an
// issuerAndSerialNumber.
func (si *SignerInfo) IssuerAndSerial() (issuer []byte, serial *big.Int, ok bool) {
	if si.SID.Class != asn1.ClassUniversal || si.SID.Tag != asn1.TagSequence {
		return nil, nil, false
	}
	var ias issuerAndSerial
	if rest, err := asn1.Unmarshal(si.SID.FullBytes, &ias); err != nil || len(rest) > 0 || ias.Serial == nil {
		return nil, nil, false
	}
	return ias.Issuer.FullBytes, ias.Serial, true
}

// FindCertificate returns the certificate the SID names (issuer and serial, or subject
// key identifier), or nil.
func (si *SignerInfo) FindCertificate(certs []*x509.Certificate) *x509.Certificate {
	if issuer, serial, ok := si.IssuerAndSerial(); ok {
		for _, c := range certs {
			if bytes.Equal(c.RawIssuer, issuer) && c.SerialNumber.Cmp(serial) == 0 {
				return c
			}
		}
		return nil
	}
	if si.SID.Class == asn1.ClassContextSpecific && si.SID.Tag == 0 {
		for _, c := range certs {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, si.SID.Bytes) {
				return c
			}
		}
	}
	return nil
}
