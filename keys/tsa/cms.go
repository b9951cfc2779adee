package tsa

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/motlan/motlan/internal/cms"
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

	tok *cms.TimestampToken
}

// ParseToken parses a DER time-stamp token (a CMS ContentInfo). It checks the structure
// only; call Verify for the signature and the TSA certificate.
func ParseToken(der []byte) (*Token, error) {
	bad := func(what string) (*Token, error) { return nil, fmt.Errorf("%w: %s", ErrMalformedToken, what) }
	tok, rest, err := cms.ParseTimestampToken(der)
	switch {
	case errors.Is(err, cms.ErrNotTimestamp):
		return bad("encapsulated content is not a TSTInfo")
	case errors.Is(err, cms.ErrTSTInfo):
		return bad("TSTInfo")
	case err != nil || len(rest) > 0:
		return bad("not a DER SignedData with one signer")
	}
	if _, _, ok := tok.Signer.IssuerAndSerial(); !ok {
		return bad("want exactly one signerInfo with issuerAndSerialNumber")
	}
	if tok.Signer.RawSignedAttrs == nil {
		return bad("signerInfo without signed attributes")
	}
	info := tok.Info
	if info.Version != 1 {
		return bad("TSTInfo")
	}
	return &Token{
		Raw: slices.Clone(der), Policy: info.Policy, SerialNumber: info.SerialNumber, GenTime: info.GenTime,
		Nonce: info.Nonce, Accuracy: info.Accuracy.Duration(), Certificates: tok.Certificates,
		HashAlgorithm: cms.Hash(tok.Imprint.HashAlgorithm.Algorithm), HashedMessage: tok.Imprint.HashedMessage,
		tok: tok,
	}, nil
}

// Verify checks the token: the signer's certificate (from the token or certs) matches
// the signer identifier and the ESS signing-certificate(-v2) attribute, carries only
// the critical timeStamping EKU, chains to opts.Roots at opts.CurrentTime (default: the
// token's GenTime); the messageDigest attribute matches the TSTInfo and the signature
// verifies. opts.KeyUsages is set to timeStamping. It returns the TSA certificate.
func (t *Token) Verify(opts x509.VerifyOptions, certs ...*x509.Certificate) (*x509.Certificate, error) {
	if t.tok == nil {
		return nil, fmt.Errorf("%w: not from ParseToken", ErrMalformedToken)
	}
	all := append(slices.Clone(t.Certificates), certs...)
	si := t.tok.Signer
	signer := si.FindCertificate(all)
	if signer == nil {
		return nil, fmt.Errorf("%w: TSA certificate not found", ErrVerify)
	}
	if err := checkTSACert(signer); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerify, err)
	}
	if err := checkSigningCertificate(si, signer); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerify, err)
	}
	if err := t.tok.VerifyContent(si, signer); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerify, err)
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

// checkSigningCertificate requires the ESS signing-certificate-v2 attribute, or the
// SHA-1 signing-certificate of older TSAs, naming signer (RFC 3161 2.4.1, RFC 5816).
func checkSigningCertificate(si *cms.SignerInfo, signer *x509.Certificate) error {
	for _, a := range []struct {
		oid   asn1.ObjectIdentifier
		match func([]byte, *x509.Certificate) error
	}{{cms.OIDAttrSigningCertV2, cms.MatchSigningCertificateV2}, {cms.OIDAttrSigningCert, cms.MatchSigningCertificate}} {
		attr := cms.FindAttr(si.SignedAttrs, a.oid)
		if attr == nil {
			continue
		}
		if len(attr.Values) != 1 {
			return errors.New("malformed signed attribute")
		}
		return a.match(attr.Values[0], signer)
	}
	return errors.New("missing signing-certificate attribute")
}

// certificateSet is the certificates a token carries, without repeats, ordered as the
// DER SET OF wants.
func certificateSet(certs []*x509.Certificate) [][]byte {
	raws := make([][]byte, 0, len(certs))
	for _, c := range certs {
		if !slices.ContainsFunc(raws, func(r []byte) bool { return bytes.Equal(r, c.Raw) }) {
			raws = append(raws, c.Raw)
		}
	}
	slices.SortFunc(raws, bytes.Compare)
	return raws
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic("tsa: encoding a fixed structure: " + err.Error())
	}
	return b
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}
