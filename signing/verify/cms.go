package verify

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// A small CMS (RFC 5652) SignedData reader: DER only, one level of BER constructed
// OCTET STRING for eContent. It keeps raw encodings where signatures cover them.

var (
	oidSignedData             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidData                   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidTSTInfo                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidAttrContentType        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidAttrSigningCert        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidAttrSigningCertV2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidAttrSignatureTimeStamp = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	oidUID                    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	oidRSAEncryption   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSAPSS          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidECPublicKey     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519         = asn1.ObjectIdentifier{1, 3, 101, 112}
)

type rawContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type rawSignedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo rawEncapContentInfo
	Certificates     asn1.RawValue   `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue   `asn1:"optional,tag:1"`
	SignerInfos      []rawSignerInfo `asn1:"set"`
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

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

// attribute is a parsed attribute: its type and the encodings of its values.
type attribute struct {
	oid    asn1.ObjectIdentifier
	values [][]byte
}

// signedData is a parsed SignedData with exactly one SignerInfo.
type signedData struct {
	eContentType asn1.ObjectIdentifier
	eContent     []byte // nil when detached
	certs        []*x509.Certificate
	crls         [][]byte // DER CertificateLists of the SignedData crls field
	si           rawSignerInfo
	signedAttrs  []attribute
	unsigned     []attribute
	signerCert   *x509.Certificate // nil when no certificate matches the SID
}

var errFormat = errors.New("CMS format")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errFormat}, args...)...)
}

// parseSignedData parses a DER ContentInfo holding a SignedData. Zero bytes after it
// (the /Contents padding) are allowed; anything else is not.
func parseSignedData(der []byte) (*signedData, error) {
	var ci rawContentInfo
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return nil, formatErr("ContentInfo: %v", err)
	}
	for _, b := range rest {
		if b != 0 {
			return nil, formatErr("%d bytes of trailing data after the CMS", len(rest))
		}
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, formatErr("content type %v is not SignedData", ci.ContentType)
	}
	var sd rawSignedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(rest) > 0 {
		return nil, formatErr("SignedData: %v", err)
	}
	if len(sd.SignerInfos) != 1 {
		return nil, formatErr("%d SignerInfos, want exactly 1", len(sd.SignerInfos))
	}
	out := &signedData{eContentType: sd.EncapContentInfo.EContentType, si: sd.SignerInfos[0]}
	if ec := sd.EncapContentInfo.EContent; len(ec.FullBytes) > 0 {
		var inner asn1.RawValue
		if rest, err := asn1.Unmarshal(ec.Bytes, &inner); err != nil || len(rest) > 0 {
			return nil, formatErr("eContent: %v", err)
		}
		if out.eContent, err = octets(inner); err != nil {
			return nil, err
		}
		if out.eContent == nil {
			out.eContent = []byte{}
		}
	}
	if len(sd.Certificates.Bytes) > 0 {
		rest := sd.Certificates.Bytes
		for len(rest) > 0 {
			var raw asn1.RawValue
			if rest, err = asn1.Unmarshal(rest, &raw); err != nil {
				return nil, formatErr("certificates: %v", err)
			}
			if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagSequence {
				continue // other certificate formats (attribute certificates, ...)
			}
			c, err := x509.ParseCertificate(raw.FullBytes)
			if err != nil {
				continue // an unparsable extra certificate does not make the CMS unusable
			}
			out.certs = append(out.certs, c)
		}
	}
	if len(sd.CRLs.Bytes) > 0 {
		rest := sd.CRLs.Bytes
		for len(rest) > 0 && len(out.crls) < maxEvidenceItems {
			var raw asn1.RawValue
			if rest, err = asn1.Unmarshal(rest, &raw); err != nil {
				return nil, formatErr("crls: %v", err)
			}
			if raw.Class == asn1.ClassUniversal && raw.Tag == asn1.TagSequence {
				out.crls = append(out.crls, raw.FullBytes) // other formats are skipped
			}
		}
	}
	if len(out.si.SignedAttrs.FullBytes) > 0 {
		if out.signedAttrs, err = parseAttributes(out.si.SignedAttrs.Bytes); err != nil {
			return nil, err
		}
	}
	if len(out.si.UnsignedAttrs.FullBytes) > 0 {
		if out.unsigned, err = parseAttributes(out.si.UnsignedAttrs.Bytes); err != nil {
			return nil, err
		}
	}
	out.signerCert = findSigner(out.si.SID, out.certs)
	return out, nil
}

// octets returns the content of an OCTET STRING, primitive or (BER) constructed.
func octets(v asn1.RawValue) ([]byte, error) {
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagOctetString {
		return nil, formatErr("eContent is not an OCTET STRING")
	}
	if !v.IsCompound {
		return v.Bytes, nil
	}
	var out []byte
	rest := v.Bytes
	for len(rest) > 0 {
		var part asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &part); err != nil || part.IsCompound || part.Tag != asn1.TagOctetString {
			return nil, formatErr("constructed eContent")
		}
		out = append(out, part.Bytes...)
	}
	return out, nil
}

func parseAttributes(b []byte) ([]attribute, error) {
	var out []attribute
	seen := map[string]bool{}
	for len(b) > 0 {
		var a rawAttribute
		var err error
		if b, err = asn1.Unmarshal(b, &a); err != nil {
			return nil, formatErr("attribute: %v", err)
		}
		if seen[a.Type.String()] {
			return nil, formatErr("attribute %v appears twice", a.Type)
		}
		seen[a.Type.String()] = true
		at := attribute{oid: a.Type}
		vals := a.Values.Bytes
		for len(vals) > 0 {
			var v asn1.RawValue
			if vals, err = asn1.Unmarshal(vals, &v); err != nil {
				return nil, formatErr("attribute %v value: %v", a.Type, err)
			}
			at.values = append(at.values, v.FullBytes)
		}
		out = append(out, at)
	}
	return out, nil
}

func findAttr(attrs []attribute, oid asn1.ObjectIdentifier) *attribute {
	for i := range attrs {
		if attrs[i].oid.Equal(oid) {
			return &attrs[i]
		}
	}
	return nil
}

func findSigner(sid asn1.RawValue, certs []*x509.Certificate) *x509.Certificate {
	switch {
	case sid.Class == asn1.ClassUniversal && sid.Tag == asn1.TagSequence:
		var ias issuerAndSerial
		if _, err := asn1.Unmarshal(sid.FullBytes, &ias); err != nil || ias.Serial == nil {
			return nil
		}
		for _, c := range certs {
			if bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) && c.SerialNumber.Cmp(ias.Serial) == 0 {
				return c
			}
		}
	case sid.Class == asn1.ClassContextSpecific && sid.Tag == 0:
		for _, c := range certs {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c
			}
		}
	}
	return nil
}

func hashFor(oid asn1.ObjectIdentifier) (crypto.Hash, string, bool) {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256, "SHA-256", true
	case oid.Equal(oidSHA384):
		return crypto.SHA384, "SHA-384", true
	case oid.Equal(oidSHA512):
		return crypto.SHA512, "SHA-512", true
	case oid.Equal(oidSHA1):
		return crypto.SHA1, "SHA-1", false // recognised, not accepted
	}
	return 0, oid.String(), false
}

// x509Algorithm maps the SignerInfo's algorithms to the x509 algorithm that checks the
// signature over the signed attributes.
func x509Algorithm(sigAlg asn1.ObjectIdentifier, h crypto.Hash) x509.SignatureAlgorithm {
	byHash := func(a256, a384, a512 x509.SignatureAlgorithm) x509.SignatureAlgorithm {
		switch h {
		case crypto.SHA256:
			return a256
		case crypto.SHA384:
			return a384
		case crypto.SHA512:
			return a512
		}
		return x509.UnknownSignatureAlgorithm
	}
	switch {
	case sigAlg.Equal(oidRSAEncryption):
		return byHash(x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA)
	case sigAlg.Equal(oidRSAPSS):
		return byHash(x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS)
	case sigAlg.Equal(oidECPublicKey):
		return byHash(x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512)
	case sigAlg.Equal(oidSHA256WithRSA) && h == crypto.SHA256:
		return x509.SHA256WithRSA
	case sigAlg.Equal(oidSHA384WithRSA) && h == crypto.SHA384:
		return x509.SHA384WithRSA
	case sigAlg.Equal(oidSHA512WithRSA) && h == crypto.SHA512:
		return x509.SHA512WithRSA
	case sigAlg.Equal(oidECDSAWithSHA256) && h == crypto.SHA256:
		return x509.ECDSAWithSHA256
	case sigAlg.Equal(oidECDSAWithSHA384) && h == crypto.SHA384:
		return x509.ECDSAWithSHA384
	case sigAlg.Equal(oidECDSAWithSHA512) && h == crypto.SHA512:
		return x509.ECDSAWithSHA512
	case sigAlg.Equal(oidEd25519):
		return x509.PureEd25519
	}
	return x509.UnknownSignatureAlgorithm
}

// signerCheck is the outcome of checking a SignerInfo against its content.
type signerCheck struct {
	hash          crypto.Hash
	hashName      string
	sigAlg        x509.SignatureAlgorithm
	digestMatches bool
	sigValid      bool
	sub           SubIndication // empty when both checks passed
	err           string
}

// check verifies the SignerInfo: the messageDigest signed attribute against the digest
// of the content (computed by digest), then the signature over the DER signed attributes
// (SET OF, RFC 5652 5.4). Signatures without signed attributes are rejected.
func (sd *signedData) check(digest func(crypto.Hash) []byte) signerCheck {
	var c signerCheck
	h, name, ok := hashFor(sd.si.DigestAlgorithm.Algorithm)
	c.hash, c.hashName = h, name
	if !ok {
		c.sub, c.err = CryptoConstraintsFailure, "digest algorithm "+name+" is not accepted"
		return c
	}
	if sd.signerCert == nil {
		c.sub, c.err = NoSigningCertificateFound, "no certificate in the CMS matches the signer identifier"
		return c
	}
	if len(sd.signedAttrs) == 0 {
		c.sub, c.err = FormatFailure, "the SignerInfo has no signed attributes"
		return c
	}
	md := findAttr(sd.signedAttrs, oidAttrMessageDigest)
	if md == nil || len(md.values) != 1 {
		c.sub, c.err = FormatFailure, "no single messageDigest signed attribute"
		return c
	}
	var got []byte
	if rest, err := asn1.Unmarshal(md.values[0], &got); err != nil || len(rest) > 0 {
		c.sub, c.err = FormatFailure, "messageDigest is not an OCTET STRING"
		return c
	}
	c.digestMatches = bytes.Equal(got, digest(h))
	c.sigAlg = x509Algorithm(sd.si.SignatureAlgorithm.Algorithm, h)
	if c.sigAlg == x509.UnknownSignatureAlgorithm {
		c.sub, c.err = CryptoConstraintsFailure, fmt.Sprintf("signature algorithm %v with %s is not supported", sd.si.SignatureAlgorithm.Algorithm, name)
		return c
	}
	signed := append([]byte{0x31}, sd.si.SignedAttrs.FullBytes[1:]...) // [0] IMPLICIT -> SET
	if err := sd.signerCert.CheckSignature(c.sigAlg, signed, sd.si.Signature); err == nil {
		c.sigValid = true
	} else if !c.digestMatches {
		// reported as a hash failure below
	} else {
		c.sub, c.err = SigCryptoFailure, "the signature does not verify with the signer's key: "+err.Error()
	}
	if !c.digestMatches {
		c.sub, c.err = HashFailure, "messageDigest does not match the digest of the signed bytes"
	}
	return c
}

// contentTypeIs reports whether the contentType signed attribute equals oid.
func (sd *signedData) contentTypeIs(oid asn1.ObjectIdentifier) bool {
	a := findAttr(sd.signedAttrs, oidAttrContentType)
	if a == nil || len(a.values) != 1 {
		return false
	}
	var got asn1.ObjectIdentifier
	_, err := asn1.Unmarshal(a.values[0], &got)
	return err == nil && got.Equal(oid)
}

// ESS signing-certificate-v2 (RFC 5035).
type essCertIDv2 struct {
	HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"`
	CertHash      []byte
	IssuerSerial  asn1.RawValue `asn1:"optional"`
}

