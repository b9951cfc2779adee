package verify

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/motlan/motlan/internal/cms"
)

// The building blocks of ETSI EN 319 102-1 (clause 5.2, and 5.4 for time-stamps), one
// function each under the standard's name. Verifier.validate runs them in this order;
// the first finding decides the indication (Signature.fail). Validation context
// initialisation (5.2.4) is Options and the verifier; revocation freshness (5.2.5) is
// in certStatus; the long-term levels are in longterm.go.

// formatChecking is 5.2.2 for a PAdES signature after its ByteRange: a SubFilter this
// verifier reads, a CMS SignedData with exactly one SignerInfo, and detached content.
// It returns nil when the signature can go no further.
func formatChecking(s *Signature, d sigDict) *signedData {
	switch d.subFilter {
	case "ETSI.CAdES.detached", "adbe.pkcs7.detached":
	default:
		s.Level = "not PAdES"
		s.LevelReasons = append(s.LevelReasons, "SubFilter "+d.subFilter+" is not supported")
		s.fail(Indeterminate, FormatFailure, "SubFilter "+strconv.Quote(d.subFilter)+" is not supported")
		return nil
	}
	sd, err := parseSignedData(d.contents)
	if err != nil {
		s.Level = "not PAdES"
		s.fail(TotalFailed, FormatFailure, err.Error())
		return nil
	}
	if sd.EContent != nil {
		s.fail(TotalFailed, FormatFailure, "the CMS is not detached: it encapsulates content")
	}
	if c := sd.signerCert; c != nil {
		s.Signer = signerOf(c)
	}
	return sd
}

// identifySigningCertificate is 5.2.3 for CAdES: the certificate the signer identifier
// names (found by the reader) must be the one the ESS signing-certificate-v2 signed
// attribute names. present says whether that attribute is there, err why it does not
// identify the certificate.
func identifySigningCertificate(sd *signedData) (present bool, err error) {
	a := cms.FindAttr(sd.si.SignedAttrs, cms.OIDAttrSigningCertV2)
	if a == nil {
		return false, nil
	}
	if len(a.Values) != 1 {
		return true, errors.New("signing-certificate-v2 must have one value")
	}
	return true, cms.MatchSigningCertificateV2(a.Values[0], sd.signerCert)
}

// signerCheck is the outcome of cryptographicVerification.
type signerCheck struct {
	hash          crypto.Hash
	hashName      string
	sigAlg        x509.SignatureAlgorithm
	digestMatches bool
	sigValid      bool
	sub           SubIndication // empty when both checks passed
	err           string
}

// cryptographicVerification is 5.2.7: the messageDigest signed attribute against the
// digest of the signed bytes (computed by digest), then the signature over the DER
// signed attributes (SET OF, RFC 5652 5.4) with the signer's key. Signatures without
// signed attributes are refused, and so is a digest algorithm the policy refuses.
func cryptographicVerification(sd *signedData, digest func(crypto.Hash) []byte) signerCheck {
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
	if len(sd.si.SignedAttrs) == 0 {
		c.sub, c.err = FormatFailure, "the SignerInfo has no signed attributes"
		return c
	}
	got, err := sd.si.MessageDigest()
	if err != nil {
		c.sub, c.err = FormatFailure, err.Error()
		return c
	}
	c.digestMatches = bytes.Equal(got, digest(h))
	c.sigAlg = cms.SignatureAlgorithm(sd.si.SignatureAlgorithm.Algorithm, h)
	if c.sigAlg == x509.UnknownSignatureAlgorithm {
		c.sub, c.err = CryptoConstraintsFailure, fmt.Sprintf("signature algorithm %v with %s is not supported", sd.si.SignatureAlgorithm.Algorithm, name)
		return c
	}
	_, err = sd.si.CheckSignature(sd.signerCert, h)
	c.sigValid = err == nil
	switch {
	case !c.digestMatches:
		c.sub, c.err = HashFailure, "messageDigest does not match the digest of the signed bytes"
	case err != nil:
		c.sub, c.err = SigCryptoFailure, err.Error()
	}
	return c
}

