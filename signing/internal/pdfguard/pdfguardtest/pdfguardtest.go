// Package pdfguardtest builds small hand-made PDFs for tests: well-formed ones and
// hostile ones on which github.com/digitorus/pdf, unguarded, hangs, spins, recurses
// until the stack overflows or allocates without bound.
package pdfguardtest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
)

// Case is one named input.
type Case struct {
	Name string
	PDF  []byte
}

// ReaderEnds reports a hostile case internal/pdf ends by itself (it panics, and callers
// recover) when the object is resolved, so Open need not reject it: /Extends cycles, and
// names spelled with escapes, which a scan of the bytes does not see.
func (c Case) ReaderEnds() bool {
	return strings.HasPrefix(c.Name, "/Extends") || strings.HasSuffix(c.Name, "escaped name")
}

const (
	catalog = "<< /Type /Catalog /Pages 2 0 R >>"
	pages   = "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
	page    = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"
)

// Classic writes objects 1..len(objs) with a classic cross-reference table and a
// trailer << /Size n /Root 1 0 R extra >>.
func Classic(objs []string, extra string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, extra, xref)
	return b.Bytes()
}

// Stream returns an uncompressed stream object with dictionary entries dict.
func Stream(dict, data string) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// ObjStm returns an uncompressed object stream holding objs (object number to body);
// extra goes into its dictionary.
func ObjStm(objs map[int]string, extra string) string {
	ids := make([]int, 0, len(objs))
	for id := range objs {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	var head, body strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&head, "%d %d ", id, body.Len())
		body.WriteString(objs[id])
		body.WriteString("\n")
	}
	h := head.String()
	return Stream(fmt.Sprintf("/Type /ObjStm /N %d /First %d%s", len(ids), len(h), extra), h+body.String())
}

// InStream places an object in an object stream: in the cross-reference stream it is a
// type 2 entry (stream Stm, index Idx).
type InStream struct{ Stm, Idx int }

// XrefStream writes the plain objects and a cross-reference stream (the last object)
// that also lists the compressed ones; the trailer entries are /Root 1 0 R plus extra.
func XrefStream(plain map[int]string, compressed map[int]InStream, extra string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
	n := 0
	for id := range plain {
		n = max(n, id)
	}
	for id := range compressed {
		n = max(n, id)
	}
	offs := map[int]int{}
	for id := 1; id <= n; id++ {
		if body, ok := plain[id]; ok {
			offs[id] = b.Len()
			fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", id, body)
		}
	}
	xrefID := n + 1
	offs[xrefID] = b.Len()
	var rows bytes.Buffer
	for id := 0; id <= xrefID; id++ {
		row := make([]byte, 7)
		if c, ok := compressed[id]; ok {
			row[0] = 2
			binary.BigEndian.PutUint32(row[1:5], uint32(c.Stm))
			binary.BigEndian.PutUint16(row[5:7], uint16(c.Idx))
		} else if off, ok := offs[id]; ok {
			row[0] = 1
			binary.BigEndian.PutUint32(row[1:5], uint32(off))
		} else if id == 0 {
			binary.BigEndian.PutUint16(row[5:7], 0xffff)
		}
		rows.Write(row)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(rows.Bytes())
	zw.Close()
	fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", xrefID,
		Stream(fmt.Sprintf("/Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Filter /FlateDecode%s", xrefID+1, extra), z.String()))
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", offs[xrefID])
	return b.Bytes()
}

// Valid returns well-formed one-page PDFs: a classic cross-reference table, and a
// cross-reference stream with the catalog in an object stream.
func Valid() []Case {
	return []Case{
		{"classic", Classic([]string{catalog, pages, page}, "")},
		{"object stream", XrefStream(
			map[int]string{2: pages, 3: page, 4: ObjStm(map[int]string{1: catalog}, "")},
			map[int]InStream{1: {4, 0}}, "")},
		// A name spelled with an escape (#53 is S), which pdfguard once refused.
		{"escaped name", Classic([]string{"<< /Type /Catalog /Pages 2 0 R /#53ize 3 >>", pages, page}, "")},
		// An object stream that extends another (qpdf reads it without a warning).
		{"object stream with /Extends", XrefStream(
			map[int]string{2: pages, 3: page, 4: ObjStm(map[int]string{1: catalog}, " /Extends 5 0 R"), 5: ObjStm(map[int]string{9: "null"}, "")},
			map[int]InStream{1: {4, 0}, 9: {5, 0}}, "")},
	}
}

