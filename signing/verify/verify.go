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
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/motlan/motlan/internal/pdf"
)

// maxRevisionsWalked bounds how many earlier revisions are opened to find signature
// fields that later revisions removed.
const maxRevisionsWalked = 32

// MaxSignatures bounds the signature dictionaries verified per document: each costs a
// hash of up to the whole file, a CMS signature check, a path validation and its
// revocation checks. Beyond it the rest are reported INDETERMINATE/
// SIG_CONSTRAINTS_FAILURE, not verified (document timestamps are taken first, the last
// first, then signatures in field order).
const MaxSignatures = 64

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
	v := &verifier{data: data, at: opts.At, roots: opts.Roots, inter: opts.Intermediates, readers: map[int]*pdf.Reader{},
		requireRev: opts.RequireRevocation, pool: newPool(), crls: map[[32]byte]*x509.RevocationList{}, dssAt: map[int64]map[string]bool{},
		ocsps: map[[32]byte]*rawBasicResponse{}, sigChecks: map[sigCheckKey]error{}, findings: map[findingKey]finding{},
		digests: map[rangeDigestKey][]byte{}, changes: map[int64]*Changes{}}
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
	v.finalDSS = readDSS(final)
	rep.DSS = dssSummary(v.finalDSS)
	for _, it := range v.finalDSS.items {
		v.pool.add(it.kind, it.der, it.source)
	}
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

	// First pass: the validation data every CMS carries, and the DSS of each revision a
	// document timestamp covers (what that timestamp proves existed).
	type job struct {
		found
		d           sigDict
		dOK         bool
		end         int64
		docTS, skip bool
	}
	jobs := make([]*job, 0, len(all))
	for _, f := range all {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		j := &job{found: f}
		if d, err := readSigDict(f.v); err == nil {
			j.d, j.dOK = d, true
			j.end = signedEndOf(d, int64(len(data)))
			j.docTS = d.typ == "DocTimeStamp" || d.subFilter == "ETSI.RFC3161"
		}
		jobs = append(jobs, j)
	}
	// Document timestamps first, the last one first: each is checked at the time of the
	// next (its proof of existence), and each then serves as one for what it covers.
	order := slices.Clone(jobs)
	sort.SliceStable(order, func(i, k int) bool {
		if order[i].docTS != order[k].docTS {
			return order[i].docTS
		}
		return order[i].docTS && order[i].end > order[k].end
	})
	for _, j := range order[min(len(order), MaxSignatures):] {
		j.skip = true
	}
	for _, j := range jobs { // in field order, as the evidence is listed
		if j.dOK && !j.skip {
			v.collect(j.d, j.docTS, j.end)
		}
	}
	for _, f := range order {
		if f.skip {
			rep.Signatures = append(rep.Signatures, notVerified(f.name, f.d, f.dOK, f.docTS, f.end, f.inFinal, len(jobs)))
			continue
		}
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		s := v.signature(f.name, f.v)
		s.InFinalRevision = f.inFinal
		if !f.inFinal {
			s.Warnings = append(s.Warnings, "the signature field is not in the last revision's AcroForm: a later update removed it")
		}
		if s.Type == "document_timestamp" && s.Timestamp != nil {
			if s.Timestamp.Valid && s.Coverage.CoversRevision && !s.Timestamp.Time.After(v.at) {
				v.docTS = append(v.docTS, docTSInfo{end: s.Coverage.SignedEnd, time: s.Timestamp.Time, field: s.FieldName,
					sums: v.dssAt[s.Coverage.SignedEnd], proven: s.Indication == TotalPassed})
			}
			rep.TimestampChain = append(rep.TimestampChain, TimestampLink{FieldName: s.FieldName, Time: s.Timestamp.Time, SignedEnd: s.Coverage.SignedEnd,
				Valid: s.Indication == TotalPassed, TSA: s.Timestamp.TSA, ValidatedAt: s.Chain.ValidatedAt})
		}
		rep.Signatures = append(rep.Signatures, s)
	}
	sort.SliceStable(rep.Signatures, func(i, j int) bool {
		return rep.Signatures[i].Coverage.SignedEnd < rep.Signatures[j].Coverage.SignedEnd
	})
	sort.SliceStable(rep.TimestampChain, func(i, j int) bool {
		return rep.TimestampChain[i].SignedEnd < rep.TimestampChain[j].SignedEnd
	})
	return rep, nil
}