// signatureAcceptanceValidation is 5.2.8 against the PAdES baseline (ETSI EN 319 142-1
// 6.3): the signed attributes the baseline requires and forbids decide which level the
// signature can claim (B-B; B-T with a valid signature timestamp) or "not PAdES"; an
// adbe.pkcs7.detached signature is PKCS7-B or PKCS7-T. It sets s.Level and
// s.LevelReasons.
func signatureAcceptanceValidation(s *Signature, sd *signedData, subFilter string, scv2Present bool, scv2Err error, tsOK bool) {
	if subFilter != "ETSI.CAdES.detached" {
		s.Level = "PKCS7-B"
		if tsOK {
			s.Level = "PKCS7-T"
		}
		s.LevelReasons = append(s.LevelReasons, "SubFilter adbe.pkcs7.detached: PAdES baseline needs ETSI.CAdES.detached")
		return
	}
	n := len(s.LevelReasons)
	attrs := sd.si.SignedAttrs
	switch {
	case !scv2Present:
		s.LevelReasons = append(s.LevelReasons, "no ESS signing-certificate-v2 signed attribute")
		if cms.FindAttr(attrs, cms.OIDAttrSigningCert) != nil {
			s.LevelReasons = append(s.LevelReasons, "ESS signing-certificate (v1, SHA-1) is not accepted by the baseline")
		}
	case scv2Err != nil:
		s.LevelReasons = append(s.LevelReasons, scv2Err.Error())
	}
	if cms.FindAttr(attrs, cms.OIDAttrSigningTime) != nil {
		s.LevelReasons = append(s.LevelReasons, "signingTime signed attribute present (PAdES puts the time in /M)")
	}
	if !sd.si.ContentTypeIs(cms.OIDData) {
		s.LevelReasons = append(s.LevelReasons, "contentType signed attribute is not id-data")
	}
	switch {
	case len(s.LevelReasons) > n:
		s.Level = "not PAdES"
	case tsOK:
		s.Level = "B-T"
	case s.Timestamp == nil:
		s.Level = "B-B"
		s.LevelReasons = append(s.LevelReasons, "B-T: no signature timestamp")
	default:
		s.Level = "B-B"
		s.LevelReasons = append(s.LevelReasons, "B-T: the signature timestamp is not valid")
	}
}

