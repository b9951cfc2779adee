package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/digitorus/pdf"
	"golang.org/x/crypto/ocsp"
)

// Evidence is the validation material AddDSS embeds: DER certificates, OCSP responses
// (the whole OCSPResponse, as RFC 6960 returns it) and CRLs, and optionally which of them
// validate which signature (VRI).
type Evidence struct {
	Certs [][]byte
	OCSPs [][]byte
	CRLs  [][]byte
	// VRI lists, per signature or document timestamp, the items that validate it. They
	// are written to the DSS arrays too when Certs, OCSPs or CRLs lack them.
	VRI []VRIEntry
}

// VRIEntry is the validation material of one signature or document timestamp, written as
// its signature VRI dictionary under /DSS /VRI (ETSI EN 319 142-1 5.4.2, ISO 32000-2
// 12.8.4.4).
type VRIEntry struct {
	// Contents is the signature dictionary's /Contents string as the PDF holds it: the
	// DER and the zero padding after it. The entry's key is VRIKey(Contents).
	Contents []byte
	// Certs, OCSPs and CRLs become the entry's /Cert, /OCSP and /CRL arrays: references
	// to the streams of /DSS /Certs, /OCSPs and /CRLs.
	Certs, OCSPs, CRLs [][]byte
	// Time, when not zero, is written as /TU: when the entry was made.
	Time time.Time
}

// VRIKey returns the /VRI key of a signature whose /Contents string holds contents: the
// upper-case hex SHA-1 of the string's bytes, zero padding included. The standards say
// "the SHA-1 digest of the signature"; the EU DSS library (the ETSI plugtests'
// reference) and pyHanko hash the whole /Contents value, as iText does for signatures
// (not for document timestamps, where it hashes the DER alone), and DSS looks the entry
// up by that key only, so we do the same. (signing/verify accepts either form.)
func VRIKey(contents []byte) string {
	sum := sha1.Sum(contents)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// maxEvidenceItem bounds one certificate, OCSP response or CRL (and what is read back of
// an existing DSS stream when de-duplicating).
const maxEvidenceItem = 8 << 20

// maxVRIEntries bounds Evidence.VRI (signing/verify reads no more than this many).
const maxVRIEntries = 1024

// AddDSS appends an incremental update that adds ev to the document security store
// (the catalog's /DSS, ETSI EN 319 142-1 5.4.2, ISO 32000-2 12.8.4.3): each item becomes
// a stream referenced from /Certs, /OCSPs or /CRLs. An existing /DSS is extended (its
// other entries, such as /VRI, are kept) and items it already holds are not added again.
// Each ev.VRI entry becomes the signature VRI dictionary under /DSS /VRI keyed by
// VRIKey: other keys of an existing /VRI are kept, and an existing entry for the same
// signature is extended with what it lacks. The original bytes are written unchanged, so
// earlier signatures stay valid. Nothing is written to out unless the update was built.
func AddDSS(ctx context.Context, in io.ReadSeeker, size int64, out io.Writer, ev Evidence) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ev, err := ev.withVRIItems()
	if err != nil {
		return err
	}
	if err := ev.check(); err != nil {
		return err
	}
	if size > DefaultMaxInputSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInputTooLarge, size, int64(DefaultMaxInputSize))
	}
	ra := asReaderAt(in)
	doc, err := openDocument(ra, size)
	if err != nil {
		return err
	}
	data, err := buildDSSIncrement(ctx, doc, ev)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return writeUpdated(out, ra, size, data)
}

// withVRIItems checks ev.VRI and returns ev with the VRI entries' items that Certs, OCSPs
// and CRLs lack appended to them.
func (ev Evidence) withVRIItems() (Evidence, error) {
	if len(ev.VRI) > maxVRIEntries {
		return ev, fmt.Errorf("%w: %d VRI entries, limit %d", ErrBadOptions, len(ev.VRI), maxVRIEntries)
	}
	out := Evidence{
		Certs: append([][]byte(nil), ev.Certs...),
		OCSPs: append([][]byte(nil), ev.OCSPs...),
		CRLs:  append([][]byte(nil), ev.CRLs...),
		VRI:   ev.VRI,
	}
	if len(ev.VRI) == 0 {
		return out, nil
	}
	// Each item is parsed once by check, however many entries name it.
	seen := map[[32]byte]bool{}
	for _, l := range [][][]byte{ev.Certs, ev.OCSPs, ev.CRLs} {
		for _, it := range l {
			seen[sha256.Sum256(it)] = true
		}
	}
	add := func(to *[][]byte, items [][]byte) {
		for _, it := range items {
			if sum := sha256.Sum256(it); !seen[sum] {
				seen[sum] = true
				*to = append(*to, it)
			}
		}
	}
	for i, e := range ev.VRI {
		if len(e.Contents) == 0 || len(e.Contents) > maxEvidenceItem {
			return ev, fmt.Errorf("%w: VRI entry %d: /Contents of %d bytes", ErrBadOptions, i, len(e.Contents))
		}
		if len(e.Certs)+len(e.OCSPs)+len(e.CRLs) == 0 {
			return ev, fmt.Errorf("%w: VRI entry %d holds no evidence", ErrBadOptions, i)
		}
		add(&out.Certs, e.Certs)
		add(&out.OCSPs, e.OCSPs)
		add(&out.CRLs, e.CRLs)
	}
	return out, nil
}

