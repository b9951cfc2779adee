package verify

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/digitorus/pdf"
	"github.com/motlan/motlan/internal/cms"
)

// Bounds on the validation data read from a file: a hostile DSS must not make Verify
// read, parse or check without limit.
const (
	maxEvidenceItem  = 1 << 20  // one certificate, OCSP response or CRL
	maxEvidenceItems = 256      // per kind (certificates, OCSP responses, CRLs)
	maxEvidenceBytes = 16 << 20 // all items together
	maxVRIEntries    = 1024
)

// Evidence sources, as reported in EvidenceRef.Source.
const (
	SourceDSS = "dss" // the catalog's /DSS /Certs, /OCSPs or /CRLs
	SourceVRI = "vri" // only in a /DSS /VRI entry
	SourceCMS = "cms" // the signature's CMS: certificates, crls or adbe-revocationInfoArchival
)

// oidAdbeRevocationInfo is Adobe's adbe-revocationInfoArchival signed attribute
// (1.2.840.113583.1.1.8), which PAdES-compatible signers use to carry CRLs and OCSP
// responses inside the CMS.
var oidAdbeRevocationInfo = asn1.ObjectIdentifier{1, 2, 840, 113583, 1, 1, 8}

type evidenceKind int

const (
	kindCert evidenceKind = iota
	kindOCSP
	kindCRL
)

// evItem is one certificate, OCSP response or CRL found in the file.
type evItem struct {
	kind   evidenceKind
	der    []byte
	sum    [32]byte
	source string
}

// evidencePool is the validation data of a file, de-duplicated by SHA-256.
type evidencePool struct {
	items []*evItem
	bySum map[[32]byte]*evItem
	bytes int
	certs []*x509.Certificate // parsed certificates of every source
	// full is set when a bound stopped the collection.
	full bool
}

func newPool() *evidencePool { return &evidencePool{bySum: map[[32]byte]*evItem{}} }

// add records der unless it is already known or a bound is reached. An item first seen
// in a VRI entry and later in the DSS arrays is reported as from the DSS.
func (p *evidencePool) add(kind evidenceKind, der []byte, source string) *evItem {
	if len(der) == 0 || len(der) > maxEvidenceItem {
		return nil
	}
	sum := sha256.Sum256(der)
	if it, ok := p.bySum[sum]; ok {
		if it.source == SourceVRI && source == SourceDSS {
			it.source = SourceDSS
		}
		return it
	}
	n := 0
	for _, it := range p.items {
		if it.kind == kind {
			n++
		}
	}
	if n >= maxEvidenceItems || p.bytes+len(der) > maxEvidenceBytes {
		p.full = true
		return nil
	}
	it := &evItem{kind: kind, der: der, sum: sum, source: source}
	p.items = append(p.items, it)
	p.bySum[sum] = it
	p.bytes += len(der)
	if kind == kindCert {
		if c, err := x509.ParseCertificate(der); err == nil {
			p.certs = append(p.certs, c)
		}
	}
	return it
}

// dssData is what one revision's /DSS holds.
type dssData struct {
	present bool
	certs   int
	ocsps   int
	crls    int
	vri     map[string]bool   // upper-case hex SHA-1 keys
	sums    map[[32]byte]bool // every item of the arrays and VRI entries
	items   []dssItem         // in order
	probs   []string          // problems found while reading
}

type dssItem struct {
	kind   evidenceKind
	der    []byte
	source string
}

// maxDSSProblems bounds the problems reported for one DSS.
const maxDSSProblems = 16

func (d *dssData) problem(p string) {
	switch {
	case len(d.probs) < maxDSSProblems:
		d.probs = append(d.probs, p)
	case len(d.probs) == maxDSSProblems:
		d.probs = append(d.probs, "more problems are not listed")
	}
}

