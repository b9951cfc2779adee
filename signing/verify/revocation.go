package verify

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/motlan/motlan/internal/cms"
	"golang.org/x/crypto/ocsp"
)

// Revocation checking from the evidence the file carries (the DSS, the CMS): never the
// network. A certificate's status is evaluated at a time t, the proof-of-existence time
// of what it signed (see verifier.poe):
//
//   - an OCSP response or CRL counts only when its signature verifies: an OCSP response
//     signed by the certificate's issuer or by a delegated responder that the issuer
//     certified with id-kp-OCSPSigning and that was valid at producedAt; a CRL signed by
//     the issuer under its name, not a delta CRL. The CertID must name the certificate
//     (serial, issuer name and key hashes).
//   - evidence issued after the validation time is ignored: it could not be known then.
//   - revoked at or before t: REVOKED. Revoked after t: the certificate was good at t.
//   - good: the response must still be current at t (t <= nextUpdate, or <= thisUpdate
//     when there is no nextUpdate) and issued while the certificate was valid (an
//     expired certificate may be dropped from CRLs).
//   - otherwise the status is unknown.
//
// Simplification, stated in the report's doc: the signatures of evidence are checked at
// the time the evidence states (producedAt, thisUpdate), whether or not a document
// timestamp proves it existed then; the POE that a document timestamp gives is reported
// per item. The delegated responder's own revocation is not checked (the dev CA marks it
// id-pkix-ocsp-nocheck).

// Certificate revocation statuses, as reported in CertStatus.Status.
const (
	StatusGood    = "good"    // not revoked at CheckedAt (possibly revoked later: see RevokedAt)
	StatusRevoked = "revoked" // revoked at or before CheckedAt
	StatusUnknown = "unknown" // no usable evidence covers CheckedAt
)

// findingKey names what one OCSP response or CRL (SHA-256) says of one certificate as
// issued by another (their SHA-256).
type findingKey struct{ item, cert, issuer [32]byte }

// finding is what one OCSP response or CRL says about one certificate.
type finding struct {
	ref       EvidenceRef
	usable    bool
	revoked   bool
	revokedAt time.Time
	reason    int
	this      time.Time
	next      time.Time
}

// Raw OCSP structures (RFC 6960 4.2.1), to check the CertID's issuer hashes, which
// golang.org/x/crypto/ocsp does not compare.
type rawOCSPResponse struct {
	Status asn1.Enumerated
	Bytes  rawResponseBytes `asn1:"explicit,tag:0,optional"`
}

type rawResponseBytes struct {
	Type     asn1.ObjectIdentifier
	Response []byte
}

