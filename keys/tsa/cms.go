package tsa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// ErrMalformedToken: the bytes are not a time-stamp token this package can read (a DER
// CMS SignedData with one signer, signed attributes and a TSTInfo).
var ErrMalformedToken = errors.New("tsa: malformed time-stamp token")

// ErrVerify: the token's signature, attributes or TSA certificate do not check out.
var ErrVerify = errors.New("tsa: time-stamp token does not verify")

// Token is a parsed time-stamp token.
type Token struct {
	Raw           []byte // the ContentInfo, DER
	Policy        asn1.ObjectIdentifier
	HashAlgorithm crypto.Hash // of the message imprint
	HashedMessage []byte
	SerialNumber  *big.Int
	GenTime       time.Time
	Accuracy      time.Duration // zero: not stated
	Nonce         *big.Int      // nil: none
	Certificates  []*x509.Certificate

	content     []byte // the DER TSTInfo the signature covers
	signedAttrs []byte // the signed attributes' content octets
	sidIssuer   []byte
	sidSerial   *big.Int
	digestAlg   crypto.Hash
	sigAlgOID   asn1.ObjectIdentifier
	signature   []byte
}

type signerInfo struct {
	Version            int
	SID                issuerAndSerial
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional"`
}

// ParseToken parses a DER time-stamp token (a CMS ContentInfo). It checks the structure
// only; call Verify for the signature and the TSA certificate.
func ParseToken(der []byte) (*Token, error) {
	bad := func(what string) (*Token, error) { return nil, fmt.Errorf("%w: %s", ErrMalformedToken, what) }
	var ci contentInfo
	if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) > 0 {
		return bad("ContentInfo")
	}
	if !ci.ContentType.Equal(oidSignedData) || ci.Content.Class != asn1.ClassContextSpecific || ci.Content.Tag != 0 || !ci.Content.IsCompound {
		return bad("not SignedData")
	}
	var sd asn1.RawValue
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(rest) > 0 || sd.Tag != asn1.TagSequence || !sd.IsCompound {
		return bad("SignedData")
	}
	var elems []asn1.RawValue
	for rest := sd.Bytes; len(rest) > 0; {
		var e asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &e); err != nil {
			return bad("SignedData element")
		}
		elems = append(elems, e)
	}
	if len(elems) < 4 {
		return bad("SignedData too short")
	}
	t := &Token{Raw: slices.Clone(der)}
	var eci encapsulatedContentInfo
	if rest, err := asn1.Unmarshal(elems[2].FullBytes, &eci); err != nil || len(rest) > 0 || !eci.EContentType.Equal(oidTSTInfo) {
		return bad("encapsulated content is not a TSTInfo")
	}
	t.content = eci.EContent
	for _, e := range elems[3 : len(elems)-1] {
		switch {
		case e.Class == asn1.ClassContextSpecific && e.Tag == 0:
			for rest := e.Bytes; len(rest) > 0; {
				var c asn1.RawValue
				var err error
				if rest, err = asn1.Unmarshal(rest, &c); err != nil {
					return bad("certificates")
				}
				if cert, err := x509.ParseCertificate(c.FullBytes); err == nil {
					t.Certificates = append(t.Certificates, cert)
				} // other certificate choices are skipped
			}
		case e.Class == asn1.ClassContextSpecific && e.Tag == 1: // CRLs: not used here
		default:
			return bad("SignedData element")
		}
	}
	sis := elems[len(elems)-1]
	if sis.Tag != asn1.TagSet {
		return bad("signerInfos")
	}
	var si signerInfo
	if rest, err := asn1.Unmarshal(sis.Bytes, &si); err != nil || len(rest) > 0 {
		return bad("want exactly one signerInfo with issuerAndSerialNumber")
	}
	if si.SignedAttrs.Class != asn1.ClassContextSpecific || si.SignedAttrs.Tag != 0 || !si.SignedAttrs.IsCompound {
		return bad("signerInfo without signed attributes")
	}
	t.signedAttrs, t.sidIssuer, t.sidSerial = si.SignedAttrs.Bytes, si.SID.Issuer.FullBytes, si.SID.Serial
	t.digestAlg = hashForOID(si.DigestAlgorithm.Algorithm)
	t.sigAlgOID, t.signature = si.SignatureAlgorithm.Algorithm, si.Signature

	var info tstInfo
	if rest, err := asn1.Unmarshal(t.content, &info); err != nil || len(rest) > 0 || info.Version != 1 {
		return bad("TSTInfo")
	}
	var mi messageImprint
	if rest, err := asn1.Unmarshal(info.MessageImprint.FullBytes, &mi); err != nil || len(rest) > 0 {
		return bad("messageImprint")
	}
	t.Policy, t.SerialNumber, t.GenTime, t.Nonce = info.Policy, info.SerialNumber, info.GenTime, info.Nonce
	t.HashAlgorithm, t.HashedMessage = hashForOID(mi.HashAlgorithm.Algorithm), mi.HashedMessage
	t.Accuracy = info.Accuracy.duration()
	return t, nil
}