func (ev Evidence) check() error {
	if len(ev.Certs)+len(ev.OCSPs)+len(ev.CRLs) == 0 {
		return fmt.Errorf("%w: no evidence", ErrBadOptions)
	}
	for i, c := range ev.Certs {
		if len(c) > maxEvidenceItem {
			return fmt.Errorf("%w: certificate %d too large", ErrBadOptions, i)
		}
		if _, err := x509.ParseCertificate(c); err != nil {
			return fmt.Errorf("%w: certificate %d: %v", ErrBadOptions, i, err)
		}
	}
	for i, o := range ev.OCSPs {
		if len(o) > maxEvidenceItem {
			return fmt.Errorf("%w: OCSP response %d too large", ErrBadOptions, i)
		}
		// Parsed without an issuer: the structure is checked, not the signature.
		if _, err := ocsp.ParseResponse(o, nil); err != nil {
			return fmt.Errorf("%w: OCSP response %d: %v", ErrBadOptions, i, err)
		}
	}
	for i, c := range ev.CRLs {
		if len(c) > maxEvidenceItem {
			return fmt.Errorf("%w: CRL %d too large", ErrBadOptions, i)
		}
		if _, err := x509.ParseRevocationList(c); err != nil {
			return fmt.Errorf("%w: CRL %d: %v", ErrBadOptions, i, err)
		}
	}
	return nil
}

// buildDSSIncrement writes the evidence streams, the new or replaced /DSS dictionary (and
// the catalog when /DSS was absent or direct), and the cross-reference section.
func buildDSSIncrement(ctx context.Context, d *document, ev Evidence) (data []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			data, err = nil, fmt.Errorf("%w: %v", ErrInvalidPDF, p)
		}
	}()
	w := &objWriter{base: d.size, offsets: map[ref]int64{}, next: d.nextID}
	if d.needsEOL {
		w.buf.WriteByte('\n')
	}

	dss := d.root.Key("DSS")
	if !dss.IsNull() && dss.Kind() != pdf.Dict {
		return nil, fmt.Errorf("%w: /DSS is not a dictionary", ErrInvalidPDF)
	}
	dssRef := refOf(dss)
	indirect := dss.Kind() == pdf.Dict && dssRef != d.rootRef && dssRef.id != 0

	dg := &digester{}
	override := map[string]func(*bytes.Buffer) error{}
	// refs maps each item, by SHA-256, to its stream in the DSS arrays (old or new), so
	// the VRI entries reference the same streams.
	refs := map[string]map[[32]byte]ref{}
	for _, k := range []struct {
		key   string
		items [][]byte
	}{{"Certs", ev.Certs}, {"OCSPs", ev.OCSPs}, {"CRLs", ev.CRLs}} {
		old := dss.Key(k.key)
		have := dg.digests(old)
		refs[k.key] = have
		var added []ref
		for _, item := range k.items {
			sum := sha256.Sum256(item)
			if _, ok := have[sum]; ok {
				continue
			}
			r := w.alloc()
			have[sum] = r
			w.putStream(r, "", item)
			added = append(added, r)
		}
		if len(added) == 0 {
			continue
		}
		override[k.key] = func(b *bytes.Buffer) error { return writeArrayAppend(b, old, refOf(old), added...) }
	}
	vriRef, err := buildVRI(ctx, w, dg, dss.Key("VRI"), ev.VRI, refs)
	if err != nil {
		return nil, err
	}
	if vriRef.id != 0 {
		override["VRI"] = func(b *bytes.Buffer) error { b.WriteString(vriRef.String()); return nil }
	}
	if len(override) == 0 {
		return nil, fmt.Errorf("%w: the DSS already holds all this evidence", ErrBadOptions)
	}

	var db bytes.Buffer
	if dss.Kind() == pdf.Dict {
		container := d.rootRef
		if indirect {
			container = dssRef
		}
		if err := writeDictExcept(&db, dss, container, override); err != nil {
			return nil, err
		}
	} else {
		db.WriteString("<< /Type /DSS")
		for _, k := range []string{"Certs", "OCSPs", "CRLs", "VRI"} {
			if f := override[k]; f != nil {
				fmt.Fprintf(&db, " /%s ", k)
				if err := f(&db); err != nil {
					return nil, err
				}
			}
		}
		db.WriteString(" >>")
	}
	if indirect {
		w.put(dssRef, db.Bytes())
	} else {
		newRef := w.alloc()
		w.put(newRef, db.Bytes())
		var cb bytes.Buffer
		if err := writeDictExcept(&cb, d.root, d.rootRef, map[string]func(*bytes.Buffer) error{
			"DSS": func(b *bytes.Buffer) error { b.WriteString(newRef.String()); return nil },
		}); err != nil {
			return nil, err
		}
		w.put(d.rootRef, cb.Bytes())
	}
	if err := writeXref(w, d); err != nil {
		return nil, err
	}
	return w.buf.Bytes(), nil
}