type rawBasicResponse struct {
	TBS    rawResponseData
	SigAlg pkix.AlgorithmIdentifier
	Sig    asn1.BitString
	Certs  []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type rawResponseData struct {
	Raw         asn1.RawContent
	Version     int `asn1:"optional,default:0,explicit,tag:0"`
	ResponderID asn1.RawValue
	ProducedAt  time.Time `asn1:"generalized"`
	Responses   []rawSingleResponse
	Extensions  []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type rawSingleResponse struct {
	CertID     rawCertID
	Status     asn1.RawValue
	ThisUpdate time.Time        `asn1:"generalized"`
	NextUpdate time.Time        `asn1:"generalized,explicit,tag:0,optional"`
	Extensions []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type rawCertID struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	NameHash      []byte
	KeyHash       []byte
	Serial        *big.Int
}

var oidOCSPBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}

// parsedOCSP returns the item's basic OCSP response, parsed once per file (nil with an error
// when it is not a successful basic OCSP response), for the CertID match that every
// certificate checked runs against every response.
func (v *verifier) parsedOCSP(it *evItem) (*rawBasicResponse, error) {
	if b, ok := v.ocsps[it.sum]; ok {
		if b == nil {
			return nil, errors.New("not a basic OCSP response")
		}
		return b, nil
	}
	b, err := parseRawOCSP(it.der)
	v.ocsps[it.sum] = b
	return b, err
}

func parseRawOCSP(der []byte) (*rawBasicResponse, error) {
	var r rawOCSPResponse
	if _, err := asn1.Unmarshal(der, &r); err != nil {
		return nil, fmt.Errorf("not an OCSP response: %v", err)
	}
	if r.Status != 0 {
		return nil, fmt.Errorf("OCSP response status %d (not successful)", r.Status)
	}
	if !r.Bytes.Type.Equal(oidOCSPBasic) {
		return nil, errors.New("not a basic OCSP response")
	}
	var b rawBasicResponse
	if _, err := asn1.Unmarshal(r.Bytes.Response, &b); err != nil {
		return nil, fmt.Errorf("basic OCSP response: %v", err)
	}
	return &b, nil
}

// ocspCertIDMatches reports whether b holds a SingleResponse whose CertID names cert as
// issued by issuer.
func ocspCertIDMatches(b *rawBasicResponse, cert, issuer *x509.Certificate) bool {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return false
	}
	for i, s := range b.TBS.Responses {
		if i >= 64 {
			break
		}
		if s.CertID.Serial == nil || s.CertID.Serial.Cmp(cert.SerialNumber) != 0 {
			continue
		}
		h, _, ok := hashFor(s.CertID.HashAlgorithm.Algorithm)
		if !ok && s.CertID.HashAlgorithm.Algorithm.Equal(cms.OIDSHA1) {
			h, ok = crypto.SHA1, true // SHA-1 CertIDs are the RFC 6960 default; they identify, not sign
		}
		if !ok || !h.Available() {
			continue
		}
		hh := h.New()
		hh.Write(cert.RawIssuer)
		name := hh.Sum(nil)
		hh.Reset()
		hh.Write(spki.PublicKey.RightAlign())
		if bytes.Equal(name, s.CertID.NameHash) && bytes.Equal(hh.Sum(nil), s.CertID.KeyHash) {
			return true
		}
	}
	return false
}

// testHookEvidenceSignature, when set (by tests), is called before each signature check
// of evidence that is not answered from the cache: kind is "crl", "ocsp" or
// "ocsp_responder" (a delegated responder's certificate against the issuer).
var testHookEvidenceSignature func(kind string)

// sigCheckKey names one signature check: the SHA-256 of what is signed (an OCSP
// response, a CRL, a responder's certificate) and of the certificate whose key checks it.
type sigCheckKey struct{ signed, signer [32]byte }

// checkSignature runs check, the signature check of the item whose SHA-256 is signed by
// signer, once per file: a signature's path certificates are checked against every
// OCSP response and CRL, and many signatures share issuers, so without the cache every
// signature would hash every CRL of its CA again.
func (v *verifier) checkSignature(kind string, signed [32]byte, signer *x509.Certificate, check func() error) error {
	k := sigCheckKey{signed, sha256.Sum256(signer.Raw)}
	if err, ok := v.sigChecks[k]; ok {
		return err
	}
	if testHookEvidenceSignature != nil {
		testHookEvidenceSignature(kind)
	}
	err := check()
	v.sigChecks[k] = err
	return err
}

