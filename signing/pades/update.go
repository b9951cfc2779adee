package pades

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"time"
	"unicode/utf16"

	"github.com/motlan/motlan/internal/pdf"
)

// increment is the incremental update appended to the input. data[contentsStart] is the
// '<' of the /Contents hex string and data[contentsEnd-1] its '>'.
type increment struct {
	data                       []byte
	contentsStart, contentsEnd int
}

// objWriter lays out new and replaced objects after the original's base bytes.
type objWriter struct {
	base    int64 // size of the original
	buf     bytes.Buffer
	offsets map[ref]int64
	next    uint32
	// enc is the document's encryption (nil when it has none); cur and objStart are the
	// object being written and where its body starts in buf, for sealStrings.
	enc      *pdf.Encryption
	cur      ref
	objStart int
}

func (w *objWriter) alloc() ref {
	r := ref{id: w.next}
	w.next++
	return r
}

func (w *objWriter) begin(r ref) {
	w.offsets[r] = w.base + int64(w.buf.Len())
	fmt.Fprintf(&w.buf, "%d %d obj\n", r.id, r.gen)
	w.cur, w.objStart = r, w.buf.Len()
}

func (w *objWriter) end() {
	w.sealStrings()
	w.buf.WriteString("\nendobj\n")
}

func (w *objWriter) put(r ref, body []byte) {
	w.begin(r)
	w.buf.Write(body)
	w.end()
}

func (w *objWriter) putStream(r ref, dict string, data []byte) {
	w.putStreamAs(r, dict, w.sealStream(r, data), true)
}

// putStreamAs writes stream r with data as given; seal seals the dictionary's strings
// (a cross-reference stream is never encrypted).
func (w *objWriter) putStreamAs(r ref, dict string, data []byte, seal bool) {
	w.begin(r)
	fmt.Fprintf(&w.buf, "<<%s /Length %d>>", dict, len(data))
	if seal {
		w.sealStrings()
	}
	w.buf.WriteString("\nstream\n")
	w.buf.Write(data)
	w.buf.WriteString("\nendstream\nendobj\n")
}

const byteRangeWidth = 64

// buildIncrement writes the signature dictionary (with a zeroed /Contents of reserved
// bytes), the field and widget, the updated page, AcroForm and catalog, and the
// cross-reference section and trailer.
func buildIncrement(d *document, opt *Options, reserved int) (inc *increment, err error) {
	defer func() {
		if p := recover(); p != nil {
			inc, err = nil, fmt.Errorf("%w: %v", ErrInvalidPDF, p)
		}
	}()
	w := newObjWriter(d)

	pageNo := 1
	if opt.Appearance != nil && opt.Appearance.Page > 0 {
		pageNo = opt.Appearance.Page
	}
	if pageNo > len(d.pages) {
		return nil, fmt.Errorf("%w: page %d of %d", ErrBadOptions, pageNo, len(d.pages))
	}
	page := d.pages[pageNo-1]
	pageRef := refOf(page)

	sigRef := w.alloc()
	widgetRef := w.alloc()

	// Signature dictionary.
	w.begin(sigRef)
	b := &w.buf
	b.WriteString("<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached\n")
	// The placeholders come first: sealing an encrypted document's strings changes
	// their length, and with it every offset after them.
	byteRangeAt, contentsStart, contentsEnd := writePlaceholdersOpen(b, reserved)
	fmt.Fprintf(b, "\n/M (%s)\n", pdfDate(opt.Time))
	writeTextField(b, "Name", opt.SignerName)
	writeTextField(b, "Reason", opt.Reason)
	writeTextField(b, "Location", opt.Location)
	writeTextField(b, "ContactInfo", opt.ContactInfo)
	b.WriteString(">>")
	w.end()

	// Field merged with its widget annotation.
	rect := [4]float64{}
	var apRef *ref
	if a := opt.Appearance; a != nil {
		r, grown, err := writeAppearance(w, opt)
		if err != nil {
			return nil, err
		}
		rect, apRef = grown, &r
	}
	acro := d.root.Key("AcroForm")
	name := opt.FieldName
	if name == "" {
		name = uniqueFieldName(acro.Key("Fields"))
	}
	var wd bytes.Buffer
	wd.WriteString("<< /Type /Annot /Subtype /Widget /FT /Sig ")
	writeTextField(&wd, "T", name)
	fmt.Fprintf(&wd, "/V %s /P %s /F 132 /Rect [%s %s %s %s]", sigRef, pageRef, num(rect[0]), num(rect[1]), num(rect[2]), num(rect[3]))
	if apRef != nil {
		fmt.Fprintf(&wd, " /AP << /N %s >>", *apRef)
	}
	wd.WriteString(" >>")
	return finishIncrement(w, d, page, widgetRef, wd.Bytes(), byteRangeAt, contentsStart, contentsEnd)
}