// maxDigestBytes bounds what is decoded of existing DSS streams, in all, to de-duplicate.
const maxDigestBytes = 128 << 20

// digester hashes existing DSS streams, each object once and no more than maxDigestBytes
// decoded in all: a hostile DSS (thousands of references to a stream that inflates to
// maxEvidenceItem) costs bounded work. A stream past the budget counts as unknown, so at
// worst an item is stored again.
type digester struct {
	sums  map[ref]*[32]byte // nil: unreadable
	spent int64
}

// digests maps the SHA-256 of each decoded stream in array arr to the stream's
// reference, so evidence already in the DSS is not added twice and VRI entries can
// point at it. Streams that cannot be read are skipped.
func (dg *digester) digests(arr pdf.Value) map[[32]byte]ref {
	have := map[[32]byte]ref{}
	if arr.Kind() != pdf.Array {
		return have
	}
	if dg.sums == nil {
		dg.sums = map[ref]*[32]byte{}
	}
	for i := 0; i < arr.Len() && i < 1<<16; i++ {
		func() {
			defer func() { _ = recover() }()
			s := arr.Index(i)
			if s.Kind() != pdf.Stream {
				return
			}
			r := refOf(s)
			sum, done := dg.sums[r]
			if !done {
				dg.sums[r] = nil // if hash panics, the stream stays unreadable
				sum = dg.hash(s)
				dg.sums[r] = sum
			}
			if sum == nil {
				return
			}
			if _, ok := have[*sum]; !ok {
				have[*sum] = r
			}
		}()
	}
	return have
}

func (dg *digester) hash(s pdf.Value) *[32]byte {
	left := maxDigestBytes - dg.spent
	if left <= 0 {
		return nil
	}
	rc := s.Reader()
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(rc, min(left, maxEvidenceItem+1)))
	dg.spent += n
	if err != nil || n > maxEvidenceItem || n == left {
		return nil
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return &sum
}

// docTimestampReserve is the number of DER bytes reserved for a document timestamp token.
const docTimestampReserve = DefaultTimestampReserve

// AddDocumentTimestamp appends an incremental update with a document timestamp
// (ETSI EN 319 142-1 5.4.3): a signature dictionary /Type /DocTimeStamp, /SubFilter
// /ETSI.RFC3161, whose /Contents is the RFC 3161 token tsa returns for the SHA-256 of the
// ByteRange, in a new invisible signature field. After AddDSS this makes B-LTA. tsa is
// called exactly once. Nothing is written to out unless it succeeded.
func AddDocumentTimestamp(ctx context.Context, in io.ReadSeeker, size int64, out io.Writer, tsa TimestampFunc) error {
	if tsa == nil {
		return fmt.Errorf("%w: no Timestamp function", ErrBadOptions)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if size > DefaultMaxInputSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInputTooLarge, size, int64(DefaultMaxInputSize))
	}
	ra := asReaderAt(in)
	doc, err := openDocument(ra, size)
	if err != nil {
		return err
	}
	inc, err := buildDocTimestampIncrement(doc, docTimestampReserve)
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(ra, 0, size)); err != nil {
		return fmt.Errorf("pades: reading input: %w", err)
	}
	h.Write(inc.data[:inc.contentsStart])
	h.Write(inc.data[inc.contentsEnd:])
	digest := h.Sum(nil)

	tok, err := tsa(ctx, digest, crypto.SHA256)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrTimestamp, err)
	}
	if err := checkToken(tok, digest); err != nil {
		return err
	}
	if len(tok) > docTimestampReserve {
		return &ContentsOverflowError{Reserved: docTimestampReserve, Needed: len(tok)}
	}
	hex.Encode(inc.data[inc.contentsStart+1:], tok)
	return writeUpdated(out, ra, size, inc.data)
}