// notVerified is the report of a signature dictionary beyond MaxSignatures.
func notVerified(name string, d sigDict, dOK, docTS bool, end int64, inFinal bool, total int) Signature {
	s := Signature{FieldName: name, Type: "signature", SubFilter: d.subFilter, InFinalRevision: inFinal,
		ByteRange: ByteRange{Values: d.byteRange}, Coverage: Coverage{SignedEnd: end},
		Indication: Indeterminate, SubIndication: SigConstraintsFailure,
		Errors: []string{fmt.Sprintf("not verified: the document has %d signatures and document timestamps, more than the %d verified per document", total, MaxSignatures)}}
	if docTS {
		s.Type = "document_timestamp"
	}
	if !dOK || s.ByteRange.Values == nil {
		s.ByteRange.Values = []int64{}
	}
	return s
}

// signedEndOf returns the end of the bytes a signature dictionary's ByteRange covers, or
// 0 when the ByteRange is unusable.
func signedEndOf(d sigDict, size int64) int64 {
	b := d.byteRange
	if !d.byteRangeOK || len(b) != 4 || b[2] < 0 || b[3] < 0 || b[2] > size || b[3] > size-b[2] {
		return 0
	}
	return b[2] + b[3]
}

// collect adds a signature's CMS certificates and revocation data (and its signature
// timestamp's) to the pool; for a document timestamp, it reads the DSS of the revision
// it covers.
func (v *verifier) collect(d sigDict, docTS bool, end int64) {
	defer func() { _ = recover() }() // a broken structure only means less evidence
	sd, err := parseSignedData(d.contents)
	if err != nil {
		return
	}
	v.pool.addCMSEvidence(sd)
	if !docTS {
		if a := findAttr(sd.unsigned, oidAttrSignatureTimeStamp); a != nil && len(a.values) == 1 {
			if tsd, err := parseSignedData(a.values[0]); err == nil {
				v.pool.addCMSEvidence(tsd)
			}
		}
		return
	}
	if end <= 0 || v.dssAt[end] != nil || len(v.dssAt) >= maxRevisionsWalked {
		return
	}
	sums := map[string]bool{}
	v.dssAt[end] = sums
	dd := v.finalDSS // a timestamp over the whole file covers the last DSS
	if end != int64(len(v.data)) {
		r, err := v.reader(int(end))
		if err != nil {
			return
		}
		dd = readDSS(r)
	}
	for _, it := range dd.items {
		if x := v.pool.add(it.kind, it.der, it.source); x != nil {
			sums[sumHex(x.sum)] = true
		}
	}
}

// docTSInfo is a document timestamp whose token is valid, and the SHA-256 (hex) of the
// DSS items of the revision it covers. When proven (TOTAL_PASSED: also its TSA's
// revocation) it is a proof of existence at time for the bytes before end; a valid
// token alone still makes the level B-LTA.
type docTSInfo struct {
	end    int64
	time   time.Time
	field  string
	sums   map[string]bool
	proven bool
}

// poe returns the earliest valid document timestamp that covers bytes ending at end.
func (v *verifier) poe(end int64) (time.Time, string) {
	var best time.Time
	field := ""
	for _, d := range v.docTS {
		if d.proven && end > 0 && d.end > end && (best.IsZero() || d.time.Before(best)) {
			best, field = d.time, d.field
		}
	}
	return best, field
}

