package pades

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// ttFont is a TrueType font prepared for Identity-H text: runes map to glyph IDs, which
// are also the CIDs (CIDToGIDMap /Identity).
type ttFont struct {
	raw    []byte
	tables map[string][]byte
	f      *sfnt.Font
	buf    sfnt.Buffer
	upem   int

	used map[uint16]rune // glyph -> the rune it shows, for /ToUnicode
}

func parseTrueType(raw []byte) (*ttFont, error) {
	f, err := sfnt.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: font: %v", ErrBadOptions, err)
	}
	t := &ttFont{raw: raw, f: f, upem: int(f.UnitsPerEm()), used: map[uint16]rune{}, tables: map[string][]byte{}}
	if len(raw) < 12 {
		return nil, fmt.Errorf("%w: font too short", ErrBadOptions)
	}
	n := int(binary.BigEndian.Uint16(raw[4:]))
	for i := 0; i < n; i++ {
		rec := 12 + 16*i
		if rec+16 > len(raw) {
			return nil, fmt.Errorf("%w: font table directory truncated", ErrBadOptions)
		}
		tag := string(raw[rec : rec+4])
		off := int(binary.BigEndian.Uint32(raw[rec+8:]))
		ln := int(binary.BigEndian.Uint32(raw[rec+12:]))
		if off < 0 || ln < 0 || off+ln > len(raw) {
			return nil, fmt.Errorf("%w: font table %q out of range", ErrBadOptions, tag)
		}
		t.tables[tag] = raw[off : off+ln]
	}
	for _, tag := range []string{"head", "hhea", "maxp", "hmtx", "loca", "glyf"} {
		if t.tables[tag] == nil {
			return nil, fmt.Errorf("%w: not a TrueType (glyf) font: no %q table", ErrBadOptions, tag)
		}
	}
	if len(t.tables["head"]) < 54 || len(t.tables["hhea"]) < 36 || t.upem == 0 {
		return nil, fmt.Errorf("%w: font head/hhea too short", ErrBadOptions)
	}
	return t, nil
}

// glyphs maps s to glyph IDs and records them for subsetting.
func (t *ttFont) glyphs(s string) ([]uint16, error) {
	var out []uint16
	for _, r := range s {
		g, err := t.f.GlyphIndex(&t.buf, r)
		if err != nil || g == 0 {
			return nil, fmt.Errorf("%w: the font has no glyph for %q (U+%04X)", ErrBadOptions, r, r)
		}
		out = append(out, uint16(g))
		if _, ok := t.used[uint16(g)]; !ok {
			t.used[uint16(g)] = r
		}
	}
	return out, nil
}

// width returns the advance of glyph g in text space units (1000 per em).
func (t *ttFont) width(g uint16) float64 {
	adv, err := t.f.GlyphAdvance(&t.buf, sfnt.GlyphIndex(g), fixed.Int26_6(t.upem<<6), font.HintingNone)
	if err != nil {
		return 0
	}
	return float64(adv) / 64 * 1000 / float64(t.upem)
}

func (t *ttFont) scale(v int16) int { return int(v) * 1000 / t.upem }

// metrics returns FontBBox, ascent and descent in 1000-per-em units.
func (t *ttFont) metrics() (bbox [4]int, ascent, descent int) {
	h := t.tables["head"]
	for i := range bbox {
		bbox[i] = t.scale(int16(binary.BigEndian.Uint16(h[36+2*i:])))
	}
	hh := t.tables["hhea"]
	return bbox, t.scale(int16(binary.BigEndian.Uint16(hh[4:]))), t.scale(int16(binary.BigEndian.Uint16(hh[6:])))
}

