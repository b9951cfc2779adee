package ltv

import (
	"bytes"
	"fmt"

	"github.com/motlan/motlan/internal/pdf"

	"github.com/motlan/motlan/signing/internal/pdfguard"
)

// sigEntry is one signature or document timestamp found in the document.
type sigEntry struct {
	field        string
	docTimestamp bool // /Type /DocTimeStamp (or /SubFilter /ETSI.RFC3161)
	contents     []byte
}

// Bounds on the AcroForm walk, against hostile field trees.
const (
	maxFieldDepth = 16
	maxFields     = 1 << 12
)

// signatures lists the signature dictionaries of the last revision's AcroForm.
func signatures(data []byte) (sigs []sigEntry, err error) {
	r, err := pdfguard.Open(bytes.NewReader(data), int64(len(data)), pdfguard.Limits{MaxSize: int64(len(data))})
	if err != nil {
		return nil, pdfguard.Translate(err, ErrInvalidPDF, ErrEncrypted)
	}
	defer func() {
		if p := recover(); p != nil { // the reader panics on some malformed objects
			sigs, err = nil, fmt.Errorf("%w: %v", ErrInvalidPDF, p)
		}
	}()
	tr := r.Trailer()
	root := tr.Key("Root")
	if root.Kind() != pdf.Dict {
		return nil, fmt.Errorf("%w: no document catalog", ErrInvalidPDF)
	}
	seen := map[[2]uint32]bool{}
	visited := 0
	var walk func(fields pdf.Value, prefix, inheritedFT string, depth int)
	walk = func(fields pdf.Value, prefix, inheritedFT string, depth int) {
		if fields.Kind() != pdf.Array || depth > maxFieldDepth {
			return
		}
		for i := 0; i < fields.Len() && visited < maxFields; i++ {
			f := fields.Index(i)
			if f.Kind() != pdf.Dict {
				continue
			}
			if p := f.GetPtr(); p.GetID() != 0 {
				k := [2]uint32{p.GetID(), uint32(p.GetGen())}
				if seen[k] {
					continue
				}
				seen[k] = true
			}
			visited++
			name := f.Key("T").Text()
			if prefix != "" {
				name = prefix + "." + name
			}
			ft := inheritedFT
			if v := f.Key("FT"); v.Kind() == pdf.Name {
				ft = v.Name()
			}
			if kids := f.Key("Kids"); kids.Kind() == pdf.Array {
				walk(kids, name, ft, depth+1)
			}
			v := f.Key("V")
			if ft != "Sig" || v.Kind() != pdf.Dict {
				continue
			}
			c := v.Key("Contents")
			if c.Kind() != pdf.String {
				continue
			}
			sigs = append(sigs, sigEntry{
				field:        name,
				docTimestamp: v.Key("Type").Name() == "DocTimeStamp" || v.Key("SubFilter").Name() == "ETSI.RFC3161",
				contents:     []byte(c.RawString()),
			})
		}
	}
	walk(root.Key("AcroForm").Key("Fields"), "", "", 0)
	return sigs, nil
}