// finishIncrement stores the widget, adds the field to its page and the AcroForm, writes
// the cross-reference section and fills in the /ByteRange around /Contents. Signatures and
// document timestamps end the same way.
func finishIncrement(w *objWriter, d *document, page pdf.Value, widgetRef ref, widget []byte, byteRangeAt, contentsStart, contentsEnd int) (*increment, error) {
	w.put(widgetRef, widget)
	if err := addFieldToPageAndForm(w, d, page, widgetRef); err != nil {
		return nil, err
	}
	if err := writeXref(w, d); err != nil {
		return nil, err
	}
	data := w.buf.Bytes()
	total := w.base + int64(len(data))
	a := w.base + int64(contentsStart)
	c := w.base + int64(contentsEnd)
	br := fmt.Sprintf("[0 %d %d %d]", a, c, total-c)
	if len(br) > byteRangeWidth {
		return nil, fmt.Errorf("pades: byte range too wide")
	}
	copy(data[byteRangeAt:], br)
	return &increment{data: data, contentsStart: contentsStart, contentsEnd: contentsEnd}, nil
}

// writeXref writes a cross-reference section of the input's kind, the trailer and %%EOF.
func writeXref(w *objWriter, d *document) error {
	var trailer bytes.Buffer
	var xrefRef ref
	if d.xrefStream {
		xrefRef = w.alloc()
	}
	size := int64(w.next)
	fmt.Fprintf(&trailer, "/Size %d /Root %s /Prev %d", size, d.rootRef, d.prevXref)
	tref := refOf(d.trailer)
	for _, k := range []string{"Info", "ID", "Encrypt"} {
		v := d.trailer.Key(k)
		if v.IsNull() {
			continue
		}
		fmt.Fprintf(&trailer, " /%s ", k)
		if err := writeValue(&trailer, v, tref, 0); err != nil {
			return err
		}
	}

	xrefAt := w.base + int64(w.buf.Len())
	if d.xrefStream {
		w.offsets[xrefRef] = xrefAt
	}
	refs := make([]ref, 0, len(w.offsets))
	for r := range w.offsets {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].id < refs[j].id })
	// Subsections of consecutive object numbers.
	var runs [][]ref
	for i, r := range refs {
		if i == 0 || r.id != refs[i-1].id+1 {
			runs = append(runs, nil)
		}
		runs[len(runs)-1] = append(runs[len(runs)-1], r)
	}

	if !d.xrefStream {
		w.buf.WriteString("xref\n")
		for _, run := range runs {
			fmt.Fprintf(&w.buf, "%d %d\n", run[0].id, len(run))
			for _, r := range run {
				fmt.Fprintf(&w.buf, "%010d %05d n\r\n", w.offsets[r], r.gen)
			}
		}
		fmt.Fprintf(&w.buf, "trailer\n<< %s >>\n", trailer.String())
	} else {
		offW := 4
		if xrefAt >= 1<<32 {
			offW = 8
		}
		var index bytes.Buffer
		var rows []byte
		for _, run := range runs {
			fmt.Fprintf(&index, "%d %d ", run[0].id, len(run))
			for _, r := range run {
				rows = append(rows, 1)
				var o [8]byte
				binary.BigEndian.PutUint64(o[:], uint64(w.offsets[r]))
				rows = append(rows, o[8-offW:]...)
				rows = append(rows, byte(r.gen>>8), byte(r.gen))
			}
		}
		dict := fmt.Sprintf(" /Type /XRef %s /Index [%s] /W [1 %d 2]", trailer.String(), bytes.TrimSpace(index.Bytes()), offW)
		w.putStreamAs(xrefRef, dict, rows, false)
	}
	fmt.Fprintf(&w.buf, "startxref\n%d\n%%%%EOF\n", xrefAt)
	return nil
}

// uniqueFieldName returns "SignatureN" not used by a top-level field.
func uniqueFieldName(fields pdf.Value) string {
	used := map[string]bool{}
	for i := 0; i < fields.Len() && i < 1<<16; i++ {
		used[fields.Index(i).Key("T").Text()] = true
	}
	for n := 1; ; n++ {
		s := "Signature" + strconv.Itoa(n)
		if !used[s] {
			return s
		}
	}
}

// pdfDate formats t as a PDF date in Vietnam time.
func pdfDate(t time.Time) string {
	return t.In(vietnam).Format("D:20060102150405-07'00'")
}

// writeTextField writes "/Key <FEFF...> " with s as a UTF-16BE hex text string, which
// needs no escaping (unlike literal strings, where U+0128/U+0129 hold bare parentheses).
func writeTextField(b *bytes.Buffer, key, s string) {
	if s == "" {
		return
	}
	fmt.Fprintf(b, "/%s %s\n", key, hexText(s))
}

