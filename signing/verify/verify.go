package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/digitorus/pdf"
)

// maxRevisionsWalked bounds how many earlier revisions are opened to find signature
// fields that later revisions removed.
const maxRevisionsWalked = 32

// Verify validates every signature dictionary of the PDF in r (size bytes).
//
// It returns ErrTooLarge, ErrInvalidPDF or ErrEncrypted (wrapped; use errors.Is) when
// the file cannot be read at all, and ctx.Err() when ctx ends. A readable PDF without
// signatures gives a Report with zero Signatures and a nil error. Problems of one
// signature (a broken CMS, a bad ByteRange) are reported in its Signature, not as an
// error. Verify never uses the network: it validates with the certificates the CMS
// carries, Options.Intermediates and Options.Roots, without revocation checking.
func Verify(ctx context.Context, r io.ReaderAt, size int64, opts Options) (Report, error) {
	limit := opts.MaxSize
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	if size > limit {
		return Report{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, limit)
	}
	if size < 0 {
		return Report{}, fmt.Errorf("%w: negative size", ErrInvalidPDF)
	}
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	data := make([]byte, size)
	if n, err := r.ReadAt(data, 0); int64(n) != size {
		return Report{}, fmt.Errorf("%w: reading: %v", ErrInvalidPDF, err)
	}
	v := &verifier{data: data, at: opts.At, roots: opts.Roots, inter: opts.Intermediates, readers: map[int]*pdf.Reader{}}
	if v.at.IsZero() {
		v.at = time.Now()
	}
	if v.roots == nil {
		v.roots = x509.NewCertPool() // never the system pool
	}
	sum := sha256.Sum256(data)
	rep := Report{ValidationTime: v.at, FileSize: size, SHA256: hex.EncodeToString(sum[:]), Signatures: []Signature{}}

	if err := guardFile(data); err != nil {
		return Report{}, err
	}
	ends := revisionEnds(data)
	rep.Revisions = len(ends)
	final, err := openReader(data, len(data))
	if err != nil {
		return Report{}, err
	}
	v.readers[len(data)] = final
	fields, err := signatureFields(final)
	if err != nil {
		return Report{}, err
	}
	type found struct {
		sigField
		inFinal bool
	}
	var all []found
	seen := map[string]bool{}
	add := func(fs []sigField, inFinal bool) {
		for _, f := range fs {
			k, err := safeSigKey(f.v)
			if err != nil || seen[k] {
				continue
			}
			seen[k] = true
			all = append(all, found{f, inFinal})
		}
	}
	add(fields, true)
	// Earlier revisions: a signature whose field a later update removed is still reported.
	for i := len(ends) - 1; i >= 0 && i >= len(ends)-maxRevisionsWalked; i-- {
		if ends[i] >= len(data)-2 {
			continue // the final revision
		}
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		r, err := v.reader(ends[i])
		if err != nil {
			continue // a linearized file's first section, a broken old revision
		}
		if fs, err := signatureFields(r); err == nil {
			add(fs, false)
		}
	}

	for _, f := range all {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		s := v.signature(f.name, f.v)
		s.InFinalRevision = f.inFinal
		if !f.inFinal {
			s.Warnings = append(s.Warnings, "the signature field is not in the last revision's AcroForm: a later update removed it")
		}
		rep.Signatures = append(rep.Signatures, s)
	}
	sort.SliceStable(rep.Signatures, func(i, j int) bool {
		return rep.Signatures[i].Coverage.SignedEnd < rep.Signatures[j].Coverage.SignedEnd
	})
	return rep, nil
}

func safeSigKey(v pdf.Value) (k string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrInvalidPDF, p)
		}
	}()
	return sigKey(v), nil
}

type verifier struct {
	data    []byte
	at      time.Time
	roots   *x509.CertPool
	inter   *x509.CertPool
	readers map[int]*pdf.Reader // by revision end
}

func (v *verifier) reader(end int) (*pdf.Reader, error) {
	if r, ok := v.readers[end]; ok {
		return r, nil
	}
	r, err := openReader(v.data, end)
	if err != nil {
		return nil, err
	}
	v.readers[end] = r
	return r, nil
}