// poesFor lists the document timestamps covering bytes ending at end, earliest first.
func (v *verifier) poesFor(end int64) []POE {
	var out []POE
	for _, d := range v.docTS {
		if d.proven && end > 0 && d.end > end {
			out = append(out, POE{Time: d.time, Source: "document_timestamp", FieldName: d.field})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// evidencePOE returns the earliest valid document timestamp whose covered DSS holds it.
func (v *verifier) evidencePOE(it *evItem) time.Time {
	var best time.Time
	h := sumHex(it.sum)
	for _, d := range v.docTS {
		if d.proven && d.sums[h] && (best.IsZero() || d.time.Before(best)) {
			best = d.time
		}
	}
	return best
}

// judgeRevocation turns the statuses of s.Revocation into the indication. src is where
// the time the signer's statuses were checked at came from.
func (v *verifier) judgeRevocation(s *Signature, src string, fail func(Indication, SubIndication, string)) {
	for _, cs := range s.Revocation {
		what := fmt.Sprintf("%s certificate %q (serial %s)", cs.Role, cs.Subject, cs.Serial)
		switch cs.Status {
		case StatusRevoked:
			msg := fmt.Sprintf("the %s was revoked on %s (%s), not after %s", what, cs.RevokedAt.UTC().Format(time.RFC3339), cs.Reason, cs.CheckedAt.Format(time.RFC3339))
			leaf := cs.Role == "signer" || (cs.Role == "timestamp" && s.Type == "document_timestamp")
			switch {
			case leaf && src != "validation_time":
				fail(TotalFailed, Revoked, msg)
			case leaf:
				fail(Indeterminate, RevokedNoPOE, msg)
			case cs.Role == "signer_ca", s.Type == "document_timestamp":
				fail(Indeterminate, RevokedCANoPOE, msg)
			default: // the signature timestamp's TSA: the timestamp was already set aside
				s.Warnings = append(s.Warnings, msg)
			}
		case StatusUnknown:
			msg := fmt.Sprintf("no revocation evidence in the file covers the %s at %s", what, cs.CheckedAt.Format(time.RFC3339))
			switch {
			case !v.requireRev:
				s.Warnings = append(s.Warnings, "revocation not checked: "+msg)
			case v.at.After(cs.notAfter):
				fail(Indeterminate, RevocationOutOfBoundsNoPOE, msg+"; the certificate expired on "+cs.notAfter.UTC().Format(time.RFC3339))
			default:
				fail(Indeterminate, TryLater, msg)
			}
		}
	}
}

// longTermLevel raises a B-T signature to B-LT and B-LTA (ETSI EN 319 142-1 6.3): the
// DSS holds revocation evidence for the signer's and the signature timestamp's TSA
// certificates and the file their CA certificates (LT); a valid document timestamp
// covers that DSS evidence (LTA).
func (v *verifier) longTermLevel(s *Signature, paths ...[]*x509.Certificate) {
	var reasons []string
	decisive := map[string][]string{}
	for _, role := range []string{"signer", "timestamp"} {
		var cs *CertStatus
		for i := range s.Revocation {
			if s.Revocation[i].Role == role {
				cs = &s.Revocation[i]
			}
		}
		name := map[string]string{"signer": "the signer's certificate", "timestamp": "the signature timestamp's TSA certificate"}[role]
		// The level says what the file holds, whatever the validation time: evidence
		// that verifies, even if not current at the time checked.
		if cs != nil {
			for _, e := range cs.Evidence {
				if e.verified && (e.Source == SourceDSS || e.Source == SourceVRI) {
					decisive[role] = append(decisive[role], e.SHA256)
				}
			}
		}
		if len(decisive[role]) == 0 {
			reasons = append(reasons, "B-LT: the DSS holds no usable revocation evidence for "+name)
		}
	}
	for _, p := range paths {
		for i := 1; i+1 < len(p); i++ {
			if !containsDER(v.pool.certs, p[i]) {
				reasons = append(reasons, "B-LT: the file does not hold the CA certificate "+p[i].Subject.String())
			}
		}
	}
	if len(reasons) > 0 {
		s.LevelReasons = append(s.LevelReasons, reasons...)
		return
	}
	s.Level = "B-LT"
	for _, d := range v.docTS {
		if d.end <= s.Coverage.SignedEnd {
			continue
		}
		covered := func(sums []string) bool {
			for _, h := range sums {
				if d.sums[h] {
					return true
				}
			}
			return false
		}
		if covered(decisive["signer"]) && covered(decisive["timestamp"]) {
			s.Level = "B-LTA"
			return
		}
	}
	s.LevelReasons = append(s.LevelReasons, "B-LTA: no valid document timestamp covers the DSS evidence")
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
	data       []byte
	at         time.Time
	roots      *x509.CertPool
	inter      *x509.CertPool
	readers    map[int]*pdf.Reader // by revision end
	requireRev bool

	pool  *evidencePool                     // validation data of the whole file
	crls  map[[32]byte]*x509.RevocationList // parsed CRLs (nil: unparsable)
	ocsps map[[32]byte]*rawBasicResponse    // parsed OCSP responses (nil: unusable)
	// Results reused across the signatures of one file (see certStatus, checkSignature).
	sigChecks map[sigCheckKey]error
	findings  map[findingKey]finding
	digests   map[rangeDigestKey][]byte // of ByteRange bytes, by range and hash
	changes   map[int64]*Changes        // classified changes after a signed revision, by its end
	finalDSS  dssData                   // the last revision's DSS
	dssAt     map[int64]map[string]bool // DSS item digests by covered revision end
	docTS     []docTSInfo               // valid document timestamps checked so far
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
	if v.pool != nil {
		for _, c := range v.pool.certs {
			if !c.Equal(cert) {
				inter.AddCert(c)
			}
		}
	}
	return cert.Verify(x509.VerifyOptions{Roots: v.roots, Intermediates: inter, CurrentTime: t, KeyUsages: []x509.ExtKeyUsage{eku}})
}

// signature builds the report of one signature dictionary.
func (v *verifier) signature(name string, sv pdf.Value) (s Signature) {
	s.FieldName = name
	s.Type = "signature"
	fail := func(ind Indication, sub SubIndication, msg string) {
		// The first finding decides, except that a TOTAL_FAILED one (a proven
		// revocation, ...) outranks an earlier INDETERMINATE.
		if s.Indication == "" || (s.Indication == Indeterminate && ind == TotalFailed) {
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
		if !brOK {
			return h.New().Sum(nil)
		}
		return v.rangeDigest(h, d.byteRange)
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

	// Signature timestamp: checked at its proof of existence, the earliest document
	// timestamp covering the signature, else at the validation time.
	sigEnd := s.Coverage.SignedEnd
	tsAt := v.at
	if p, _ := v.poe(sigEnd); brOK && !p.IsZero() {
		tsAt = p
	}
	var tsPath []*x509.Certificate
	var tsStatuses []CertStatus
	if a := findAttr(sd.unsigned, oidAttrSignatureTimeStamp); a != nil {
		if len(a.values) != 1 {
			s.Timestamp = &Timestamp{Error: "signature-time-stamp attribute must hold one token"}
		} else {
			s.Timestamp, tsPath = checkTimestampToken(a.values[0], func(h crypto.Hash) []byte {
				hh := h.New()
				hh.Write(sd.si.Signature)
				return hh.Sum(nil)
			}, v, tsAt)
		}
		if s.Timestamp.Valid && tsPath != nil {
			tsStatuses = v.pathStatuses(tsPath, "timestamp", "timestamp_ca", tsAt)
			for _, cs := range tsStatuses {
				if cs.Status == StatusRevoked {
					s.Timestamp.Valid = false
					s.Timestamp.Error = fmt.Sprintf("the TSA's certificate %q was revoked on %s, before the timestamp's proof of existence", cs.Subject, cs.RevokedAt.UTC().Format(time.RFC3339))
				}
			}
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

	// Certificate path and revocation, at the best signature time: the signature
	// timestamp's time when it is valid, else the earliest document timestamp covering
	// the signature, else the validation time. The claimed /M is not trusted for this.
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
	if c := sd.signerCert; c != nil {
		path := v.signerChain(&s, c, sd.certs, t, src, fail)
		if path != nil {
			s.Revocation = v.pathStatuses(path, "signer", "signer_ca", t)
		}
		s.Revocation = append(s.Revocation, tsStatuses...) // also a revoked TSA, which set the timestamp aside
		if path != nil {
			v.judgeRevocation(&s, src, fail)
		}
		if s.Level == "B-T" {
			v.longTermLevel(&s, path, tsPath)
		}
	}
	s.VRIEntry = v.hasVRI(d.contents)
	if s.Coverage.SignedEnd > 0 && !s.Coverage.CoversRevision && brOK {
		fail(Indeterminate, FormatFailure, "the signed bytes do not end at the end of a revision (%%EOF)")
	}
	if ch := s.Changes; ch != nil {
		s.Warnings = append(s.Warnings, fmt.Sprintf("changes after signing: %d later revision(s), classified %q", ch.LaterRevisions, ch.Classification))
	}
	return s
}

// rangeDigestKey names the digest of the bytes of one (valid) ByteRange.
type rangeDigestKey struct {
	h  crypto.Hash
	br [4]int64
}

// rangeDigest hashes the bytes br covers, once per file and hash: copies of a signature
// dictionary share their ByteRange, which may cover nearly the whole file.
func (v *verifier) rangeDigest(h crypto.Hash, br []int64) []byte {
	k := rangeDigestKey{h: h, br: [4]int64(br)}
	if sum, ok := v.digests[k]; ok {
		return sum
	}
	hh := h.New()
	hh.Write(v.data[br[0] : br[0]+br[1]])
	hh.Write(v.data[br[2] : br[2]+br[3]])
	sum := hh.Sum(nil)
	v.digests[k] = sum
	return sum
}

// signerChain validates the signer's path at the best signature time t (src says where
// it came from) and returns the path, or nil when there is none.
func (v *verifier) signerChain(s *Signature, c *x509.Certificate, certs []*x509.Certificate, t time.Time, src string, fail func(Indication, SubIndication, string)) []*x509.Certificate {
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
		return chains[0]
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
			return nil
		}
		fail(Indeterminate, ChainConstraintsFailure, err.Error())
	}
	return nil
}

// hasVRI reports whether the last DSS has a /VRI entry for a signature with contents.
func (v *verifier) hasVRI(contents []byte) bool {
	if len(v.finalDSS.vri) == 0 || len(contents) == 0 {
		return false
	}
	for _, k := range vriKeys(contents) {
		if v.finalDSS.vri[k] {
			return true
		}
	}
	return false
}

// docTimestamp verifies a document timestamp (/SubFilter /ETSI.RFC3161): /Contents is
// a TimeStampToken whose imprint covers the ByteRange bytes.
func (v *verifier) docTimestamp(s *Signature, d sigDict, brOK bool, fail func(Indication, SubIndication, string)) {
	s.Level = "DocTimeStamp"
	signed := func(h crypto.Hash) []byte {
		if !brOK {
			return h.New().Sum(nil)
		}
		return v.rangeDigest(h, d.byteRange)
	}
	// Its TSA is checked at its proof of existence: the next valid document timestamp,
	// else the validation time.
	at, src := v.at, "validation_time"
	if p, _ := v.poe(s.Coverage.SignedEnd); brOK && !p.IsZero() {
		at, src = p, "document_timestamp"
		s.ProofsOfExistence = v.poesFor(s.Coverage.SignedEnd)
	}
	ts, path := checkTimestampToken(d.contents, signed, v, at)
	s.Timestamp = ts
	s.Integrity = Integrity{DigestMatches: ts.ImprintMatches && brOK, SignatureValid: ts.SignatureValid}
	if sd, err := parseSignedData(d.contents); err == nil && sd.signerCert != nil {
		s.Signer = signerOf(sd.signerCert)
	}
	s.Chain = Chain{Trusted: ts.ChainTrusted, ValidatedAt: at.UTC(), TimeSource: src, KeyUsageOK: true}
	for _, c := range path {
		s.Chain.Path = append(s.Chain.Path, c.Subject.String())
	}
	s.VRIEntry = v.hasVRI(d.contents)
	defer func() {
		if path != nil && ts.Valid {
			s.Revocation = v.pathStatuses(path, "timestamp", "timestamp_ca", at)
			v.judgeRevocation(s, src, fail)
		}
	}()
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
	// The comparison depends only on the signed revision: signatures over the same one
	// share it.
	c, ok := v.changes[end]
	if !ok {
		c = classifyChanges(old, v.readers[len(v.data)])
		c.LaterRevisions = ch.LaterRevisions
		v.changes[end] = c
	}
	cc := *c
	cc.Objects = slices.Clone(c.Objects)
	s.Changes = &cc
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
