package pades

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/unicode/norm"
)

// appearanceLines is the visible text: signer, time in Vietnam time, reason, location.
func appearanceLines(opt *Options) []string {
	lines := []string{
		"Ký bởi: " + opt.SignerName,
		"Ngày ký: " + opt.Time.In(vietnam).Format("02/01/2006 15:04:05") + " (GMT+7)",
	}
	if opt.Reason != "" {
		lines = append(lines, "Lý do: "+opt.Reason)
	}
	if opt.Location != "" {
		lines = append(lines, "Nơi ký: "+opt.Location)
	}
	return lines
}

// MinFontSize is the smallest visible-signature text: 7 pt stays readable on paper.
// Text that would need less is wrapped, and the box grows upwards to hold it.
const MinFontSize = 7.0

// appearanceLayout is the visible text laid out in the box: the glyph lines, the font
// size and the box's height (grown when the text needs it at MinFontSize).
type appearanceLayout struct {
	lines  [][]uint16
	size   float64
	height float64
}

const apPad, apLeading, apMaxSize = 4.0, 1.25, 10.0

// layoutAppearance fits the lines in width x height at up to 10 pt; below MinFontSize it
// wraps them at word boundaries at MinFontSize and makes the box as tall as they need.
func layoutAppearance(tt *ttFont, lines []string, width, height float64) (appearanceLayout, error) {
	glyphLines, maxW, err := shapeLines(tt, lines)
	if err != nil {
		return appearanceLayout{}, err
	}
	size := apMaxSize
	if maxW > 0 {
		size = math.Min(size, (width-2*apPad)*1000/maxW)
	}
	size = math.Min(size, (height-2*apPad)/(apLeading*float64(len(lines))))
	if size >= MinFontSize {
		return appearanceLayout{lines: glyphLines, size: size, height: height}, nil
	}
	size = MinFontSize
	var wrapped []string
	for _, l := range lines {
		wrapped = append(wrapped, wrapLine(tt, l, (width-2*apPad)*1000/size)...)
	}
	if glyphLines, _, err = shapeLines(tt, wrapped); err != nil {
		return appearanceLayout{}, err
	}
	need := 2*apPad + size*apLeading*float64(len(wrapped))
	return appearanceLayout{lines: glyphLines, size: size, height: math.Max(height, need)}, nil
}

// shapeLines maps lines to glyphs (NFC first) and gives the widest line in font units.
func shapeLines(tt *ttFont, lines []string) ([][]uint16, float64, error) {
	out := make([][]uint16, len(lines))
	maxW := 0.0
	for i, l := range lines {
		g, err := tt.glyphs(norm.NFC.String(l))
		if err != nil {
			return nil, 0, err
		}
		out[i] = g
		maxW = math.Max(maxW, glyphWidth(tt, g))
	}
	return out, maxW, nil
}

func glyphWidth(tt *ttFont, gids []uint16) float64 {
	w := 0.0
	for _, g := range gids {
		w += tt.width(g)
	}
	return w
}

// wrapLine breaks l at spaces into lines at most max font units wide (a single word wider
// than that stays whole: the box is then clipped rather than the word split).
func wrapLine(tt *ttFont, l string, max float64) []string {
	var out []string
	cur := ""
	for _, word := range strings.Fields(l) {
		try := word
		if cur != "" {
			try = cur + " " + word
		}
		if g, err := tt.glyphs(norm.NFC.String(try)); err == nil && glyphWidth(tt, g) <= max || cur == "" {
			cur = try
			continue
		}
		out = append(out, cur)
		cur = word
	}
	if cur != "" || len(out) == 0 {
		out = append(out, cur)
	}
	return out
}

