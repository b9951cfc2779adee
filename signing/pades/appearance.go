package pades

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"fmt"
	"math"
	"sort"
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

// writeAppearance writes the visible appearance: a form XObject that shows the lines in
// an embedded subset of the configured TrueType font, as glyph IDs (Identity-H) with a
// /ToUnicode map, so every Vietnamese letter (ĩ, Ĩ included) renders and copies out.
func writeAppearance(w *objWriter, opt *Options) (ref, error) {
	a := opt.Appearance
	tt, err := parseTrueType(a.Font)
	if err != nil {
		return ref{}, err
	}
	lines := appearanceLines(opt)
	gids := make([][]uint16, len(lines))
	maxW := 0.0
	for i, l := range lines {
		if gids[i], err = tt.glyphs(norm.NFC.String(l)); err != nil {
			return ref{}, err
		}
		wd := 0.0
		for _, g := range gids[i] {
			wd += tt.width(g)
		}
		maxW = math.Max(maxW, wd)
	}
	width, height := a.Rect[2]-a.Rect[0], a.Rect[3]-a.Rect[1]
	const pad, leading = 4.0, 1.25
	size := 10.0
	if maxW > 0 {
		size = math.Min(size, (width-2*pad)*1000/maxW)
	}
	size = math.Min(size, (height-2*pad)/(leading*float64(len(lines))))
	if size < 1 {
		size = 1
	}

	var content bytes.Buffer
	fmt.Fprintf(&content, "q 0.1 0.3 0.7 RG 1 w 0.5 0.5 %s %s re S Q\n", num(width-1), num(height-1))
	content.WriteString("BT 0 0 0 rg /F1 " + num(round2(size)) + " Tf\n")
	y := height - pad - size
	for _, g := range gids {
		fmt.Fprintf(&content, "1 0 0 1 %s %s Tm <", num(pad), num(round2(y)))
		for _, id := range g {
			fmt.Fprintf(&content, "%04X", id)
		}
		content.WriteString("> Tj\n")
		y -= size * leading
	}
	content.WriteString("ET\n")

	// Font objects.
	fontFile, err := tt.subset()
	if err != nil {
		return ref{}, err
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
	return apRef, nil
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