// subset returns a TrueType font with the same glyph IDs in which only the used glyphs
// (plus .notdef and the components of composite glyphs) keep their outlines. Only the
// tables a PDF CIDFontType2 needs are kept.
func (t *ttFont) subset() ([]byte, error) {
	head, loca, glyf := t.tables["head"], t.tables["loca"], t.tables["glyf"]
	numGlyphs := int(binary.BigEndian.Uint16(t.tables["maxp"][4:]))
	longLoca := binary.BigEndian.Uint16(head[50:]) == 1
	glyphRange := func(g int) (int, int, error) {
		var a, b int
		if longLoca {
			if 4*g+8 > len(loca) {
				return 0, 0, errors.New("loca too short")
			}
			a, b = int(binary.BigEndian.Uint32(loca[4*g:])), int(binary.BigEndian.Uint32(loca[4*g+4:]))
		} else {
			if 2*g+4 > len(loca) {
				return 0, 0, errors.New("loca too short")
			}
			a, b = 2*int(binary.BigEndian.Uint16(loca[2*g:])), 2*int(binary.BigEndian.Uint16(loca[2*g+2:]))
		}
		if a > b || b > len(glyf) {
			return 0, 0, errors.New("glyph out of range")
		}
		return a, b, nil
	}

	keep := map[int]bool{0: true}
	var queue []int
	for g := range t.used {
		queue = append(queue, int(g))
	}
	for len(queue) > 0 {
		g := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if g >= numGlyphs || keep[g] && g != 0 {
			continue
		}
		keep[g] = true
		a, b, err := glyphRange(g)
		if err != nil {
			return nil, fmt.Errorf("%w: font: %v", ErrBadOptions, err)
		}
		data := glyf[a:b]
		if len(data) < 10 || int16(binary.BigEndian.Uint16(data)) >= 0 {
			continue
		}
		// Composite glyph: collect its components.
		for p := 10; p+4 <= len(data); {
			flags := binary.BigEndian.Uint16(data[p:])
			comp := int(binary.BigEndian.Uint16(data[p+2:]))
			if !keep[comp] {
				queue = append(queue, comp)
			}
			p += 4
			if flags&0x0001 != 0 {
				p += 4
			} else {
				p += 2
			}
			switch {
			case flags&0x0008 != 0:
				p += 2
			case flags&0x0040 != 0:
				p += 4
			case flags&0x0080 != 0:
				p += 8
			}
			if flags&0x0020 == 0 {
				break
			}
		}
	}

	var newGlyf []byte
	newLoca := make([]byte, 4*(numGlyphs+1))
	for g := 0; g < numGlyphs; g++ {
		binary.BigEndian.PutUint32(newLoca[4*g:], uint32(len(newGlyf)))
		if keep[g] {
			a, b, err := glyphRange(g)
			if err != nil {
				return nil, fmt.Errorf("%w: font: %v", ErrBadOptions, err)
			}
			newGlyf = append(newGlyf, glyf[a:b]...)
			for len(newGlyf)%4 != 0 {
				newGlyf = append(newGlyf, 0)
			}
		}
	}
	binary.BigEndian.PutUint32(newLoca[4*numGlyphs:], uint32(len(newGlyf)))
	newHead := append([]byte(nil), head...)
	binary.BigEndian.PutUint16(newHead[50:], 1) // long loca
	binary.BigEndian.PutUint32(newHead[8:], 0)  // checkSumAdjustment

	tables := map[string][]byte{"head": newHead, "loca": newLoca, "glyf": newGlyf}
	for _, tag := range []string{"hhea", "maxp", "hmtx", "cvt ", "fpgm", "prep"} {
		if b := t.tables[tag]; b != nil {
			tables[tag] = b
		}
	}
	return writeSFNT(tables), nil
}

func writeSFNT(tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	for k := range tables {
		tags = append(tags, k)
	}
	sort.Strings(tags)
	n := len(tags)
	es := 0
	for 1<<(es+1) <= n {
		es++
	}
	out := make([]byte, 12+16*n)
	binary.BigEndian.PutUint32(out, 0x00010000)
	binary.BigEndian.PutUint16(out[4:], uint16(n))
	binary.BigEndian.PutUint16(out[6:], uint16(16<<es))
	binary.BigEndian.PutUint16(out[8:], uint16(es))
	binary.BigEndian.PutUint16(out[10:], uint16(16*n-16<<es))
	for i, tag := range tags {
		data := tables[tag]
		rec := out[12+16*i:]
		copy(rec, tag)
		binary.BigEndian.PutUint32(rec[4:], checksum(data))
		binary.BigEndian.PutUint32(rec[8:], uint32(len(out)))
		binary.BigEndian.PutUint32(rec[12:], uint32(len(data)))
		out = append(out, data...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	return out
}

func checksum(b []byte) uint32 {
	var s uint32
	for i := 0; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:])
		s += binary.BigEndian.Uint32(w[:])
	}
	return s
}