// ocspFinding evaluates an OCSP response about cert; ok is false when the response is
// not about cert (another certificate, or not an OCSP response).
func (v *verifier) ocspFinding(it *evItem, cert, issuer *x509.Certificate) (f finding, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			f, ok = finding{ref: EvidenceRef{Type: "ocsp", Source: it.source, SHA256: sumHex(it.sum), Problem: fmt.Sprint("unreadable: ", p)}}, true
		}
	}()
	f.ref = EvidenceRef{Type: "ocsp", Source: it.source, SHA256: sumHex(it.sum)}
	b, err := v.parsedOCSP(it)
	if err != nil || !ocspCertIDMatches(b, cert, issuer) {
		return f, false
	}
	resp, err := ocsp.ParseResponseForCert(it.der, cert, nil)
	if err != nil {
		f.ref.Problem = "OCSP response: " + err.Error()
		return f, true
	}
	f.this, f.next = resp.ThisUpdate.UTC(), resp.NextUpdate.UTC()
	f.ref.ThisUpdate = f.this
	if !resp.NextUpdate.IsZero() {
		f.ref.NextUpdate = &f.next
	}
	pa := resp.ProducedAt.UTC()
	f.ref.ProducedAt = &pa

	// Who signed: the issuer itself, or a delegated responder it certified.
	responder := resp.Certificate
	if responder == nil {
		for _, c := range append([]*x509.Certificate{issuer}, v.pool.certs...) {
			if (len(resp.RawResponderName) > 0 && bytes.Equal(resp.RawResponderName, c.RawSubject)) ||
				(len(resp.ResponderKeyHash) > 0 && bytes.Equal(resp.ResponderKeyHash, keyHashSHA1(c))) {
				responder = c
				break
			}
		}
	}
	if responder == nil {
		f.ref.Problem = "the OCSP responder's certificate is not in the file"
		return f, true
	}
	f.ref.Issuer = responder.Subject.String()
	if err := v.checkSignature("ocsp", it.sum, responder, func() error { return resp.CheckSignatureFrom(responder) }); err != nil {
		f.ref.Problem = "the OCSP response's signature does not verify: " + err.Error()
		return f, true
	}
	if pa.Before(issuer.NotBefore) || pa.After(issuer.NotAfter) {
		f.ref.Problem = "the issuer's certificate was not valid at producedAt"
		return f, true
	}
	if !responder.Equal(issuer) {
		switch {
		case v.checkSignature("ocsp_responder", sha256.Sum256(responder.Raw), issuer, func() error { return responder.CheckSignatureFrom(issuer) }) != nil:
			f.ref.Problem = "the OCSP responder is not certified by the certificate's issuer"
			return f, true
		case !hasEKU(responder, x509.ExtKeyUsageOCSPSigning):
			f.ref.Problem = "the delegated OCSP responder lacks id-kp-OCSPSigning"
			return f, true
		case pa.Before(responder.NotBefore) || pa.After(responder.NotAfter):
			f.ref.Problem = "the delegated OCSP responder's certificate was not valid at producedAt"
			return f, true
		}
	}
	switch resp.Status {
	case ocsp.Good:
		f.ref.Status = StatusGood
	case ocsp.Revoked:
		f.ref.Status = StatusRevoked
		f.revoked, f.revokedAt, f.reason = true, resp.RevokedAt.UTC(), resp.RevocationReason
		f.ref.RevokedAt = &f.revokedAt
	default:
		f.ref.Status = StatusUnknown
		f.ref.Problem = "the responder does not know the certificate"
		return f, true
	}
	f.usable = true
	return f, true
}

// crlFinding evaluates a CRL about cert; ok is false when the CRL is not the issuer's.
func (v *verifier) crlFinding(it *evItem, cert, issuer *x509.Certificate) (f finding, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			f, ok = finding{ref: EvidenceRef{Type: "crl", Source: it.source, SHA256: sumHex(it.sum), Problem: fmt.Sprint("unreadable: ", p)}}, true
		}
	}()
	f.ref = EvidenceRef{Type: "crl", Source: it.source, SHA256: sumHex(it.sum)}
	rl, err := v.parsedCRL(it)
	if err != nil || !bytes.Equal(rl.RawIssuer, issuer.RawSubject) || !bytes.Equal(cert.RawIssuer, issuer.RawSubject) {
		return f, false
	}
	f.ref.Issuer = issuer.Subject.String()
	f.this, f.next = rl.ThisUpdate.UTC(), rl.NextUpdate.UTC()
	f.ref.ThisUpdate = f.this
	if !rl.NextUpdate.IsZero() {
		f.ref.NextUpdate = &f.next
	}
	for _, e := range rl.Extensions {
		if e.Id.Equal(oidDeltaCRLIndicator) {
			f.ref.Problem = "a delta CRL is not used"
			return f, true
		}
	}
	if err := v.checkSignature("crl", it.sum, issuer, func() error { return rl.CheckSignatureFrom(issuer) }); err != nil {
		f.ref.Problem = "the CRL's signature does not verify with the issuer's key: " + err.Error()
		return f, true
	}
	if f.this.Before(issuer.NotBefore) || f.this.After(issuer.NotAfter) {
		f.ref.Problem = "the CRL issuer's certificate was not valid at thisUpdate"
		return f, true
	}
	f.ref.Status = StatusGood
	scope := crlScopeProblem(rl, cert)
	for _, e := range rl.RevokedCertificateEntries {
		if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			f.ref.Status = StatusRevoked
			f.revoked, f.revokedAt, f.reason = true, e.RevocationTime.UTC(), e.ReasonCode
			f.ref.RevokedAt = &f.revokedAt
			break
		}
	}
	if !f.revoked && scope != "" {
		// Not listing the certificate proves nothing when the CRL does not cover it.
		f.ref.Status = ""
		f.ref.Problem = scope
		return f, true
	}
	f.usable = true
	return f, true
}

var oidIssuingDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 28}

// crlScopeProblem says why a partitioned CRL (RFC 5280 5.2.5, issuingDistributionPoint)
// cannot show cert as not revoked: it holds only CA or only end-entity certificates,
// only some reasons, or it is an indirect CRL. "" when its scope covers cert.
func crlScopeProblem(rl *x509.RevocationList, cert *x509.Certificate) string {
	for _, e := range rl.Extensions {
		if !e.Id.Equal(oidIssuingDistributionPoint) {
			continue
		}
		var seq asn1.RawValue
		if _, err := asn1.Unmarshal(e.Value, &seq); err != nil || seq.Tag != asn1.TagSequence {
			return "the CRL's issuingDistributionPoint is malformed"
		}
		isTrue := func(v asn1.RawValue) bool { return len(v.Bytes) == 1 && v.Bytes[0] != 0 }
		rest := seq.Bytes
		for len(rest) > 0 {
			var f asn1.RawValue
			var err error
			if rest, err = asn1.Unmarshal(rest, &f); err != nil {
				return "the CRL's issuingDistributionPoint is malformed"
			}
			if f.Class != asn1.ClassContextSpecific {
				continue
			}
			switch {
			case f.Tag == 1 && isTrue(f) && cert.IsCA:
				return "the CRL holds only end-entity certificates"
			case f.Tag == 2 && isTrue(f) && !cert.IsCA:
				return "the CRL holds only CA certificates"
			case f.Tag == 3:
				return "the CRL covers only some revocation reasons"
			case f.Tag == 4 && isTrue(f):
				return "an indirect CRL is not used"
			case f.Tag == 5 && isTrue(f):
				return "the CRL holds only attribute certificates"
			}
		}
	}
	return ""
}

var oidDeltaCRLIndicator = asn1.ObjectIdentifier{2, 5, 29, 27}

func (v *verifier) parsedCRL(it *evItem) (*x509.RevocationList, error) {
	if rl, ok := v.crls[it.sum]; ok {
		if rl == nil {
			return nil, errors.New("unparsable CRL")
		}
		return rl, nil
	}
	rl, err := x509.ParseRevocationList(it.der)
	if err != nil {
		v.crls[it.sum] = nil
		return nil, err
	}
	v.crls[it.sum] = rl
	return rl, nil
}

func keyHashSHA1(c *x509.Certificate) []byte {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil
	}
	h := crypto.SHA1.New()
	h.Write(spki.PublicKey.RightAlign())
	return h.Sum(nil)
}

func hasEKU(c *x509.Certificate, eku x509.ExtKeyUsage) bool {
	for _, e := range c.ExtKeyUsage {
		if e == eku {
			return true
		}
	}
	return false
}