func hexText(s string) string {
	u := utf16.Encode([]rune(s))
	raw := make([]byte, 2, 2+2*len(u))
	raw[0], raw[1] = 0xFE, 0xFF
	for _, c := range u {
		raw = append(raw, byte(c>>8), byte(c))
	}
	return "<" + hex.EncodeToString(raw) + ">"
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// writeDictExcept writes dict v (whose indirect-ness is judged against container) with
// the keys in override written by their functions (added when absent).
func writeDictExcept(b *bytes.Buffer, v pdf.Value, container ref, override map[string]func(*bytes.Buffer) error) error {
	b.WriteString("<<")
	for _, k := range v.Keys() {
		if _, ok := override[k]; ok {
			continue
		}
		b.WriteString(" ")
		writeName(b, k)
		b.WriteString(" ")
		if err := writeValue(b, v.Key(k), container, 1); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(override))
	for k := range override {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(" ")
		writeName(b, k)
		b.WriteString(" ")
		if err := override[k](b); err != nil {
			return err
		}
	}
	b.WriteString(" >>")
	return nil
}

// writePlaceholders ends a signature dictionary with /ByteRange and /Contents reserved
// (reserved bytes, hex) and returns where they are, for the finisher to fill in.
func writePlaceholders(b *bytes.Buffer, reserved int) (byteRangeAt, contentsStart, contentsEnd int) {
	byteRangeAt, contentsStart, contentsEnd = writePlaceholdersOpen(b, reserved)
	b.WriteString("\n>>")
	return byteRangeAt, contentsStart, contentsEnd
}

// writePlaceholdersOpen is writePlaceholders leaving the dictionary open.
func writePlaceholdersOpen(b *bytes.Buffer, reserved int) (byteRangeAt, contentsStart, contentsEnd int) {
	b.WriteString("/ByteRange ")
	byteRangeAt = b.Len()
	b.Write(bytes.Repeat([]byte{' '}, byteRangeWidth))
	b.WriteString("\n/Contents ")
	contentsStart = b.Len()
	b.WriteByte('<')
	b.Write(bytes.Repeat([]byte{'0'}, 2*reserved))
	b.WriteByte('>')
	contentsEnd = b.Len()
	return byteRangeAt, contentsStart, contentsEnd
}

// writeArrayAppend writes array v (or an empty one when v is not an array) with rs added.
func writeArrayAppend(b *bytes.Buffer, v pdf.Value, container ref, rs ...ref) error {
	b.WriteString("[")
	if v.Kind() == pdf.Array {
		for i := 0; i < v.Len(); i++ {
			if err := writeValue(b, v.Index(i), container, 1); err != nil {
				return err
			}
			b.WriteString(" ")
		}
	}
	for i, r := range rs {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(r.String())
	}
	b.WriteString("]")
	return nil
}

// writeValue serializes v. A value whose object reference differs from container was
// reached through an indirect reference and is written as one.
func writeValue(b *bytes.Buffer, v pdf.Value, container ref, depth int) error {
	if depth > 64 {
		return fmt.Errorf("%w: objects nested too deep", ErrInvalidPDF)
	}
	if v.IsNull() {
		b.WriteString("null")
		return nil
	}
	if r := refOf(v); r != container {
		if r.id == 0 {
			b.WriteString("null")
			return nil
		}
		b.WriteString(r.String())
		return nil
	}
	switch v.Kind() {
	case pdf.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case pdf.Integer:
		b.WriteString(strconv.FormatInt(v.Int64(), 10))
	case pdf.Real:
		b.WriteString(num(v.Float64()))
	case pdf.String:
		b.WriteString("<")
		b.WriteString(hex.EncodeToString([]byte(v.RawString())))
		b.WriteString(">")
	case pdf.Name:
		writeName(b, v.Name())
	case pdf.Array:
		b.WriteString("[")
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b.WriteString(" ")
			}
			if err := writeValue(b, v.Index(i), container, depth+1); err != nil {
				return err
			}
		}
		b.WriteString("]")
	case pdf.Dict:
		b.WriteString("<<")
		for _, k := range v.Keys() {
			b.WriteString(" ")
			writeName(b, k)
			b.WriteString(" ")
			if err := writeValue(b, v.Key(k), container, depth+1); err != nil {
				return err
			}
		}
		b.WriteString(" >>")
	default:
		return fmt.Errorf("%w: unexpected direct %v", ErrInvalidPDF, v.Kind())
	}
	return nil
}

// writeName writes /name, escaping delimiters, white space and non-ASCII bytes as #xx.
func writeName(b *bytes.Buffer, n string) {
	b.WriteByte('/')
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < 0x21 || c > 0x7e || bytes.IndexByte([]byte("#()<>[]{}/%"), c) >= 0 {
			fmt.Fprintf(b, "#%02X", c)
			continue
		}
		b.WriteByte(c)
	}
}
