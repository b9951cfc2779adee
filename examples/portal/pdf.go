package portal

import (
	"bytes"
	"embed"
	"fmt"
	"time"

	"github.com/go-pdf/fpdf"
	"golang.org/x/text/unicode/norm"
)

// DejaVu Sans has every Vietnamese glyph (precomposed and combining); Go's own fonts and
// the PDF standard fonts do not. It is embedded so the portal needs no font package; its
// license is fonts/LICENSE-DejaVu.txt.
//
//go:embed fonts/DejaVuSans.ttf fonts/DejaVuSans-Bold.ttf
var fontFS embed.FS

var (
	fontRegular = mustFont("fonts/DejaVuSans.ttf")
	fontBold    = mustFont("fonts/DejaVuSans-Bold.ttf")
)

func mustFont(name string) []byte {
	b, err := fontFS.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	return b
}

// vietnam is the time zone the forms are dated in.
var vietnam = time.FixedZone("ICT", 7*3600)

const (
	pageW, pageH           = 210.0, 297.0 // A4, mm
	marginL, marginR, mTop = 20.0, 15.0, 12.0
	ptPerMM                = 72 / 25.4
	sigW, sigH             = 72.0, 26.0 // the signature box
)

// rendered is one form of a dossier, as a PDF, with where its signature goes.
type rendered struct {
	Form      *form
	PDF       []byte
	Placement placement
}

// placement is the signing API's visible-signature placement: page and rectangle in PDF
// points (origin at the bottom left).
type placement struct {
	Page int        `json:"page"`
	Rect [4]float64 `json:"rect"`
}

// render writes one declaration form as a one-page A4 PDF.
func (f *form) render(d dossier) (rendered, error) {
	date := d.Date.In(vietnam)
	w := newFormWriter(f, d, date)
	w.header(f)
	w.sections(f, d)
	w.pdf.Ln(3)
	w.font("", 10.5)
	w.pdf.MultiCell(w.contentW, 5.5, f.Pledge, "", "J", false)
	w.pdf.Ln(4)
	boxX, boxY := w.signatureBlock(f, d, date)
	w.footer()

	var buf bytes.Buffer
	if err := w.pdf.Output(&buf); err != nil {
		return rendered{}, fmt.Errorf("portal: rendering %q: %w", f.Title, err)
	}
	pl := placement{Page: w.pdf.PageNo(), Rect: [4]float64{
		boxX * ptPerMM, (pageH - boxY - sigH) * ptPerMM, (boxX + sigW) * ptPerMM, (pageH - boxY) * ptPerMM,
	}}
	return rendered{Form: f, PDF: buf.Bytes(), Placement: pl}, nil
}

// formWriter draws one declaration form on an A4 page in DejaVu Sans.
type formWriter struct {
	pdf      *fpdf.Fpdf
	contentW float64
}

// newFormWriter starts the PDF with its metadata, fonts and first page.
func newFormWriter(f *form, d dossier, date time.Time) *formWriter {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(date)
	pdf.SetModificationDate(date)
	pdf.SetCatalogSort(true)
	pdf.SetTitle(f.DocTitle, true)
	pdf.SetSubject(f.Title, true)
	pdf.SetAuthor(norm.NFC.String(d.Applicant.Name), true)
	pdf.SetCreator("Cổng Dịch vụ công tỉnh Thanh Hóa (demo)", true)
	pdf.SetLang("vi-VN")
	pdf.AddUTF8FontFromBytes("DejaVu", "", fontRegular)
	pdf.AddUTF8FontFromBytes("DejaVu", "B", fontBold)
	pdf.SetMargins(marginL, mTop, marginR)
	// Long typed values (200 characters each) may push the form onto a second page.
	pdf.SetAutoPageBreak(true, 16)
	pdf.AddPage()
	return &formWriter{pdf: pdf, contentW: pageW - marginL - marginR}
}

func (w *formWriter) font(style string, size float64) { w.pdf.SetFont("DejaVu", style, size) }

func (w *formWriter) center(style string, size, h float64, s string) {
	w.font(style, size)
	w.pdf.CellFormat(w.contentW, h, s, "", 1, "C", false, 0, "")
}