// Verify checks the token: the signer's certificate (from the token or certs) matches
// the signer identifier and the ESS signing-certificate(-v2) attribute, carries only
// the critical timeStamping EKU, chains to opts.Roots at opts.CurrentTime (default: the
// token's GenTime); the messageDigest attribute matches the TSTInfo and the signature
// verifies. opts.KeyUsages is set to timeStamping. It returns the TSA certificate.
func (t *Token) Verify(opts x509.VerifyOptions, certs ...*x509.Certificate) (*x509.Certificate, error) {
	all := append(slices.Clone(t.Certificates), certs...)
	var signer *x509.Certificate
	for _, c := range all {
		if bytes.Equal(c.RawIssuer, t.sidIssuer) && c.SerialNumber.Cmp(t.sidSerial) == 0 {
			signer = c
			break
		}
	}
	if signer == nil {
		return nil, fmt.Errorf("%w: TSA certificate not found", ErrVerify)
	}
	if err := checkTSACert(signer); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerify, err)
	}
	if t.digestAlg == 0 || !t.digestAlg.Available() {
		return nil, fmt.Errorf("%w: unsupported digest algorithm", ErrVerify)
	}
	if err := t.checkAttributes(signer); err != nil {
		return nil, err
	}
	alg := x509SignatureAlgorithm(t.sigAlgOID, t.digestAlg)
	if alg == x509.UnknownSignatureAlgorithm {
		return nil, fmt.Errorf("%w: unsupported signature algorithm", ErrVerify)
	}
	signed := mustMarshal(asn1.RawValue{Tag: asn1.TagSet, IsCompound: true, Bytes: t.signedAttrs})
	if err := signer.CheckSignature(alg, signed, t.signature); err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrVerify, err)
	}
	if opts.CurrentTime.IsZero() {
		opts.CurrentTime = t.GenTime
	}
	if opts.Intermediates == nil {
		opts.Intermediates = x509.NewCertPool()
	}
	for _, c := range all {
		if c != signer {
			opts.Intermediates.AddCert(c)
		}
	}
	opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}
	if _, err := signer.Verify(opts); err != nil {
		return nil, fmt.Errorf("%w: TSA certificate: %w", ErrVerify, err)
	}
	return signer, nil
}

func (t *Token) checkAttributes(signer *x509.Certificate) error {
	var seenCT, seenMD, seenSC bool
	for rest := t.signedAttrs; len(rest) > 0; {
		var a attribute
		var err error
		if rest, err = asn1.Unmarshal(rest, &a); err != nil || len(a.Values) != 1 {
			return fmt.Errorf("%w: malformed signed attribute", ErrVerify)
		}
		v := a.Values[0].FullBytes
		switch {
		case a.Type.Equal(oidAttrContentType):
			var oid asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(v, &oid); err != nil || !oid.Equal(oidTSTInfo) {
				return fmt.Errorf("%w: content-type attribute", ErrVerify)
			}
			seenCT = true
		case a.Type.Equal(oidAttrMessageDigest):
			var md []byte
			h := t.digestAlg.New()
			h.Write(t.content)
			if _, err := asn1.Unmarshal(v, &md); err != nil || !bytes.Equal(md, h.Sum(nil)) {
				return fmt.Errorf("%w: message-digest attribute does not match the TSTInfo", ErrVerify)
			}
			seenMD = true
		case a.Type.Equal(oidAttrSigningCertV2):
			var sc signingCertificateV2
			if _, err := asn1.Unmarshal(v, &sc); err != nil || len(sc.Certs) == 0 {
				return fmt.Errorf("%w: signing-certificate-v2 attribute", ErrVerify)
			}
			h := crypto.SHA256
			if len(sc.Certs[0].HashAlgorithm.Algorithm) > 0 {
				h = hashForOID(sc.Certs[0].HashAlgorithm.Algorithm)
			}
			if h == 0 || h == crypto.SHA1 || !h.Available() {
				return fmt.Errorf("%w: signing-certificate-v2 hash", ErrVerify)
			}
			hh := h.New()
			hh.Write(signer.Raw)
			if !bytes.Equal(hh.Sum(nil), sc.Certs[0].CertHash) {
				return fmt.Errorf("%w: signing-certificate-v2 names another certificate", ErrVerify)
			}
			seenSC = true
		case a.Type.Equal(oidAttrSigningCert):
			var sc signingCertificate
			if _, err := asn1.Unmarshal(v, &sc); err != nil || len(sc.Certs) == 0 {
				return fmt.Errorf("%w: signing-certificate attribute", ErrVerify)
			}
			h := crypto.SHA1.New()
			h.Write(signer.Raw)
			if !bytes.Equal(h.Sum(nil), sc.Certs[0].CertHash) {
				return fmt.Errorf("%w: signing-certificate names another certificate", ErrVerify)
			}
			seenSC = true
		}
	}
	if !seenCT || !seenMD || !seenSC {
		return fmt.Errorf("%w: missing content-type, message-digest or signing-certificate attribute", ErrVerify)
	}
	return nil
}

