package verify

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/motlan/motlan/internal/pdf"

	"github.com/motlan/motlan/signing/internal/pdfguard"
)

// The reader github.com/digitorus/pdf panics on malformed input, hangs or recurses
// without end on some hostile structures and allocates by declared sizes before checking
// them. Every entry into it goes through guardFile, openReader and the guarded helpers
// below: the first two are signing/internal/pdfguard's Check and OpenRevision, shared
// with the signer.

// guardFile runs the checks that do not depend on the revision: header, hostile
// numbers, /Extends, arrays that meet endobj. data is the whole file.
func guardFile(data []byte) error {
	return pdfguard.Translate(pdfguard.Check(data), ErrInvalidPDF, ErrEncrypted)
}

// openReader opens the revision that ends at end (a prefix of data, which passed
// guardFile).
func openReader(data []byte, end int) (*pdf.Reader, error) {
	r, err := pdfguard.OpenRevision(data, end, pdfguard.Limits{})
	if err != nil {
		return nil, pdfguard.Translate(err, ErrInvalidPDF, ErrEncrypted)
	}
	return r, nil
}

// revisionEnds returns the offsets just after each "%%EOF" that ends a line, in order.
func revisionEnds(data []byte) []int {
	var ends []int
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte("%%EOF"))
		if j < 0 {
			return ends
		}
		at := i + j + 5
		i = at
		if at == len(data) || data[at] == '\n' || data[at] == '\r' || data[at] == ' ' {
			ends = append(ends, at)
		}
	}
}

// ref is an object number and generation.
type ref struct {
	id  uint32
	gen uint16
}

func (r ref) String() string { return fmt.Sprintf("%d %d", r.id, r.gen) }

func refOf(v pdf.Value) ref {
	p := v.GetPtr()
	return ref{p.GetID(), p.GetGen()}
}

// sigField is a signature field found in the AcroForm.
type sigField struct {
	name string
	v    pdf.Value // the signature dictionary (/V)
}

// sigKey identifies a signature dictionary across revisions.
func sigKey(v pdf.Value) string {
	br := v.Key("ByteRange")
	var b []byte
	for i := 0; i < br.Len() && i < 8; i++ {
		b = strconv.AppendInt(b, br.Index(i).Int64(), 10)
		b = append(b, ' ')
	}
	return refOf(v).String() + "|" + string(b)
}

// signatureFields walks the AcroForm field tree of r (with a visited set, depth and
// count limits) and returns the fields of type /Sig whose /V is a dictionary. It
// recovers the reader's panics.
func signatureFields(r *pdf.Reader) (out []sigField, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("%w: %v", ErrInvalidPDF, p)
		}
	}()
	root := r.Trailer().Key("Root")
	if root.Kind() != pdf.Dict {
		return nil, fmt.Errorf("%w: no document catalog", ErrInvalidPDF)
	}
	fields := root.Key("AcroForm").Key("Fields")
	seen := map[ref]bool{}
	visited := 0
	var walk func(f pdf.Value, prefix, ft string, depth int)
	walk = func(f pdf.Value, prefix, ft string, depth int) {
		if depth > 32 || f.Kind() != pdf.Dict || visited > 1<<16 {
			return
		}
		visited++
		if r := refOf(f); r.id != 0 {
			if seen[r] {
				return
			}
			seen[r] = true
		}
		name := prefix
		if t := f.Key("T"); t.Kind() == pdf.String {
			if name != "" {
				name += "."
			}
			name += t.Text()
		}
		if t := f.Key("FT"); t.Kind() == pdf.Name {
			ft = t.Name()
		}
		if kids := f.Key("Kids"); kids.Kind() == pdf.Array {
			for i := 0; i < kids.Len() && i < 1<<14; i++ {
				walk(kids.Index(i), name, ft, depth+1)
			}
		}
		if ft == "Sig" {
			if v := f.Key("V"); v.Kind() == pdf.Dict {
				out = append(out, sigField{name: name, v: v})
			}
		}
	}
	for i := 0; i < fields.Len() && i < 1<<14; i++ {
		walk(fields.Index(i), "", "", 0)
	}
	return out, nil
}

// sigDict holds what is read from a signature dictionary.
type sigDict struct {
	typ, subFilter string
	byteRange      []int64
	byteRangeOK    bool // an array of integers
	contents       []byte
	m              string
}

func readSigDict(v pdf.Value) (d sigDict, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: signature dictionary: %v", ErrInvalidPDF, p)
		}
	}()
	d.typ = v.Key("Type").Name()
	d.subFilter = v.Key("SubFilter").Name()
	br := v.Key("ByteRange")
	d.byteRangeOK = br.Kind() == pdf.Array
	for i := 0; i < br.Len() && i < 16; i++ {
		e := br.Index(i)
		if e.Kind() != pdf.Integer {
			d.byteRangeOK = false
		}
		d.byteRange = append(d.byteRange, e.Int64())
	}
	if c := v.Key("Contents"); c.Kind() == pdf.String {
		d.contents = []byte(c.RawString())
	}
	if m := v.Key("M"); m.Kind() == pdf.String {
		d.m = m.Text()
	}
	return d, nil
}

// readLimited reads at most n decoded bytes of stream v; ok is false when the stream
// cannot be decoded or is longer than n.
func readLimited(v pdf.Value, n int64) ([]byte, bool) { return pdfguard.ReadStream(v, n) }