// timestampValidation is 5.4 for an RFC 3161 TimeStampToken over the data digest
// hashes: its CMS signature (with cryptographicVerification), its imprint, and its
// TSA's path (timeStamping EKU) at time at, the token's proof of existence. path is the
// TSA's certificate path when that holds.
func (v *verifier) timestampValidation(tok []byte, digest func(crypto.Hash) []byte, at time.Time) (out *Timestamp, path []*x509.Certificate) {
	out = &Timestamp{}
	tt, rest, err := cms.ParseTimestampToken(tok)
	if perr := padding(rest); perr != nil && (err == nil || errors.Is(err, cms.ErrNotTimestamp) || errors.Is(err, cms.ErrTSTInfo)) {
		err = perr
	}
	switch {
	case errors.Is(err, cms.ErrNotTimestamp):
		out.Error = "token does not encapsulate a TSTInfo"
	case errors.Is(err, cms.ErrTSTInfo):
		out.Error = err.Error()
	case err != nil:
		out.Error = "token: " + err.Error()
	}
	if err != nil {
		return out, nil
	}
	sd := &signedData{SignedData: tt.SignedData, si: tt.Signer, signerCert: tt.Signer.FindCertificate(tt.Certificates)}
	info, imprint := tt.Info, tt.Imprint
	out.Time = info.GenTime.UTC()
	if h, name, ok := hashFor(imprint.HashAlgorithm.Algorithm); ok {
		out.ImprintMatches = bytes.Equal(digest(h), imprint.HashedMessage)
	} else {
		out.Error = "imprint hash algorithm " + name + " is not accepted"
	}
	if sd.signerCert != nil {
		out.TSA = sd.signerCert.Subject.String()
	}
	c := cryptographicVerification(sd, func(h crypto.Hash) []byte {
		hh := h.New()
		hh.Write(sd.EContent)
		return hh.Sum(nil)
	})
	out.SignatureValid = c.sub == "" && c.digestMatches && c.sigValid && sd.si.ContentTypeIs(cms.OIDTSTInfo)
	if !out.SignatureValid && out.Error == "" {
		out.Error = "token signature: " + c.err
		if c.err == "" {
			out.Error = "token signature: contentType attribute is not id-ct-TSTInfo"
		}
	}
	if sd.signerCert != nil {
		chains, err := v.chain(sd.signerCert, sd.Certificates, at, x509.ExtKeyUsageTimeStamping)
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

// pastSignatureValidation is 5.6.2.4 as this verifier applies it: rather than validate
// the signer's path now and go back in time when that is INDETERMINATE, it validates it
// at once at the earliest proof of existence of the signature: its own timestamp's time
// when valid (the best-signature-time of 5.5), else the earliest valid document
// timestamp covering it, else the validation time. The claimed /M is never used. It
// returns that time and its source and lists the proofs of existence in s.
func (v *verifier) pastSignatureValidation(s *Signature, tsOK, brOK bool) (time.Time, string) {
	sigEnd := s.Coverage.SignedEnd
	t, src := v.at, "validation_time"
	if tsOK && !s.Timestamp.Time.After(v.at) {
		t, src = s.Timestamp.Time, "timestamp"
		s.ProofsOfExistence = append(s.ProofsOfExistence, POE{Time: s.Timestamp.Time, Source: "signature_timestamp"})
	} else if p, _ := v.poe(sigEnd); brOK && !p.IsZero() {
		t, src = p, "document_timestamp"
	}
	if brOK {
		s.ProofsOfExistence = append(s.ProofsOfExistence, v.poesFor(sigEnd)...)
	}
	return t, src
}

// x509Validation is 5.2.6 with the revocation checks of 5.2.5 for the signer: its path
// at time t (src says where t came from), the revocation status of each certificate on
// it from the file's evidence, judged into the standard's sub-indications. tsStatuses
// are the signature timestamp's TSA statuses, reported beside the signer's.
func (v *verifier) x509Validation(s *Signature, sd *signedData, t time.Time, src string, tsStatuses []CertStatus) []*x509.Certificate {
	c := sd.signerCert
	if c == nil {
		return nil
	}
	path := v.signerChain(s, c, sd.Certificates, t, src)
	if path != nil {
		s.Revocation = v.pathStatuses(path, "signer", "signer_ca", t)
	}
	s.Revocation = append(s.Revocation, tsStatuses...) // also a revoked TSA, which set the timestamp aside
	if path != nil {
		v.judgeRevocation(s, src)
	}
	return path
}

// signerChain validates the signer's path at the best signature time t (src says where
// it came from) and returns the path, or nil when there is none.
func (v *verifier) signerChain(s *Signature, c *x509.Certificate, certs []*x509.Certificate, t time.Time, src string) []*x509.Certificate {
	s.Chain.ValidatedAt, s.Chain.TimeSource = t.UTC(), src
	s.Chain.KeyUsageOK = c.KeyUsage == 0 || c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) != 0
	chains, err := v.chain(c, certs, t, x509.ExtKeyUsageAny)
	if err == nil {
		s.Chain.Trusted = true
		for _, cc := range chains[0] {
			s.Chain.Path = append(s.Chain.Path, cc.Subject.String())
		}
		if !s.Chain.KeyUsageOK {
			s.fail(Indeterminate, ChainConstraintsFailure, "the certificate allows neither digitalSignature nor nonRepudiation")
		}
		return chains[0]
	}
	s.Chain.Error = err.Error()
	// Would the path hold inside the certificate's validity? Then time is the problem.
	inBounds := func(at time.Time) bool { _, err := v.chain(c, certs, at, x509.ExtKeyUsageAny); return err == nil }
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case t.After(c.NotAfter) && inBounds(c.NotAfter.Add(-time.Second)):
		msg := fmt.Sprintf("the certificate expired on %s, before %s, and no proof of existence precedes it", c.NotAfter.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
		s.fail(Indeterminate, OutOfBoundsNoPOE, msg)
	case t.Before(c.NotBefore) && inBounds(c.NotBefore.Add(time.Second)):
		s.fail(Indeterminate, NotYetValid, "the certificate was not yet valid at "+t.UTC().Format(time.RFC3339))
	case errors.As(err, &ua):
		s.fail(Indeterminate, NoCertificateChainFound, "no certificate chain to a trusted root: "+err.Error())
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		s.fail(Indeterminate, OutOfBoundsNoPOE, err.Error())
	default:
		s.fail(Indeterminate, ChainConstraintsFailure, err.Error())
	}
	return nil
}