type signingCertificateV2 struct {
	Certs    []essCertIDv2
	Policies asn1.RawValue `asn1:"optional"`
}

// signingCertV2Matches checks that the first ESSCertIDv2 is the hash of cert.
func signingCertV2Matches(a *attribute, cert *x509.Certificate) error {
	if len(a.values) != 1 {
		return errors.New("signing-certificate-v2 must have one value")
	}
	var scv2 signingCertificateV2
	if _, err := asn1.Unmarshal(a.values[0], &scv2); err != nil || len(scv2.Certs) == 0 {
		return fmt.Errorf("signing-certificate-v2 is malformed: %v", err)
	}
	id := scv2.Certs[0]
	h := crypto.SHA256 // DEFAULT
	if len(id.HashAlgorithm.Algorithm) > 0 {
		var ok bool
		if h, _, ok = hashFor(id.HashAlgorithm.Algorithm); !ok {
			return fmt.Errorf("signing-certificate-v2 hash algorithm %v not accepted", id.HashAlgorithm.Algorithm)
		}
	}
	if cert == nil {
		return errors.New("no signer certificate to compare signing-certificate-v2 with")
	}
	hh := h.New()
	hh.Write(cert.Raw)
	if !bytes.Equal(hh.Sum(nil), id.CertHash) {
		return errors.New("signing-certificate-v2 does not identify the signer's certificate")
	}
	return nil
}