// buildDocTimestampIncrement writes the /DocTimeStamp dictionary with reserved bytes of
// zeroed /Contents, an invisible field/widget on the first page, the updated page (or
// /Annots), AcroForm and catalog, and the cross-reference section.
func buildDocTimestampIncrement(d *document, reserved int) (inc *increment, err error) {
	defer func() {
		if p := recover(); p != nil {
			inc, err = nil, fmt.Errorf("%w: %v", ErrInvalidPDF, p)
		}
	}()
	w := &objWriter{base: d.size, offsets: map[ref]int64{}, next: d.nextID}
	if d.needsEOL {
		w.buf.WriteByte('\n')
	}
	page := d.pages[0]
	pageRef := refOf(page)
	sigRef := w.alloc()
	widgetRef := w.alloc()

	w.begin(sigRef)
	b := &w.buf
	b.WriteString("<< /Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161\n")
	byteRangeAt, contentsStart, contentsEnd := writePlaceholders(b, reserved)
	w.end()

	acro := d.root.Key("AcroForm")
	var wd bytes.Buffer
	wd.WriteString("<< /Type /Annot /Subtype /Widget /FT /Sig ")
	writeTextField(&wd, "T", uniqueFieldName(acro.Key("Fields")))
	fmt.Fprintf(&wd, "/V %s /P %s /F 132 /Rect [0 0 0 0] >>", sigRef, pageRef)
	return finishIncrement(w, d, page, widgetRef, wd.Bytes(), byteRangeAt, contentsStart, contentsEnd)
}

// addFieldToPageAndForm adds widgetRef to the page's /Annots and the AcroForm's /Fields
// (with /SigFlags 3), as buildIncrement does for a signature.
func addFieldToPageAndForm(w *objWriter, d *document, page pdf.Value, widgetRef ref) error {
	pageRef := refOf(page)
	annots := page.Key("Annots")
	if annots.Kind() == pdf.Array && refOf(annots) != pageRef {
		var ab bytes.Buffer
		if err := writeArrayAppend(&ab, annots, refOf(annots), widgetRef); err != nil {
			return err
		}
		w.put(refOf(annots), ab.Bytes())
	} else {
		var pb bytes.Buffer
		if err := writeDictExcept(&pb, page, pageRef, map[string]func(*bytes.Buffer) error{
			"Annots": func(b *bytes.Buffer) error { return writeArrayAppend(b, annots, pageRef, widgetRef) },
		}); err != nil {
			return err
		}
		w.put(pageRef, pb.Bytes())
	}

	acro := d.root.Key("AcroForm")
	fields := acro.Key("Fields")
	acroOverride := func(container ref) map[string]func(*bytes.Buffer) error {
		return map[string]func(*bytes.Buffer) error{
			"Fields": func(b *bytes.Buffer) error {
				if fields.Kind() == pdf.Array && refOf(fields) != container {
					var fb bytes.Buffer
					if err := writeArrayAppend(&fb, fields, refOf(fields), widgetRef); err != nil {
						return err
					}
					w.put(refOf(fields), fb.Bytes())
					b.WriteString(refOf(fields).String())
					return nil
				}
				return writeArrayAppend(b, fields, container, widgetRef)
			},
			"SigFlags": func(b *bytes.Buffer) error { b.WriteString("3"); return nil },
		}
	}
	if acro.Kind() == pdf.Dict && refOf(acro) != d.rootRef {
		var ab bytes.Buffer
		if err := writeDictExcept(&ab, acro, refOf(acro), acroOverride(refOf(acro))); err != nil {
			return err
		}
		w.put(refOf(acro), ab.Bytes())
		return nil
	}
	acroRef := w.alloc()
	var ab bytes.Buffer
	if err := writeDictExcept(&ab, acro, d.rootRef, acroOverride(d.rootRef)); err != nil {
		return err
	}
	w.put(acroRef, ab.Bytes())
	var cb bytes.Buffer
	if err := writeDictExcept(&cb, d.root, d.rootRef, map[string]func(*bytes.Buffer) error{
		"AcroForm": func(b *bytes.Buffer) error { b.WriteString(acroRef.String()); return nil },
	}); err != nil {
		return err
	}
	w.put(d.rootRef, cb.Bytes())
	return nil
}

// writeUpdated writes the original size bytes of ra, then the increment.
func writeUpdated(out io.Writer, ra io.ReaderAt, size int64, inc []byte) error {
	if _, err := io.Copy(out, io.NewSectionReader(ra, 0, size)); err != nil {
		return fmt.Errorf("pades: writing output: %w", err)
	}
	if _, err := out.Write(inc); err != nil {
		return fmt.Errorf("pades: writing output: %w", err)
	}
	return nil
}