// catalogIn returns a PDF whose catalog (object 1) is in object stream 4, holding objs
// (object 1 included) with extra in its dictionary.
func catalogIn(objs map[int]string, extra string) []byte {
	return XrefStream(map[int]string{2: pages, 3: page, 4: ObjStm(objs, extra)}, map[int]InStream{1: {4, 0}}, "")
}

// Hostile returns inputs the unguarded reader hangs, spins, crashes or exhausts memory
// on when a caller resolves the catalog or the pages. Each must be rejected.
func Hostile() []Case {
	deep := strings.Repeat("[", 100000)
	return []Case{
		// readArray loops forever on an "endobj" it cannot read as an object, growing
		// the array.
		{"array meets endobj in the catalog", Classic([]string{"<< /Type /Catalog /Pages 2 0 R /A [1 2", pages, page}, "")},
		{"array meets endobj in a page", Classic([]string{catalog, pages, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842"}, "")},
		{"array meets endobj in a nested dictionary", Classic([]string{"<< /Type /Catalog /Pages 2 0 R /D << /K [ (x) /Y", pages, page}, "")},
		// Object streams are read with a buffer that returns '\n' forever at their end.
		{"unterminated array at the end of an object stream", catalogIn(map[int]string{1: "<< /Type /Catalog /Pages 2 0 R /A [1 2"}, "")},
		{"unterminated literal string at the end of an object stream", catalogIn(map[int]string{1: "<< /Type /Catalog /Pages 2 0 R /A (abc"}, "")},
		{"unterminated hex string at the end of an object stream", catalogIn(map[int]string{1: "<< /Type /Catalog /Pages 2 0 R /A <41 42"}, "")},
		{"array meets endobj in an object stream", catalogIn(map[int]string{1: "<< /Type /Catalog /Pages 2 0 R /A [1 2 endobj >>"}, "")},
		// The object stream's own entry says it lives in an object stream (itself).
		{"object stream inside itself", XrefStream(
			map[int]string{2: pages, 3: page},
			map[int]InStream{1: {4, 0}, 4: {4, 1}}, "")},
		{"object stream inside another object stream", XrefStream(
			map[int]string{2: pages, 3: page, 5: ObjStm(map[int]string{4: ObjStm(map[int]string{1: catalog}, "")}, "")},
			map[int]InStream{1: {4, 0}, 4: {5, 0}}, "")},
		// Object 1 is not in stream 4, which extends itself: the reader cycles.
		{"/Extends cycle", catalogIn(map[int]string{9: "null"}, " /Extends 4 0 R")},
		{"/Extends cycle, escaped name", catalogIn(map[int]string{9: "null"}, " /Ext#65nds 4 0 R")},
		{"/Extends pair", XrefStream(
			map[int]string{2: pages, 3: page, 4: ObjStm(map[int]string{9: "null"}, " /Extends 5 0 R"), 5: ObjStm(map[int]string{10: "null"}, " /Extends 4 0 R")},
			map[int]InStream{1: {4, 0}}, "")},
		// Declared sizes the reader allocates by, or loops to, before it checks them.
		{"huge /Size", Classic([]string{catalog, pages, page}, " /Size 999999999999")},
		{"huge xref subsection", bytes.Replace(Classic([]string{catalog, pages, page}, ""), []byte("xref\n0 4"), []byte("xref\n4000000000 4"), 1)},
		{"huge /N", catalogIn(map[int]string{9: "null"}, " /N 99999999999")},
		{"huge /N, escaped name", catalogIn(map[int]string{9: "null"}, " /#4E 99999999999")},
		{"huge /First", catalogIn(map[int]string{1: catalog}, " /First 99999999999")},
		{"huge /W", XrefStream(map[int]string{1: catalog, 2: pages, 3: page}, nil, " /W [1 4000000000 2]")},
		{"huge /Columns", XrefStream(map[int]string{1: catalog, 2: pages, 3: page}, nil, " /DecodeParms << /Predictor 12 /Columns 4000000000 >>")},
		{"deep nesting", Classic([]string{"<< /Type /Catalog /Pages 2 0 R /A " + deep + " >>", pages, page}, "")},
	}
}