// readDSS reads the /DSS of revision r: /Certs, /OCSPs, /CRLs and the /Cert, /OCSP,
// /CRL arrays of /VRI entries, every stream bounded by maxEvidenceItem and the whole by
// maxEvidenceBytes. It recovers the reader's panics.
func readDSS(r *pdf.Reader) (d dssData) {
	d.vri = map[string]bool{}
	d.sums = map[[32]byte]bool{}
	defer func() {
		if p := recover(); p != nil {
			d.problem(fmt.Sprintf("unreadable /DSS: %v", p))
		}
	}()
	dss := r.Trailer().Key("Root").Key("DSS")
	if dss.IsNull() {
		return d
	}
	if dss.Kind() != pdf.Dict {
		d.problem("/DSS is not a dictionary")
		return d
	}
	d.present = true
	total := 0
	readArray := func(arr pdf.Value, kind evidenceKind, source, name string) int {
		if arr.IsNull() {
			return 0
		}
		if arr.Kind() != pdf.Array {
			d.problem(name + " is not an array")
			return 0
		}
		n := 0
		for i := 0; i < arr.Len() && i < maxEvidenceItems; i++ {
			s := arr.Index(i)
			if s.Kind() != pdf.Stream {
				d.problem(fmt.Sprintf("%s[%d] is not a stream", name, i))
				continue
			}
			b, ok := readLimited(s, maxEvidenceItem)
			if !ok {
				d.problem(fmt.Sprintf("%s[%d] cannot be decoded or exceeds %d bytes", name, i, maxEvidenceItem))
				continue
			}
			if total+len(b) > maxEvidenceBytes {
				d.problem(fmt.Sprintf("the DSS holds more than %d bytes; the rest is ignored", maxEvidenceBytes))
				return n
			}
			total += len(b)
			d.sums[sha256.Sum256(b)] = true
			d.items = append(d.items, dssItem{kind: kind, der: b, source: source})
			n++
		}
		if arr.Len() > maxEvidenceItems {
			d.problem(fmt.Sprintf("%s holds more than %d items; the rest is ignored", name, maxEvidenceItems))
		}
		return n
	}
	d.certs = readArray(dss.Key("Certs"), kindCert, SourceDSS, "/DSS /Certs")
	d.ocsps = readArray(dss.Key("OCSPs"), kindOCSP, SourceDSS, "/DSS /OCSPs")
	d.crls = readArray(dss.Key("CRLs"), kindCRL, SourceDSS, "/DSS /CRLs")
	if vri := dss.Key("VRI"); vri.Kind() == pdf.Dict {
		keys := vri.Keys()
		sort.Strings(keys)
		for i, k := range keys {
			if i >= maxVRIEntries {
				d.problem(fmt.Sprintf("/VRI holds more than %d entries; the rest is ignored", maxVRIEntries))
				break
			}
			d.vri[strings.ToUpper(k)] = true
			e := vri.Key(k)
			if e.Kind() != pdf.Dict {
				continue
			}
			readArray(e.Key("Cert"), kindCert, SourceVRI, "/VRI /"+k+" /Cert")
			readArray(e.Key("OCSP"), kindOCSP, SourceVRI, "/VRI /"+k+" /OCSP")
			readArray(e.Key("CRL"), kindCRL, SourceVRI, "/VRI /"+k+" /CRL")
		}
	} else if !vri.IsNull() {
		d.problem("/DSS /VRI is not a dictionary")
	}
	return d
}

// vriKeys returns the /VRI keys that may name a signature whose /Contents holds
// contents: the upper-case hex SHA-1 of the bytes, with and without the zero padding
// after the DER (writers differ).
func vriKeys(contents []byte) []string {
	a := sha1.Sum(contents)
	keys := []string{strings.ToUpper(hex.EncodeToString(a[:]))}
	var raw asn1.RawValue
	if _, err := asn1.Unmarshal(contents, &raw); err == nil && len(raw.FullBytes) < len(contents) {
		b := sha1.Sum(raw.FullBytes)
		keys = append(keys, strings.ToUpper(hex.EncodeToString(b[:])))
	}
	return keys
}

// addCMSEvidence adds the certificates, the SignedData crls and the
// adbe-revocationInfoArchival CRLs and OCSP responses of a CMS to the pool.
func (p *evidencePool) addCMSEvidence(sd *signedData) {
	for _, c := range sd.Certificates {
		p.add(kindCert, c.Raw, SourceCMS)
	}
	for _, crl := range sd.CRLs[:min(len(sd.CRLs), maxEvidenceItems)] {
		p.add(kindCRL, crl, SourceCMS)
	}
	a := cms.FindAttr(sd.si.SignedAttrs, oidAdbeRevocationInfo)
	if a == nil || len(a.Values) != 1 {
		return
	}
	// RevocationInfoArchival ::= SEQUENCE { crl [0] EXPLICIT SEQUENCE OF CertificateList
	// OPTIONAL, ocsp [1] EXPLICIT SEQUENCE OF OCSPResponse OPTIONAL, otherRevInfo [2] ... }
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(a.Values[0], &seq); err != nil || seq.Tag != asn1.TagSequence {
		return
	}
	rest := seq.Bytes
	for len(rest) > 0 {
		var field asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &field); err != nil {
			return
		}
		if field.Class != asn1.ClassContextSpecific || (field.Tag != 0 && field.Tag != 1) {
			continue
		}
		var list asn1.RawValue
		if _, err := asn1.Unmarshal(field.Bytes, &list); err != nil {
			continue
		}
		items := list.Bytes
		for len(items) > 0 {
			var it asn1.RawValue
			if items, err = asn1.Unmarshal(items, &it); err != nil {
				break
			}
			if field.Tag == 0 {
				p.add(kindCRL, it.FullBytes, SourceCMS)
			} else {
				p.add(kindOCSP, it.FullBytes, SourceCMS)
			}
		}
	}
}

// dssSummary builds the report's DSS section from the final revision's DSS.
func dssSummary(d dssData) *DSS {
	if !d.present && len(d.probs) == 0 {
		return nil
	}
	return &DSS{Certs: d.certs, OCSPs: d.ocsps, CRLs: d.crls, VRIEntries: len(d.vri), Problems: d.probs}
}

func sumHex(s [32]byte) string { return hex.EncodeToString(s[:]) }

func containsDER(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range certs {
		if bytes.Equal(x.Raw, c.Raw) {
			return true
		}
	}
	return false
}