// TSTInfo (RFC 3161, 2.4.2); later optional fields are ignored.
type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		HashedMessage []byte
	}
	SerialNumber *big.Int
	GenTime      time.Time `asn1:"generalized"`
}

// checkTimestampToken verifies an RFC 3161 TimeStampToken over the data digest hashes:
// its CMS signature, its imprint, and its TSA chain (timeStamping EKU) at time at (the
// token's proof of existence). path is the TSA's certificate path when the chain holds.
func checkTimestampToken(tok []byte, digest func(crypto.Hash) []byte, v *verifier, at time.Time) (out *Timestamp, path []*x509.Certificate) {
	out = &Timestamp{}
	sd, err := parseSignedData(tok)
	if err != nil {
		out.Error = "token: " + err.Error()
		return out, nil
	}
	if !sd.eContentType.Equal(oidTSTInfo) || sd.eContent == nil {
		out.Error = "token does not encapsulate a TSTInfo"
		return out, nil
	}
	var info tstInfo
	if _, err := asn1.Unmarshal(sd.eContent, &info); err != nil {
		out.Error = "TSTInfo: " + err.Error()
		return out, nil
	}
	out.Time = info.GenTime.UTC()
	if h, name, ok := hashFor(info.MessageImprint.HashAlgorithm.Algorithm); ok {
		out.ImprintMatches = bytes.Equal(digest(h), info.MessageImprint.HashedMessage)
	} else {
		out.Error = "imprint hash algorithm " + name + " is not accepted"
	}
	if sd.signerCert != nil {
		out.TSA = sd.signerCert.Subject.String()
	}
	c := sd.check(func(h crypto.Hash) []byte {
		hh := h.New()
		hh.Write(sd.eContent)
		return hh.Sum(nil)
	})
	out.SignatureValid = c.sub == "" && c.digestMatches && c.sigValid && sd.contentTypeIs(oidTSTInfo)
	if !out.SignatureValid && out.Error == "" {
		out.Error = "token signature: " + c.err
		if c.err == "" {
			out.Error = "token signature: contentType attribute is not id-ct-TSTInfo"
		}
	}
	if sd.signerCert != nil {
		chains, err := v.chain(sd.signerCert, sd.certs, at, x509.ExtKeyUsageTimeStamping)
		out.ChainTrusted = err == nil
		if err != nil && out.Error == "" {
			out.Error = "TSA chain: " + err.Error()
		}
		if err == nil {
			path = chains[0]
		}
	}
	if !out.ImprintMatches && out.Error == "" {
		out.Error = "the message imprint does not match"
	}
	out.Valid = out.ImprintMatches && out.SignatureValid && out.ChainTrusted
	return out, path
}
