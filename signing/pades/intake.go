package pades

import (
	"errors"
	"fmt"
	"io"

	"github.com/motlan/motlan/internal/pdf"

	"github.com/motlan/motlan/signing/internal/pdfguard"
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
	needsEOL   bool            // the input does not end with an end-of-line
	enc        *pdf.Encryption // the input's encryption, which the update keeps; nil if none
	pages      []pdf.Value
}

// openDocument parses the PDF. It opens it through pdfguard, which rejects the input
// the reader would hang, recurse or allocate without bound on; the reader also panics on
// malformed input: every call into it runs under recover and turns a panic into
// ErrInvalidPDF.
func openDocument(ra io.ReaderAt, size int64) (d *document, err error) {
	r, err := pdfguard.Open(ra, size, pdfguard.Limits{MaxSize: size, CallerWalksPages: true}) // collectPages, below
	if errors.Is(err, pdfguard.ErrPasswordRequired) {
		return nil, ErrPasswordRequired
	}
	if err != nil {
		return nil, pdfguard.Translate(err, ErrInvalidPDF, ErrEncrypted)
	}
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("%w: %v", ErrInvalidPDF, p)
		}
	}()
	d = &document{r: r, size: size, enc: r.Encryption()}
	d.trailer = r.Trailer()
	d.xrefStream = r.XrefInformation.Type == "stream"
	d.prevXref = r.XrefInformation.StartPos
	sz := d.trailer.Key("Size").Int64()
	if n := int64(len(r.Xref())); n > sz {
		sz = n
	}
	if sz <= 0 || sz > pdfguard.MaxObjects(size) {
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
		return nil, ErrNoPages
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

// PageCount opens the PDF as Sign does and returns its number of pages. Its errors are
// Sign's input errors.
func PageCount(ra io.ReaderAt, size int64) (int, error) {
	d, err := openDocument(ra, size)
	if err != nil {
		return 0, err
	}
	return len(d.pages), nil
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