// chain builds a path from cert to the roots at time t with the given extended key usage.
func (v *verifier) chain(cert *x509.Certificate, extra []*x509.Certificate, t time.Time, eku x509.ExtKeyUsage) ([][]*x509.Certificate, error) {
	inter := x509.NewCertPool()
	if v.inter != nil {
		inter = v.inter.Clone()
	}
	for _, c := range extra {
		if !c.Equal(cert) {
			inter.AddCert(c)
		}
	}
	return cert.Verify(x509.VerifyOptions{Roots: v.roots, Intermediates: inter, CurrentTime: t, KeyUsages: []x509.ExtKeyUsage{eku}})
}

// signature builds the report of one signature dictionary.
func (v *verifier) signature(name string, sv pdf.Value) (s Signature) {
	s.FieldName = name
	s.Type = "signature"
	fail := func(ind Indication, sub SubIndication, msg string) {
		if s.Indication == "" {
			s.Indication, s.SubIndication = ind, sub
		}
		s.Errors = append(s.Errors, msg)
	}
	defer func() {
		if p := recover(); p != nil { // the PDF reader, on input the guards missed
			fail(TotalFailed, FormatFailure, fmt.Sprintf("unreadable signature: %v", p))
		}
		if s.Indication == "" {
			s.Indication = TotalPassed
		}
	}()
	d, err := readSigDict(sv)
	if err != nil {
		fail(TotalFailed, FormatFailure, err.Error())
		return s
	}
	s.SubFilter = d.subFilter
	if d.typ == "DocTimeStamp" || d.subFilter == "ETSI.RFC3161" {
		s.Type = "document_timestamp"
	}
	if t, ok := parsePDFDate(d.m); ok {
		s.ClaimedTime = &t
	}

	// ByteRange.
	br, brOK := v.checkByteRange(d)
	s.ByteRange = br
	if !brOK {
		fail(TotalFailed, FormatFailure, "invalid ByteRange: "+strings.Join(br.Problems, "; "))
	}
	signedBytes := func(h crypto.Hash) []byte {
		hh := h.New()
		if brOK {
			b := d.byteRange
			hh.Write(v.data[b[0] : b[0]+b[1]])
			hh.Write(v.data[b[2] : b[2]+b[3]])
		}
		return hh.Sum(nil)
	}
	if brOK {
		v.coverage(&s, d)
	}

	if s.Type == "document_timestamp" {
		v.docTimestamp(&s, d, brOK, fail)
		return s
	}

	switch d.subFilter {
	case "ETSI.CAdES.detached", "adbe.pkcs7.detached":
	default:
		s.Level = "not PAdES"
		s.LevelReasons = append(s.LevelReasons, "SubFilter "+d.subFilter+" is not supported")
		fail(Indeterminate, FormatFailure, "SubFilter "+strconv.Quote(d.subFilter)+" is not supported")
		return s
	}
	sd, err := parseSignedData(d.contents)
	if err != nil {
		s.Level = "not PAdES"
		fail(TotalFailed, FormatFailure, err.Error())
		return s
	}
	if sd.eContent != nil {
		fail(TotalFailed, FormatFailure, "the CMS is not detached: it encapsulates content")
	}
	if c := sd.signerCert; c != nil {
		s.Signer = signerOf(c)
	}
	chk := sd.check(signedBytes)
	s.Integrity = Integrity{DigestAlgorithm: chk.hashName, DigestMatches: chk.digestMatches && brOK, SignatureValid: chk.sigValid}
	if chk.sigAlg != x509.UnknownSignatureAlgorithm {
		s.Integrity.SignatureAlgorithm = chk.sigAlg.String()
	}
	switch chk.sub {
	case "":
	case HashFailure, SigCryptoFailure, FormatFailure:
		fail(TotalFailed, chk.sub, chk.err)
	default:
		fail(Indeterminate, chk.sub, chk.err)
	}

	// Signature timestamp.
	if a := findAttr(sd.unsigned, oidAttrSignatureTimeStamp); a != nil {
		if len(a.values) != 1 {
			s.Timestamp = &Timestamp{Error: "signature-time-stamp attribute must hold one token"}
		} else {
			s.Timestamp = checkTimestampToken(a.values[0], sd.si.Signature, v)
		}
		if !s.Timestamp.Valid {
			s.Warnings = append(s.Warnings, "the signature timestamp is not valid: "+s.Timestamp.Error)
		}
	}
	tsOK := s.Timestamp != nil && s.Timestamp.Valid

	// Level.
	scv2 := findAttr(sd.signedAttrs, oidAttrSigningCertV2)
	var scv2Err error
	if scv2 != nil {
		scv2Err = signingCertV2Matches(scv2, sd.signerCert)
	}
	switch d.subFilter {
	case "ETSI.CAdES.detached":
		bb := true
		if scv2 == nil {
			bb = false
			s.LevelReasons = append(s.LevelReasons, "no ESS signing-certificate-v2 signed attribute")
			if findAttr(sd.signedAttrs, oidAttrSigningCert) != nil {
				s.LevelReasons = append(s.LevelReasons, "ESS signing-certificate (v1, SHA-1) is not accepted by the baseline")
			}
		} else if scv2Err != nil {
			bb = false
			s.LevelReasons = append(s.LevelReasons, scv2Err.Error())
		}
		if findAttr(sd.signedAttrs, oidAttrSigningTime) != nil {
			bb = false
			s.LevelReasons = append(s.LevelReasons, "signingTime signed attribute present (PAdES puts the time in /M)")
		}
		if !sd.contentTypeIs(oidData) {
			bb = false
			s.LevelReasons = append(s.LevelReasons, "contentType signed attribute is not id-data")
		}
		switch {
		case !bb:
			s.Level = "not PAdES"
		case tsOK:
			s.Level = "B-T"
		default:
			s.Level = "B-B"
			if s.Timestamp == nil {
				s.LevelReasons = append(s.LevelReasons, "B-T: no signature timestamp")
			} else {
				s.LevelReasons = append(s.LevelReasons, "B-T: the signature timestamp is not valid")
			}
		}
	default: // adbe.pkcs7.detached
		s.Level = "PKCS7-B"
		if tsOK {
			s.Level = "PKCS7-T"
		}
		s.LevelReasons = append(s.LevelReasons, "SubFilter adbe.pkcs7.detached: PAdES baseline needs ETSI.CAdES.detached")
	}
	if scv2Err != nil && sd.signerCert != nil {
		fail(Indeterminate, NoSigningCertificateFound, scv2Err.Error())
	}

	// Certificate path.
	if c := sd.signerCert; c != nil {
		v.signerChain(&s, c, sd.certs, tsOK, fail)
	}
	if s.Coverage.SignedEnd > 0 && !s.Coverage.CoversRevision && brOK {
		fail(Indeterminate, FormatFailure, "the signed bytes do not end at the end of a revision (%%EOF)")
	}
	if ch := s.Changes; ch != nil {
		s.Warnings = append(s.Warnings, fmt.Sprintf("changes after signing: %d later revision(s), classified %q", ch.LaterRevisions, ch.Classification))
	}
	return s
}

