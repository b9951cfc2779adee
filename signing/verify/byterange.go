package verify

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"fmt"
	"slices"
)

// rangeDigestKey names the digest of the bytes of one (valid) ByteRange.
type rangeDigestKey struct {
	h  crypto.Hash
	br [4]int64
}

// rangeDigest hashes the bytes br covers, once per file and hash: copies of a signature
// dictionary share their ByteRange, which may cover nearly the whole file.
func (v *verifier) rangeDigest(h crypto.Hash, br []int64) []byte {
	k := rangeDigestKey{h: h, br: [4]int64(br)}
	if sum, ok := v.digests[k]; ok {
		return sum
	}
	hh := h.New()
	hh.Write(v.data[br[0] : br[0]+br[1]])
	hh.Write(v.data[br[2] : br[2]+br[3]])
	sum := hh.Sum(nil)
	v.digests[k] = sum
	return sum
}

// checkByteRange checks: four integers, starting at 0, the gap exactly the /Contents
// hex string (and holding the same bytes as the parsed /Contents), no overlap, within
// the file.
func (v *verifier) checkByteRange(d sigDict) (ByteRange, bool) {
	br := ByteRange{Values: d.byteRange}
	if br.Values == nil {
		br.Values = []int64{}
	}
	p := func(format string, args ...any) { br.Problems = append(br.Problems, fmt.Sprintf(format, args...)) }
	b := d.byteRange
	size := int64(len(v.data))
	switch {
	case !d.byteRangeOK:
		p("missing or not an array of integers")
	case len(b) != 4:
		p("%d numbers, want 4 (two ranges)", len(b))
	default:
		for _, x := range b {
			if x < 0 {
				p("negative value %d", x)
				return br, false
			}
		}
		if b[0] != 0 {
			p("the first range starts at %d, not 0", b[0])
		}
		if b[1] <= 0 || b[2] <= b[1] {
			p("the ranges overlap or are out of order")
		}
		if b[1] > size || b[2] > size || b[3] > size-b[2] {
			p("the ranges go beyond the end of the file (%d bytes)", size)
		}
		if len(br.Problems) > 0 {
			break
		}
		gap := v.data[b[1]:b[2]]
		if len(gap) < 2 || gap[0] != '<' || gap[len(gap)-1] != '>' {
			p("the gap between the ranges is not a hex string")
			break
		}
		var digits []byte
		for _, c := range gap[1 : len(gap)-1] {
			switch {
			case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
				digits = append(digits, c)
			case c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f':
			default:
				p("the gap holds %q, not only hex digits", c)
				return br, false
			}
		}
		if len(digits)%2 == 1 {
			digits = append(digits, '0')
		}
		dec := make([]byte, len(digits)/2)
		if _, err := hex.Decode(dec, digits); err != nil || !bytes.Equal(dec, d.contents) {
			p("the gap is not the signature dictionary's /Contents")
		}
	}
	br.Valid = len(br.Problems) == 0
	return br, br.Valid
}

// coverage fills Coverage and, when bytes follow the signed revision, Changes.
func (v *verifier) coverage(s *Signature, d sigDict) {
	end := d.byteRange[2] + d.byteRange[3]
	size := int64(len(v.data))
	s.Coverage.SignedEnd = end
	s.Coverage.CoversWholeDocument = end == size
	s.Coverage.CoversRevision = bytes.HasSuffix(bytes.TrimRight(v.data[:end], "\r\n \t\f\x00"), []byte("%%EOF"))
	if len(bytes.TrimSpace(v.data[end:])) == 0 {
		return
	}
	ch := &Changes{Classification: ChangesUnknown}
	for _, e := range revisionEnds(v.data) {
		if int64(e-5) >= end {
			ch.LaterRevisions++
		}
	}
	old, err := v.reader(int(end))
	if !s.Coverage.CoversRevision || err != nil {
		ch.Checked = "the signed revision could not be opened for comparison"
		if err != nil {
			ch.Checked += ": " + err.Error()
		}
		s.Changes = ch
		return
	}
	// The comparison depends only on the signed revision: signatures over the same one
	// share it.
	c, ok := v.changes[end]
	if !ok {
		c = classifyChanges(old, v.readers[len(v.data)])
		c.LaterRevisions = ch.LaterRevisions
		v.changes[end] = c
	}
	cc := *c
	cc.Objects = slices.Clone(c.Objects)
	s.Changes = &cc
}

// hasVRI reports whether the last DSS has a /VRI entry for a signature with contents.
func (v *verifier) hasVRI(contents []byte) bool {
	if len(v.finalDSS.vri) == 0 || len(contents) == 0 {
		return false
	}
	for _, k := range vriKeys(contents) {
		if v.finalDSS.vri[k] {
			return true
		}
	}
	return false
}

// signedBytes returns the digest, by hash, of the bytes the ByteRange covers; of
// nothing when the ByteRange is unusable.
func (v *verifier) signedBytes(d sigDict, brOK bool) func(crypto.Hash) []byte {
	return func(h crypto.Hash) []byte {
		if !brOK {
			return h.New().Sum(nil)
		}
		return v.rangeDigest(h, d.byteRange)
	}
}
