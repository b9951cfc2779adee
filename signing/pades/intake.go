package pades

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"

	"github.com/digitorus/pdf"
)

// ref is an indirect object reference.
type ref struct {
	id  uint32
	gen uint16
}

func (r ref) String() string { return fmt.Sprintf("%d %d R", r.id, r.gen) }

func refOf(v pdf.Value) ref {
	p := v.GetPtr()
	return ref{p.GetID(), p.GetGen()}
}

// document is what Sign needs to know about its input.
type document struct {
	r          *pdf.Reader
	size       int64
	xrefStream bool   // the last cross-reference section is a stream
	prevXref   int64  // its offset, for /Prev
	nextID     uint32 // first unused object number
	trailer    pdf.Value
	root       pdf.Value
	rootRef    ref
	needsEOL   bool // the input does not end with an end-of-line
	pages      []pdf.Value
}

// eofWindow is how far from the end %%EOF must be.
const eofWindow = 2048

// maxObjects bounds the object numbers a document of size bytes may declare, so that a
// hostile /Size or xref subsection cannot make the reader allocate gigabytes.
func maxObjects(size int64) int64 {
	n := size / 2
	if n < 1<<16 {
		n = 1 << 16
	}
	if n > 4<<20 {
		n = 4 << 20
	}
	return n
}

// openDocument parses the PDF. The reader panics on malformed input: every call into it
// runs under recover and turns a panic into ErrInvalidPDF.
func openDocument(ra io.ReaderAt, size int64) (d *document, err error) {
	if size < 16 {
		return nil, fmt.Errorf("%w: %d bytes", ErrInvalidPDF, size)
	}
	// The reader searches backwards for %%EOF in growing windows, quadratically: insist
	// on the header and on %%EOF near the end first.
	head := make([]byte, 5)
	if _, err := ra.ReadAt(head, 0); err != nil || string(head) != "%PDF-" {
		return nil, fmt.Errorf("%w: no %%PDF- header", ErrInvalidPDF)
	}
	tail := make([]byte, min(size, eofWindow))
	if _, err := ra.ReadAt(tail, size-int64(len(tail))); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPDF, err)
	}
	if !bytes.Contains(tail, []byte("%%EOF")) {
		return nil, fmt.Errorf("%w: no %%%%EOF in the last %d bytes", ErrInvalidPDF, eofWindow)
	}
	if err := guardXref(ra, size); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("%w: %v", ErrInvalidPDF, p)
		}
	}()
	r, err := pdf.NewReader(ra, size)
	if err != nil {
		// The reader rejects some encryption schemes before it returns the trailer.
		tail := make([]byte, min(size, 4096))
		if n, _ := ra.ReadAt(tail, size-int64(len(tail))); bytes.Contains(tail[:n], []byte("/Encrypt")) {
			return nil, ErrEncrypted
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidPDF, err)
	}
	d = &document{r: r, size: size}
	d.trailer = r.Trailer()
	if !d.trailer.Key("Encrypt").IsNull() {
		return nil, ErrEncrypted
	}
	d.xrefStream = r.XrefInformation.Type == "stream"
	d.prevXref = r.XrefInformation.StartPos
	sz := d.trailer.Key("Size").Int64()
	if n := int64(len(r.Xref())); n > sz {
		sz = n
	}
	if sz <= 0 || sz > maxObjects(size) {
		return nil, fmt.Errorf("%w: trailer /Size %d", ErrInvalidPDF, sz)
	}
	d.nextID = uint32(sz)
	d.root = d.trailer.Key("Root")
	if d.root.Kind() != pdf.Dict {
		return nil, fmt.Errorf("%w: no document catalog", ErrInvalidPDF)
	}
	d.rootRef = refOf(d.root)
	if d.rootRef.id == 0 {
		return nil, fmt.Errorf("%w: the catalog is not an indirect object", ErrInvalidPDF)
	}
	d.pages = collectPages(d.root.Key("Pages"))
	if len(d.pages) == 0 {
		return nil, fmt.Errorf("%w: no pages", ErrInvalidPDF)
	}
	for _, p := range d.pages {
		if refOf(p).id == 0 {
			return nil, fmt.Errorf("%w: a page is not an indirect object", ErrInvalidPDF)
		}
	}
	if perms := d.root.Key("Perms").Key("DocMDP"); !perms.IsNull() {
		if p := docMDPPermission(perms); p == 1 {
			return nil, ErrDocumentLocked
		}
	}
	last := make([]byte, 1)
	if _, err := ra.ReadAt(last, size-1); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPDF, err)
	}
	d.needsEOL = last[0] != '\n' && last[0] != '\r'
	return d, nil
}