// signerChain validates the signer's path at the best signature time: the signature
// timestamp's time when it is valid (proof of existence), else the validation time. The
// claimed /M is not trusted for this.
func (v *verifier) signerChain(s *Signature, c *x509.Certificate, certs []*x509.Certificate, tsOK bool, fail func(Indication, SubIndication, string)) {
	t, src := v.at, "validation_time"
	if tsOK && !s.Timestamp.Time.After(v.at) {
		t, src = s.Timestamp.Time, "timestamp"
	}
	s.Chain.ValidatedAt, s.Chain.TimeSource = t.UTC(), src
	s.Chain.KeyUsageOK = c.KeyUsage == 0 || c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) != 0
	chains, err := v.chain(c, certs, t, x509.ExtKeyUsageAny)
	if err == nil {
		s.Chain.Trusted = true
		for _, cc := range chains[0] {
			s.Chain.Path = append(s.Chain.Path, cc.Subject.String())
		}
		if !s.Chain.KeyUsageOK {
			fail(Indeterminate, ChainConstraintsFailure, "the certificate allows neither digitalSignature nor nonRepudiation")
		}
		return
	}
	s.Chain.Error = err.Error()
	// Would the path hold inside the certificate's validity? Then time is the problem.
	inBounds := func(at time.Time) bool { _, err := v.chain(c, certs, at, x509.ExtKeyUsageAny); return err == nil }
	var ua x509.UnknownAuthorityError
	switch {
	case t.After(c.NotAfter) && inBounds(c.NotAfter.Add(-time.Second)):
		msg := fmt.Sprintf("the certificate expired on %s, before %s, and no proof of existence precedes it", c.NotAfter.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
		fail(Indeterminate, OutOfBoundsNoPOE, msg)
	case t.Before(c.NotBefore) && inBounds(c.NotBefore.Add(time.Second)):
		fail(Indeterminate, NotYetValid, "the certificate was not yet valid at "+t.UTC().Format(time.RFC3339))
	case errors.As(err, &ua):
		fail(Indeterminate, NoCertificateChainFound, "no certificate chain to a trusted root: "+err.Error())
	default:
		var ci x509.CertificateInvalidError
		if errors.As(err, &ci) && (ci.Reason == x509.Expired) {
			fail(Indeterminate, OutOfBoundsNoPOE, err.Error())
			return
		}
		fail(Indeterminate, ChainConstraintsFailure, err.Error())
	}
}

