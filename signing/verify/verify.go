package verify

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/digitorus/pdf"
	"github.com/motlan/motlan/internal/cms"
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
	v := newVerifier(data, opts)
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
	all, err := v.findSignatures(ctx, final, ends)
	if err != nil {
		return Report{}, err
	}
	if err := v.verifyAll(ctx, &rep, v.plan(all)); err != nil {
		return Report{}, err
	}
	sort.SliceStable(rep.Signatures, func(i, j int) bool {
		return rep.Signatures[i].Coverage.SignedEnd < rep.Signatures[j].Coverage.SignedEnd
	})
	sort.SliceStable(rep.TimestampChain, func(i, j int) bool {
		return rep.TimestampChain[i].SignedEnd < rep.TimestampChain[j].SignedEnd
	})
	return rep, nil
}

func newVerifier(data []byte, opts Options) *verifier {
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
	return v
}

// found is a signature field, and whether the last revision's AcroForm still has it.
type found struct {
	sigField
	inFinal bool
}

// findSignatures lists the signature fields of the last revision, then those of earlier
// revisions that a later update removed (still reported), each dictionary once.
func (v *verifier) findSignatures(ctx context.Context, final *pdf.Reader, ends []int) ([]found, error) {
	fields, err := signatureFields(final)
	if err != nil {
		return nil, err
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
	for i := len(ends) - 1; i >= 0 && i >= len(ends)-maxRevisionsWalked; i-- {
		if ends[i] >= len(v.data)-2 {
			continue // the final revision
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := v.reader(ends[i])
		if err != nil {
			continue // a linearized file's first section, a broken old revision
		}
		if fs, err := signatureFields(r); err == nil {
			add(fs, false)
		}
	}
	return all, nil
}

// job is one signature dictionary to verify.
type job struct {
	found
	d           sigDict
	dOK         bool
	end         int64
	docTS, skip bool
}

// plan reads each signature dictionary, puts document timestamps first, the last one
// first (each is checked at the time of the next, its proof of existence, and then
// serves as one for what it covers), marks those beyond MaxSignatures, and collects the
// validation data every CMS carries and the DSS each document timestamp covers.
func (v *verifier) plan(all []found) []*job {
	jobs := make([]*job, 0, len(all))
	for _, f := range all {
		j := &job{found: f}
		if d, err := readSigDict(f.v); err == nil {
			j.d, j.dOK = d, true
			j.end = signedEndOf(d, int64(len(v.data)))
			j.docTS = d.typ == "DocTimeStamp" || d.subFilter == "ETSI.RFC3161"
		}
		jobs = append(jobs, j)
	}
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
	return order
}

// verifyAll verifies the planned signatures into rep, in order.
func (v *verifier) verifyAll(ctx context.Context, rep *Report, order []*job) error {
	for _, f := range order {
		if f.skip {
			rep.Signatures = append(rep.Signatures, notVerified(f.name, f.d, f.dOK, f.docTS, f.end, f.inFinal, len(order)))
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
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
	return nil
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
		if a := cms.FindAttr(sd.si.UnsignedAttrs, cms.OIDAttrSignatureTimeStamp); a != nil && len(a.Values) == 1 {
			if tsd, err := parseSignedData(a.Values[0]); err == nil {
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

// fail records a finding. The first decides the indication, except that a
// TOTAL_FAILED one (a proven revocation, ...) outranks an earlier INDETERMINATE.
func (s *Signature) fail(ind Indication, sub SubIndication, msg string) {
	if s.Indication == "" || (s.Indication == Indeterminate && ind == TotalFailed) {
		s.Indication, s.SubIndication = ind, sub
	}
	s.Errors = append(s.Errors, msg)
}

// settle, deferred, turns a panic of the PDF reader (on input the guards missed) into a
// format failure, and no finding into TOTAL_PASSED.
func (s *Signature) settle() {
	if p := recover(); p != nil {
		s.fail(TotalFailed, FormatFailure, fmt.Sprintf("unreadable signature: %v", p))
	}
	if s.Indication == "" {
		s.Indication = TotalPassed
	}
}

// signature builds the report of one signature dictionary: its ByteRange (the PDF part
// of format checking), then a document timestamp's checks or validate's.
func (v *verifier) signature(name string, sv pdf.Value) (s Signature) {
	s.FieldName = name
	s.Type = "signature"
	defer s.settle()
	d, err := readSigDict(sv)
	if err != nil {
		s.fail(TotalFailed, FormatFailure, err.Error())
		return s
	}
	s.SubFilter = d.subFilter
	if d.typ == "DocTimeStamp" || d.subFilter == "ETSI.RFC3161" {
		s.Type = "document_timestamp"
	}
	if t, ok := parsePDFDate(d.m); ok {
		s.ClaimedTime = &t
	}
	br, brOK := v.checkByteRange(d)
	s.ByteRange = br
	if !brOK {
		s.fail(TotalFailed, FormatFailure, "invalid ByteRange: "+strings.Join(br.Problems, "; "))
	}
	if brOK {
		v.coverage(&s, d)
	}
	if s.Type == "document_timestamp" {
		v.docTimestamp(&s, d, brOK)
		return s
	}
	if sd := formatChecking(&s, d); sd != nil {
		v.validate(&s, d, sd, brOK)
	}
	return s
}

// validate runs the building blocks (blocks.go) on a signature that passed format
// checking, then sets the long-term level and what the revision structure says.
func (v *verifier) validate(s *Signature, d sigDict, sd *signedData, brOK bool) {
	chk := cryptographicVerification(sd, v.signedBytes(d, brOK))
	s.Integrity = Integrity{DigestAlgorithm: chk.hashName, DigestMatches: chk.digestMatches && brOK, SignatureValid: chk.sigValid}
	if chk.sigAlg != x509.UnknownSignatureAlgorithm {
		s.Integrity.SignatureAlgorithm = chk.sigAlg.String()
	}
	switch chk.sub {
	case "":
	case HashFailure, SigCryptoFailure, FormatFailure:
		s.fail(TotalFailed, chk.sub, chk.err)
	default:
		s.fail(Indeterminate, chk.sub, chk.err)
	}
	tsPath, tsStatuses := v.signatureTimestamp(s, sd, brOK)
	tsOK := s.Timestamp != nil && s.Timestamp.Valid
	scv2, scv2Err := identifySigningCertificate(sd)
	signatureAcceptanceValidation(s, sd, d.subFilter, scv2, scv2Err, tsOK)
	if scv2Err != nil && sd.signerCert != nil {
		s.fail(Indeterminate, NoSigningCertificateFound, scv2Err.Error())
	}
	t, src := v.pastSignatureValidation(s, tsOK, brOK)
	path := v.x509Validation(s, sd, t, src, tsStatuses)
	if sd.signerCert != nil && s.Level == "B-T" {
		v.longTermLevel(s, path, tsPath)
	}
	s.VRIEntry = v.hasVRI(d.contents)
	if s.Coverage.SignedEnd > 0 && !s.Coverage.CoversRevision && brOK {
		s.fail(Indeterminate, FormatFailure, "the signed bytes do not end at the end of a revision (%%EOF)")
	}
	if ch := s.Changes; ch != nil {
		s.Warnings = append(s.Warnings, fmt.Sprintf("changes after signing: %d later revision(s), classified %q", ch.LaterRevisions, ch.Classification))
	}
}

// signatureTimestamp validates the signature timestamp (timestampValidation) at its
// proof of existence: the earliest document timestamp covering the signature, else the
// validation time. A TSA revoked before then sets the timestamp aside. It returns the
// TSA's path and revocation statuses.
func (v *verifier) signatureTimestamp(s *Signature, sd *signedData, brOK bool) ([]*x509.Certificate, []CertStatus) {
	a := cms.FindAttr(sd.si.UnsignedAttrs, cms.OIDAttrSignatureTimeStamp)
	if a == nil {
		return nil, nil
	}
	tsAt := v.at
	if p, _ := v.poe(s.Coverage.SignedEnd); brOK && !p.IsZero() {
		tsAt = p
	}
	var tsPath []*x509.Certificate
	var tsStatuses []CertStatus
	if len(a.Values) != 1 {
		s.Timestamp = &Timestamp{Error: "signature-time-stamp attribute must hold one token"}
	} else {
		s.Timestamp, tsPath = v.timestampValidation(a.Values[0], func(h crypto.Hash) []byte {
			hh := h.New()
			hh.Write(sd.si.Signature)
			return hh.Sum(nil)
		}, tsAt)
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
	return tsPath, tsStatuses
}

// docTimestamp verifies a document timestamp (/SubFilter /ETSI.RFC3161): /Contents is
// a TimeStampToken whose imprint covers the ByteRange bytes.
func (v *verifier) docTimestamp(s *Signature, d sigDict, brOK bool) {
	s.Level = "DocTimeStamp"
	// Its TSA is checked at its proof of existence: the next valid document timestamp,
	// else the validation time.
	at, src := v.at, "validation_time"
	if p, _ := v.poe(s.Coverage.SignedEnd); brOK && !p.IsZero() {
		at, src = p, "document_timestamp"
		s.ProofsOfExistence = v.poesFor(s.Coverage.SignedEnd)
	}
	ts, path := v.timestampValidation(d.contents, v.signedBytes(d, brOK), at)
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
			v.judgeRevocation(s, src)
		}
	}()
	switch {
	case !ts.SignatureValid && strings.HasPrefix(ts.Error, "token:"):
		s.fail(TotalFailed, FormatFailure, ts.Error)
	case !ts.ImprintMatches:
		s.fail(TotalFailed, HashFailure, "the document timestamp's imprint does not match the signed bytes")
	case !ts.SignatureValid:
		s.fail(TotalFailed, SigCryptoFailure, ts.Error)
	case !ts.ChainTrusted:
		s.Chain.Error = ts.Error
		s.fail(Indeterminate, NoCertificateChainFound, ts.Error)
	}
}