// certStatus evaluates the revocation of cert (issued by issuer) at t from every OCSP
// response and CRL of the pool.
func (v *verifier) certStatus(role string, cert, issuer *x509.Certificate, t time.Time) CertStatus {
	cs := CertStatus{Role: role, Subject: cert.Subject.String(), Serial: cert.SerialNumber.Text(16), CheckedAt: t.UTC(), Status: StatusUnknown, Evidence: []EvidenceRef{}, notAfter: cert.NotAfter}
	var revoked *finding
	good := false
	certSum, issuerSum := sha256.Sum256(cert.Raw), sha256.Sum256(issuer.Raw)
	for _, it := range v.pool.items {
		if it.kind != kindOCSP && it.kind != kindCRL {
			continue
		}
		// What an item says of (cert, issuer) does not change within a file (the pool is
		// complete before any signature is evaluated): evaluated once, however many
		// signatures share the certificate. Items not about cert are not remembered; the
		// parse caches make rejecting them cheap.
		fk := findingKey{it.sum, certSum, issuerSum}
		f, ok := v.findings[fk]
		if !ok {
			if it.kind == kindOCSP {
				f, ok = v.ocspFinding(it, cert, issuer)
			} else {
				f, ok = v.crlFinding(it, cert, issuer)
			}
			if !ok {
				continue
			}
			v.findings[fk] = f
		}
		if p := v.evidencePOE(it); !p.IsZero() {
			f.ref.POE = &p
		}
		if f.usable && f.this.After(v.at) {
			f.usable = false
			f.ref.Problem = "issued after the validation time"
		}
		f.ref.verified = f.usable
		if f.usable {
			switch {
			case f.revoked:
				if revoked == nil || f.revokedAt.Before(revoked.revokedAt) {
					ff := f
					revoked = &ff
				}
				f.ref.Used = true
			case f.this.After(cert.NotAfter):
				f.ref.Problem = "issued after the certificate expired: it need not list it"
			case !f.this.Before(t) || (!f.next.IsZero() && !t.After(f.next)) || (f.next.IsZero() && !t.After(f.this)):
				good = true
				f.ref.Used = true
			default:
				f.ref.Problem = "not current at " + t.UTC().Format(time.RFC3339) + " (nextUpdate before it)"
			}
		}
		cs.Evidence = append(cs.Evidence, f.ref)
	}
	switch {
	case revoked != nil && !revoked.revokedAt.After(t):
		cs.Status = StatusRevoked
	case revoked != nil || good:
		cs.Status = StatusGood
	}
	if revoked != nil {
		ra := revoked.revokedAt
		cs.RevokedAt = &ra
		cs.Reason = reasonName(revoked.reason)
	}
	for _, e := range cs.Evidence {
		if e.Used {
			cs.FromDSS = cs.FromDSS || e.Source == SourceDSS || e.Source == SourceVRI
		}
	}
	return cs
}

func reasonName(r int) string {
	names := map[int]string{
		ocsp.Unspecified: "unspecified", ocsp.KeyCompromise: "keyCompromise", ocsp.CACompromise: "cACompromise",
		ocsp.AffiliationChanged: "affiliationChanged", ocsp.Superseded: "superseded",
		ocsp.CessationOfOperation: "cessationOfOperation", ocsp.CertificateHold: "certificateHold",
		ocsp.RemoveFromCRL: "removeFromCRL", ocsp.PrivilegeWithdrawn: "privilegeWithdrawn", ocsp.AACompromise: "aACompromise",
	}
	if n, ok := names[r]; ok {
		return n
	}
	return fmt.Sprintf("reason %d", r)
}

// pathStatuses evaluates every certificate of path except the trust anchor at t; role
// names the first, roleCA the others.
func (v *verifier) pathStatuses(path []*x509.Certificate, role, roleCA string, t time.Time) []CertStatus {
	var out []CertStatus
	for i := 0; i+1 < len(path); i++ {
		r := roleCA
		if i == 0 {
			r = role
		}
		out = append(out, v.certStatus(r, path[i], path[i+1], t))
	}
	return out
}