// docTimestamp verifies a document timestamp (/SubFilter /ETSI.RFC3161): /Contents is
// a TimeStampToken whose imprint covers the ByteRange bytes.
func (v *verifier) docTimestamp(s *Signature, d sigDict, brOK bool, fail func(Indication, SubIndication, string)) {
	s.Level = "DocTimeStamp"
	var signed []byte
	if brOK {
		b := d.byteRange
		signed = append(append(signed, v.data[b[0]:b[0]+b[1]]...), v.data[b[2]:b[2]+b[3]]...)
	}
	ts := checkTimestampToken(d.contents, signed, v)
	s.Timestamp = ts
	s.Integrity = Integrity{DigestMatches: ts.ImprintMatches && brOK, SignatureValid: ts.SignatureValid}
	if sd, err := parseSignedData(d.contents); err == nil && sd.signerCert != nil {
		s.Signer = signerOf(sd.signerCert)
	}
	s.Chain = Chain{Trusted: ts.ChainTrusted, ValidatedAt: v.at.UTC(), TimeSource: "validation_time", KeyUsageOK: true}
	switch {
	case !ts.SignatureValid && strings.HasPrefix(ts.Error, "token:"):
		fail(TotalFailed, FormatFailure, ts.Error)
	case !ts.ImprintMatches:
		fail(TotalFailed, HashFailure, "the document timestamp's imprint does not match the signed bytes")
	case !ts.SignatureValid:
		fail(TotalFailed, SigCryptoFailure, ts.Error)
	case !ts.ChainTrusted:
		s.Chain.Error = ts.Error
		fail(Indeterminate, NoCertificateChainFound, ts.Error)
	}
}

// checkByteRange checks: four integers, starting at 0, the gap exactly the /Contents
// hex string (and holding the same bytes as the parsed /Contents), no overlap, within
// the file.
func (v *verifier) checkByteRange(d sigDict) (ByteRange, bool) {
	br := ByteRange{Values: d.byteRange}
	if br.Values == nil {
		br.Values = []int64{}
	}
	p := func(format string, args ...any) { br.Problems = append(br.Problems, fmt.Sprintf(format, args...)) }
	b := d.byteRange
	size := int64(len(v.data))
	switch {
	case !d.byteRangeOK:
		p("missing or not an array of integers")
	case len(b) != 4:
		p("%d numbers, want 4 (two ranges)", len(b))
	default:
		for _, x := range b {
			if x < 0 {
				p("negative value %d", x)
				return br, false
			}
		}
		if b[0] != 0 {
			p("the first range starts at %d, not 0", b[0])
		}
		if b[1] <= 0 || b[2] <= b[1] {
			p("the ranges overlap or are out of order")
		}
		if b[1] > size || b[2] > size || b[3] > size-b[2] {
			p("the ranges go beyond the end of the file (%d bytes)", size)
		}
		if len(br.Problems) > 0 {
			break
		}
		gap := v.data[b[1]:b[2]]
		if len(gap) < 2 || gap[0] != '<' || gap[len(gap)-1] != '>' {
			p("the gap between the ranges is not a hex string")
			break
		}
		var digits []byte
		for _, c := range gap[1 : len(gap)-1] {
			switch {
			case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
				digits = append(digits, c)
			case c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f':
			default:
				p("the gap holds %q, not only hex digits", c)
				return br, false
			}
		}
		if len(digits)%2 == 1 {
			digits = append(digits, '0')
		}
		dec := make([]byte, len(digits)/2)
		if _, err := hex.Decode(dec, digits); err != nil || !bytes.Equal(dec, d.contents) {
			p("the gap is not the signature dictionary's /Contents")
		}
	}
	br.Valid = len(br.Problems) == 0
	return br, br.Valid
}