func x509SignatureAlgorithm(oid asn1.ObjectIdentifier, h crypto.Hash) x509.SignatureAlgorithm {
	switch {
	case oid.Equal(oidECDSAWithSHA256):
		return x509.ECDSAWithSHA256
	case oid.Equal(oidECDSAWithSHA384):
		return x509.ECDSAWithSHA384
	case oid.Equal(oidECDSAWithSHA512):
		return x509.ECDSAWithSHA512
	case oid.Equal(oidSHA256WithRSA):
		return x509.SHA256WithRSA
	case oid.Equal(oidSHA384WithRSA):
		return x509.SHA384WithRSA
	case oid.Equal(oidSHA512WithRSA):
		return x509.SHA512WithRSA
	case oid.Equal(oidECPublicKey):
		return map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.ECDSAWithSHA256, crypto.SHA384: x509.ECDSAWithSHA384, crypto.SHA512: x509.ECDSAWithSHA512}[h]
	case oid.Equal(oidRSAEncryption):
		return map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.SHA256WithRSA, crypto.SHA384: x509.SHA384WithRSA, crypto.SHA512: x509.SHA512WithRSA}[h]
	}
	return x509.UnknownSignatureAlgorithm
}

// signatureAlgorithm is the CMS signatureAlgorithm for the TSA's key with SHA-256.
func signatureAlgorithm(pub crypto.PublicKey) (pkix.AlgorithmIdentifier, error) {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}, nil
	case *rsa.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1.NullRawValue}, nil
	}
	return pkix.AlgorithmIdentifier{}, fmt.Errorf("tsa: unsupported key type %T (want ECDSA or RSA)", pub)
}

// signingCertV2Attr is the ESS signing-certificate-v2 attribute (RFC 5035) naming cert
// by its SHA-256 hash and issuer/serial.
func signingCertV2Attr(cert *x509.Certificate) ([]byte, error) {
	sum := sha256.Sum256(cert.Raw)
	gn := mustMarshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: cert.RawIssuer})
	gns := mustMarshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: gn})
	v, err := asn1.Marshal(signingCertificateV2{Certs: []essCertIDv2{{
		CertHash:     sum[:],
		IssuerSerial: essIssuerSerial{Issuer: asn1.RawValue{FullBytes: gns}, Serial: cert.SerialNumber},
	}}})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(attribute{Type: oidAttrSigningCertV2, Values: []asn1.RawValue{{FullBytes: v}}})
}

func marshalAttr(oid asn1.ObjectIdentifier, v any) ([]byte, error) {
	b, err := asn1.Marshal(v)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(attribute{Type: oid, Values: []asn1.RawValue{{FullBytes: b}}})
}

// certificateSet is [0] IMPLICIT SET OF Certificate, ordered as DER wants.
func certificateSet(certs []*x509.Certificate) ([]byte, error) {
	raws := make([][]byte, 0, len(certs))
	for _, c := range certs {
		if !slices.ContainsFunc(raws, func(r []byte) bool { return bytes.Equal(r, c.Raw) }) {
			raws = append(raws, c.Raw)
		}
	}
	slices.SortFunc(raws, bytes.Compare)
	return asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: bytes.Join(raws, nil)})
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic("tsa: encoding a fixed structure: " + err.Error())
	}
	return b
}

// randomSerial returns a positive random 128-bit serial number: unique across replicas
// without coordination.
func randomSerial() (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		if n := new(big.Int).SetBytes(b); n.Sign() > 0 {
			return n, nil
		}
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}

// algID is a hash AlgorithmIdentifier with absent parameters (RFC 5754).
func algID(oid asn1.ObjectIdentifier) pkix.AlgorithmIdentifier {
	return pkix.AlgorithmIdentifier{Algorithm: oid}
}