// header draws the form's code, the national motto, the title and the addressee.
func (w *formWriter) header(f *form) {
	pdf := w.pdf
	// The form's code, top right, as printed forms carry it.
	w.font("", 8)
	pdf.SetTextColor(90, 90, 90)
	pdf.CellFormat(w.contentW, 4, f.Code, "", 1, "R", false, 0, "")
	pdf.SetTextColor(0, 0, 0)
	pdf.Ln(1)

	// The national motto, the second line underlined by a short rule.
	w.center("B", 11.5, 6, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
	w.center("B", 11.5, 6, "Độc lập - Tự do - Hạnh phúc")
	w.font("B", 11.5)
	rule := pdf.GetStringWidth("Độc lập - Tự do - Hạnh phúc")
	y := pdf.GetY() + 0.5
	pdf.SetLineWidth(0.3)
	pdf.Line(pageW/2-rule/2, y, pageW/2+rule/2, y)
	pdf.Ln(9)

	w.center("B", 14.5, 8, f.Title)
	if f.Subtitle != "" {
		w.center("", 10, 5, f.Subtitle)
	}
	pdf.Ln(4)
	w.center("", 11, 6, f.To)
	pdf.Ln(3)
}

// sections draws each section's heading and its label: value rows.
func (w *formWriter) sections(f *form, d dossier) {
	// Rows a little tighter than the pledge: the birth form has three sections.
	const labelW, rowH = 68.0, 5.0
	pdf := w.pdf
	for _, s := range f.Sections {
		if s.Omit != nil && s.Omit(d) {
			continue
		}
		heading := s.Heading
		if s.HeadingOf != nil {
			heading = s.HeadingOf(d)
		}
		pdf.Ln(1.5)
		w.font("B", 11)
		pdf.CellFormat(w.contentW, 6.5, heading, "", 1, "L", false, 0, "")
		for _, r := range s.Rows {
			v := norm.NFC.String(r.Value(d)) // every statement the PDF makes is NFC
			if v == "" {
				v = "………………………………"
			}
			w.font("", 10.5)
			y := pdf.GetY()
			pdf.SetX(marginL + 4)
			pdf.MultiCell(labelW-4, rowH, r.Label+":", "", "L", false)
			yLabel := pdf.GetY()
			pdf.SetXY(marginL+labelW, y)
			w.font("B", 10.5)
			pdf.MultiCell(w.contentW-labelW, rowH, v, "", "L", false)
			if yLabel > pdf.GetY() {
				pdf.SetY(yLabel)
			}
			pdf.Ln(0.5)
		}
	}
}

// signatureBlock draws place and date, then the signature box, in the right half as on
// paper forms, kept together on one page; it returns the box's top-left corner in mm.
func (w *formWriter) signatureBlock(f *form, d dossier, date time.Time) (boxX, boxY float64) {
	pdf := w.pdf
	if pdf.GetY()+54 > pageH-16 {
		pdf.AddPage()
	}
	half := w.contentW / 2
	right := marginL + half
	pdf.SetX(right)
	w.font("", 10.5)
	pdf.CellFormat(half, 5.5, fmt.Sprintf("Thanh Hóa, ngày %02d tháng %02d năm %d", date.Day(), date.Month(), date.Year()), "", 1, "C", false, 0, "")
	pdf.SetX(right)
	w.font("B", 11)
	pdf.CellFormat(half, 6, f.SignAs, "", 1, "C", false, 0, "")
	pdf.SetX(right)
	w.font("", 9)
	pdf.CellFormat(half, 4.5, "(Ký số, ghi rõ họ tên)", "", 1, "C", false, 0, "")
	boxX, boxY = right+(half-sigW)/2, pdf.GetY()+1.5
	pdf.SetDrawColor(120, 120, 120)
	pdf.SetLineWidth(0.2)
	pdf.SetDashPattern([]float64{1.2, 1}, 0)
	pdf.Rect(boxX, boxY, sigW, sigH, "D")
	pdf.SetDashPattern(nil, 0)
	pdf.SetDrawColor(0, 0, 0)
	pdf.SetXY(right, boxY+sigH+1.5)
	w.font("B", 11)
	pdf.CellFormat(half, 6, norm.NFC.String(d.Applicant.Name), "", 1, "C", false, 0, "")
	return boxX, boxY
}

// footer prints where the form was made, at the bottom of the last page.
func (w *formWriter) footer() {
	pdf := w.pdf
	w.font("", 7.5)
	pdf.SetTextColor(110, 110, 110)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetXY(marginL, pageH-12)
	pdf.CellFormat(w.contentW, 4, "Lập trên Cổng Dịch vụ công tỉnh Thanh Hóa (bản trình diễn) - ký số từ xa qua Motlan", "T", 0, "C", false, 0, "")
}

// render makes every form of the bundle for d.
func (b *bundle) render(d dossier) ([]rendered, error) {
	out := make([]rendered, 0, len(b.Forms))
	for i := range b.Forms {
		r, err := b.Forms[i].render(d)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
