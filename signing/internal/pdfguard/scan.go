package pdfguard

import (
	"github.com/motlan/motlan/internal/pdf"
)

// guardObjectStreams decodes every object stream the cross-reference table uses, each
// within maxDecoded bytes (a compression bomb is refused here, once, rather than on
// every object the reader resolves from it).
func guardObjectStreams(r *pdf.Reader, maxDecoded int64) error {
	xr := r.Xref()
	seen := map[uint32]bool{}
	for i := range xr {
		s := xr[i].Stream()
		id := s.GetID()
		if id == 0 || seen[id] {
			continue
		}
		seen[id] = true
		if int(id) >= len(xr) {
			continue // resolves to null
		}
		if c := xr[id].Stream(); c.GetID() != 0 {
			return invalidf("object stream %d is itself in an object stream", id)
		}
		v := r.Resolve(s, s)
		if v.Kind() != pdf.Stream {
			continue // the reader panics on it, which is recovered
		}
		if _, ok := ReadStream(v, maxDecoded); !ok {
			return invalidf("object stream %d cannot be decoded within %d bytes", id, maxDecoded)
		}
	}
	return nil
}