// writeAppearance writes the visible appearance: a form XObject that shows the lines in
// an embedded subset of the configured TrueType font, as glyph IDs (Identity-H) with a
// /ToUnicode map, so every Vietnamese letter (ĩ, Ĩ included) renders and copies out. It
// returns the widget's rectangle: the Appearance's, taller when the text needed it.
func writeAppearance(w *objWriter, opt *Options) (ref, [4]float64, error) {
	a := opt.Appearance
	tt, err := parseTrueType(a.Font)
	if err != nil {
		return ref{}, a.Rect, err
	}
	width, height := a.Rect[2]-a.Rect[0], a.Rect[3]-a.Rect[1]
	lay, err := layoutAppearance(tt, appearanceLines(opt), width, height)
	if err != nil {
		return ref{}, a.Rect, err
	}
	rect := a.Rect
	height = lay.height
	rect[3] = rect[1] + height
	size := lay.size

	var content bytes.Buffer
	fmt.Fprintf(&content, "q 0.1 0.3 0.7 RG 1 w 0.5 0.5 %s %s re S Q\n", num(width-1), num(height-1))
	content.WriteString("BT 0 0 0 rg /F1 " + num(round2(size)) + " Tf\n")
	y := height - apPad - size
	for _, g := range lay.lines {
		fmt.Fprintf(&content, "1 0 0 1 %s %s Tm <", num(apPad), num(round2(y)))
		for _, id := range g {
			fmt.Fprintf(&content, "%04X", id)
		}
		content.WriteString("> Tj\n")
		y -= size * apLeading
	}
	content.WriteString("ET\n")

	// Font objects.
	fontFile, err := tt.subset()
	if err != nil {
		return ref{}, rect, err
	}
	used := make([]uint16, 0, len(tt.used))
	for g := range tt.used {
		used = append(used, g)
	}
	sort.Slice(used, func(i, j int) bool { return used[i] < used[j] })
	sum := sha256.Sum256(fontFile)
	tag := make([]byte, 6)
	for i := range tag {
		tag[i] = 'A' + sum[i]%26
	}
	baseFont := string(tag) + "+MotlanSign"

	fileRef, descRef, cidRef, tuRef, fontRef, apRef := w.alloc(), w.alloc(), w.alloc(), w.alloc(), w.alloc(), w.alloc()
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(fontFile)
	zw.Close()
	w.putStream(fileRef, fmt.Sprintf(" /Filter /FlateDecode /Length1 %d", len(fontFile)), z.Bytes())

	bbox, asc, desc := tt.metrics()
	w.put(descRef, fmt.Appendf(nil, "<< /Type /FontDescriptor /FontName /%s /Flags 32 /FontBBox [%d %d %d %d] /ItalicAngle 0 /Ascent %d /Descent %d /CapHeight %d /StemV 80 /FontFile2 %s >>",
		baseFont, bbox[0], bbox[1], bbox[2], bbox[3], asc, desc, asc, fileRef))

	var widths bytes.Buffer
	for _, g := range used {
		fmt.Fprintf(&widths, "%d [%s] ", g, num(math.Round(tt.width(g))))
	}
	w.put(cidRef, fmt.Appendf(nil, "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /%s /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor %s /CIDToGIDMap /Identity /DW 1000 /W [%s] >>",
		baseFont, descRef, bytes.TrimSpace(widths.Bytes())))

	w.putStream(tuRef, "", toUnicodeCMap(used, tt.used))
	w.put(fontRef, fmt.Appendf(nil, "<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H /DescendantFonts [%s] /ToUnicode %s >>",
		baseFont, cidRef, tuRef))

	w.putStream(apRef, fmt.Sprintf(" /Type /XObject /Subtype /Form /BBox [0 0 %s %s] /Resources << /Font << /F1 %s >> >>", num(width), num(height), fontRef), content.Bytes())
	return apRef, rect, nil
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func toUnicodeCMap(gids []uint16, runes map[uint16]rune) []byte {
	var b bytes.Buffer
	b.WriteString("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n" +
		"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n" +
		"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n" +
		"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	for i := 0; i < len(gids); i += 100 {
		chunk := gids[i:min(i+100, len(gids))]
		fmt.Fprintf(&b, "%d beginbfchar\n", len(chunk))
		for _, g := range chunk {
			fmt.Fprintf(&b, "<%04X> <", g)
			for _, u := range utf16.Encode([]rune{runes[g]}) {
				fmt.Fprintf(&b, "%04X", u)
			}
			b.WriteString(">\n")
		}
		b.WriteString("endbfchar\n")
	}
	b.WriteString("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
	return b.Bytes()
}