// coverage fills Coverage and, when bytes follow the signed revision, Changes.
func (v *verifier) coverage(s *Signature, d sigDict) {
	end := d.byteRange[2] + d.byteRange[3]
	size := int64(len(v.data))
	s.Coverage.SignedEnd = end
	s.Coverage.CoversWholeDocument = end == size
	s.Coverage.CoversRevision = bytes.HasSuffix(bytes.TrimRight(v.data[:end], "\r\n \t\f\x00"), []byte("%%EOF"))
	if len(bytes.TrimSpace(v.data[end:])) == 0 {
		return
	}
	ch := &Changes{Classification: ChangesUnknown}
	for _, e := range revisionEnds(v.data) {
		if int64(e-5) >= end {
			ch.LaterRevisions++
		}
	}
	old, err := v.reader(int(end))
	if !s.Coverage.CoversRevision || err != nil {
		ch.Checked = "the signed revision could not be opened for comparison"
		if err != nil {
			ch.Checked += ": " + err.Error()
		}
		s.Changes = ch
		return
	}
	s.Changes = classifyChanges(old, v.readers[len(v.data)])
	s.Changes.LaterRevisions = ch.LaterRevisions
}

func signerOf(c *x509.Certificate) *Signer {
	s := &Signer{
		Name:      c.Subject.CommonName,
		Issuer:    c.Issuer.String(),
		Serial:    c.SerialNumber.Text(16),
		NotBefore: c.NotBefore.UTC(),
		NotAfter:  c.NotAfter.UTC(),
	}
	for _, n := range c.Subject.Names {
		if !n.Type.Equal(oidUID) {
			continue
		}
		uid, ok := n.Value.(string)
		if !ok {
			continue
		}
		s.IDType, s.IDMasked = MaskID(uid)
		break
	}
	return s
}

// MaskID splits a subject UID such as "CCCD:038092004567" into its type ("CCCD") and
// the number with all but the first 3 and last 2 characters masked ("038*******67").
// Numbers of 5 characters or fewer are masked entirely.
func MaskID(uid string) (idType, masked string) {
	num := uid
	if i := strings.IndexByte(uid, ':'); i >= 0 {
		idType, num = uid[:i], uid[i+1:]
	}
	r := []rune(num)
	if len(r) <= 5 {
		return idType, strings.Repeat("*", len(r))
	}
	return idType, string(r[:3]) + strings.Repeat("*", len(r)-5) + string(r[len(r)-2:])
}

// parsePDFDate parses a PDF date (D:YYYYMMDDHHmmSSOHH'mm', every part after the year
// optional).
func parsePDFDate(s string) (time.Time, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "D:")
	if len(s) < 4 {
		return time.Time{}, false
	}
	parts := []int{0, 1, 1, 0, 0, 0} // year, month, day, hour, minute, second
	widths := []int{4, 2, 2, 2, 2, 2}
	i := 0
	for k, w := range widths {
		if i+w > len(s) || s[i] < '0' || s[i] > '9' {
			if k == 0 {
				return time.Time{}, false
			}
			break
		}
		n, err := strconv.Atoi(s[i : i+w])
		if err != nil {
			return time.Time{}, false
		}
		parts[k] = n
		i += w
	}
	loc := time.UTC
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		sign := 1
		if s[i] == '-' {
			sign = -1
		}
		rest := strings.ReplaceAll(s[i+1:], "'", "")
		var hh, mm int
		if len(rest) >= 2 {
			hh, _ = strconv.Atoi(rest[:2])
		}
		if len(rest) >= 4 {
			mm, _ = strconv.Atoi(rest[2:4])
		}
		loc = time.FixedZone("", sign*(hh*3600+mm*60))
	}
	if parts[1] < 1 || parts[1] > 12 || parts[2] < 1 || parts[2] > 31 || parts[3] > 23 || parts[4] > 59 || parts[5] > 60 {
		return time.Time{}, false
	}
	return time.Date(parts[0], time.Month(parts[1]), parts[2], parts[3], parts[4], parts[5], 0, loc), true
}