// docMDPPermission returns the /P of the DocMDP transform of a certification signature.
func docMDPPermission(sig pdf.Value) int64 {
	refs := sig.Key("Reference")
	for i := 0; i < refs.Len() && i < 16; i++ {
		r := refs.Index(i)
		if r.Key("TransformMethod").Name() == "DocMDP" {
			p := r.Key("TransformParams").Key("P")
			if p.Kind() == pdf.Integer {
				return p.Int64()
			}
			return 2 // the default
		}
	}
	return 0
}

// collectPages walks the page tree depth-first with a visited set and depth limit, so
// cyclic or absurd trees end.
func collectPages(root pdf.Value) []pdf.Value {
	var pages []pdf.Value
	seen := map[ref]bool{}
	var walk func(n pdf.Value, depth int)
	walk = func(n pdf.Value, depth int) {
		if depth > 64 || n.Kind() != pdf.Dict || len(pages) > 1<<20 {
			return
		}
		r := refOf(n)
		if seen[r] {
			return
		}
		seen[r] = true
		kids := n.Key("Kids")
		if n.Key("Type").Name() == "Page" || kids.Kind() != pdf.Array {
			pages = append(pages, n)
			return
		}
		for i := 0; i < kids.Len(); i++ {
			walk(kids.Index(i), depth+1)
		}
	}
	walk(root, 0)
	return pages
}

// guardXref scans the input for the numbers the reader allocates by before it checks
// them: /Size, /Index arrays and classic xref subsection starts.
func guardXref(ra io.ReaderAt, size int64) error {
	limit := maxObjects(size)
	const chunk, overlap = 1 << 20, 256
	buf := make([]byte, chunk+overlap)
	for off := int64(0); off < size; off += chunk {
		n, err := ra.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if err != nil && err != io.EOF {
			return fmt.Errorf("%w: %v", ErrInvalidPDF, err)
		}
		b := buf[:n]
		for _, key := range []string{"/Size", "/Index", "xref"} {
			for i := 0; ; {
				j := bytes.Index(b[i:], []byte(key))
				if j < 0 || i+j >= chunk {
					break // a hit in the overlap belongs to the next chunk
				}
				at := i + j
				i = at + len(key)
				if key == "xref" {
					if at >= 5 && string(b[at-5:at]) == "start" {
						continue
					}
					if err := guardXrefTable(ra, off+int64(i), size, limit); err != nil {
						return err
					}
					continue
				}
				for _, v := range leadingInts(b[i:], 64) {
					if v > limit {
						return fmt.Errorf("%w: %s %d is out of range", ErrInvalidPDF, key, v)
					}
					if key == "/Size" {
						break
					}
				}
			}
		}
	}
	return nil
}

// guardXrefTable checks the subsection headers ("START COUNT") of a classic
// cross-reference table that starts at off, token by token as the reader reads them, up
// to its trailer.
func guardXrefTable(ra io.ReaderAt, off, size, limit int64) error {
	br := bufio.NewReaderSize(io.NewSectionReader(ra, off, size-off), 64<<10)
	token := func() []byte {
		var t []byte
		for len(t) < 32 {
			c, err := br.ReadByte()
			if err != nil {
				return t
			}
			if c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0 {
				if len(t) > 0 {
					return t
				}
				continue
			}
			t = append(t, c)
		}
		return t
	}
	for {
		start := token()
		if len(start) == 0 || bytes.HasPrefix(start, []byte("trailer")) {
			return nil
		}
		v := leadingInts(start, 1)
		if len(v) != 1 {
			return nil // not a table: the reader will say what is wrong
		}
		if v[0] > limit {
			return fmt.Errorf("%w: xref subsection start %d is out of range", ErrInvalidPDF, v[0])
		}
		c := leadingInts(token(), 1)
		if len(c) != 1 || c[0] > limit {
			return nil
		}
		for i := int64(0); i < 3*c[0]; i++ {
			if len(token()) == 0 {
				return nil
			}
		}
	}
}

// leadingInts parses up to max integers at the start of b, skipping white space and '['.
func leadingInts(b []byte, max int) []int64 {
	var out []int64
	i := 0
	for len(out) < max {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t' || b[i] == '\f' || b[i] == 0 || b[i] == '[') {
			i++
		}
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == i {
			return out
		}
		if j-i > 18 {
			out = append(out, 1<<62)
			return out
		}
		v, _ := strconv.ParseInt(string(b[i:j]), 10, 64)
		out = append(out, v)
		i = j
	}
	return out
}
