package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/motlan/motlan/internal/testenv"
	"github.com/motlan/motlan/internal/testpki"
	"github.com/motlan/motlan/signing/verify"
)

// This file signs PDFs written by another producer than the hand-written minimalPDF:
// a Vietnamese birth-registration dossier made with github.com/go-pdf/fpdf (classic
// cross-reference table, no /ID, an embedded UTF-8 TrueType font with Identity-H),
// and qpdf rewrites of that same file (object and cross-reference streams,
// linearized, both). Each is signed twice, by two citizens, and checked with
// poppler's pdfsig and with Motlan's own verifier.

const dejaVuSans = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

// Visible signature boxes on page 2, in PDF user space (points, origin bottom left);
// dossierPDF draws their frames and labels.
var (
	motherBox    = [4]float64{40, 60, 280, 140}
	requesterBox = [4]float64{315, 60, 555, 140}
)

// Strings the dossier must show (and pdftotext must extract, through fpdf's ToUnicode).
var dossierStrings = []string{"Tờ khai đăng ký khai sinh", "Nguyễn Văn Lĩnh", "Ĩ ĩ", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"}

// dossierPDF writes a two-page A4 "Tờ khai đăng ký khai sinh" with fpdf and DejaVuSans
// embedded as a UTF-8 font.
func dossierPDF(t testing.TB) []byte {
	t.Helper()
	font, err := os.ReadFile(dejaVuSans)
	if err != nil {
		testenv.Missing(t, "%s (Debian: fonts-dejavu-core)", dejaVuSans)
		return nil
	}
	const pageH = 841.89 // A4 in points; fpdf measures y from the top.
	pdf := fpdf.New("P", "pt", "A4", "")
	pdf.SetCreationDate(time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC))
	pdf.SetModificationDate(time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC))
	pdf.SetCatalogSort(true)
	pdf.SetTitle("Tờ khai đăng ký khai sinh — Nguyễn Văn Lĩnh", true)
	pdf.SetAuthor("Lê Công Hảo", true)
	pdf.SetSubject("Hồ sơ đăng ký khai sinh, UBND phường Sầm Sơn", true)
	pdf.SetCreator("Motlan producers_test (go-pdf/fpdf)", true)
	pdf.SetLang("vi-VN")
	pdf.AddUTF8FontFromBytes("DejaVu", "", font)
	pdf.SetMargins(56, 48, 56)
	pdf.SetAutoPageBreak(false, 0)
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetXY(56, pageH-36)
		pdf.SetFont("DejaVu", "", 7)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(0, 10, "Mẫu TK-KS/2026 — ký tự kiểm tra: Ĩ ĩ Ũ ũ Ơ ơ Ư ư Đ đ Ỹ ỹ", "", 0, "L", false, 0, "")
		pdf.CellFormat(0, 10, "Trang "+strconv.Itoa(pdf.PageNo())+"/{nb}", "", 0, "R", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	line := func(size, h float64, align, s string) {
		pdf.SetFont("DejaVu", "", size)
		pdf.CellFormat(0, h, s, "", 1, align, false, 0, "")
	}
	field := func(label, value string) {
		pdf.SetFont("DejaVu", "", 10.5)
		pdf.MultiCell(0, 16, label+": "+value, "", "L", false)
	}

	pdf.AddPage()
	line(11, 15, "C", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
	line(11, 15, "C", "Độc lập - Tự do - Hạnh phúc")
	pdf.Line(220, pdf.GetY()+2, 375, pdf.GetY()+2)
	pdf.Ln(26)
	line(17, 24, "C", "TỜ KHAI ĐĂNG KÝ KHAI SINH")
	line(10, 14, "C", "(Tờ khai đăng ký khai sinh điện tử, nộp qua Cổng dịch vụ công)")
	pdf.Ln(12)
	line(11, 18, "L", "Kính gửi: Ủy ban nhân dân phường Sầm Sơn, tỉnh Thanh Hóa")
	pdf.Ln(6)
	field("Họ, chữ đệm, tên người yêu cầu", "Lê Công Hảo")
	field("Nơi cư trú", "số 12 đường Nguyễn Du, phường Sầm Sơn, tỉnh Thanh Hóa")
	field("Giấy tờ tùy thân", "Căn cước công dân số 038092004567")
	field("Quan hệ với người được đăng ký khai sinh", "Ông ngoại")
	pdf.Ln(8)
	line(11, 18, "L", "Đề nghị cơ quan đăng ký khai sinh cho người dưới đây:")
	field("Họ, chữ đệm, tên", "Nguyễn Văn Lĩnh")
	field("Ngày, tháng, năm sinh", "02/01/2026 (ngày hai, tháng một, năm hai nghìn không trăm hai mươi sáu)")
	field("Giới tính", "Nam     Dân tộc: Kinh     Quốc tịch: Việt Nam")
	field("Nơi sinh", "Bệnh viện Đa khoa tỉnh Thanh Hóa")
	field("Quê quán", "xã Quảng Nghĩa, tỉnh Thanh Hóa")
	pdf.Ln(8)
	// Parents, as a small bordered table.
	pdf.SetFont("DejaVu", "", 10)
	pdf.SetFillColor(235, 240, 250)
	for i, row := range [][3]string{
		{"", "Mẹ", "Cha"},
		{"Họ, chữ đệm, tên", "Lê Thị Nghĩa", "Nguyễn Văn Tĩnh"},
		{"Năm sinh", "1995", "1993"},
		{"Dân tộc / Quốc tịch", "Kinh / Việt Nam", "Kinh / Việt Nam"},
		{"Nơi cư trú", "phường Sầm Sơn, Thanh Hóa", "phường Sầm Sơn, Thanh Hóa"},
	} {
		fill := i == 0
		pdf.CellFormat(140, 20, row[0], "1", 0, "L", fill, 0, "")
		pdf.CellFormat(171, 20, row[1], "1", 0, "L", fill, 0, "")
		pdf.CellFormat(171, 20, row[2], "1", 1, "L", fill, 0, "")
	}

	pdf.AddPage()
	line(12, 20, "L", "Cam đoan")
	pdf.SetFont("DejaVu", "", 10.5)
	pdf.MultiCell(0, 16, "Tôi cam đoan nội dung đề nghị đăng ký khai sinh trên đây là đúng sự thật, "+
		"được sự thỏa thuận nhất trí của các bên liên quan theo quy định pháp luật. "+
		"Tôi chịu hoàn toàn trách nhiệm trước pháp luật về nội dung cam đoan của mình.", "", "J", false)
	pdf.Ln(10)
	field("Đề nghị cấp bản sao", "Có, số lượng: 02 bản")
	field("Giấy tờ kèm theo", "Giấy chứng sinh số 123/GCS; văn bản ủy quyền của cha, mẹ")
	pdf.Ln(10)
	line(10.5, 16, "R", "Làm tại: phường Sầm Sơn, ngày 02 tháng 01 năm 2026")

	// The frames the visible signatures fill.
	for _, b := range []struct {
		box   [4]float64
		label string
	}{{motherBox, "Mẹ của trẻ (ký số)"}, {requesterBox, "Người yêu cầu (ký số)"}} {
		x, y, w, h := b.box[0], pageH-b.box[3], b.box[2]-b.box[0], b.box[3]-b.box[1]
		pdf.SetXY(x, y-20)
		pdf.SetFont("DejaVu", "", 10)
		pdf.CellFormat(w, 16, b.label, "", 0, "C", false, 0, "")
		pdf.SetDrawColor(150, 150, 150)
		pdf.SetDashPattern([]float64{3, 2}, 0)
		pdf.Rect(x-2, y-2, w+4, h+4, "D")
		pdf.SetDashPattern(nil, 0)
		pdf.SetDrawColor(0, 0, 0)
	}

	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		t.Fatalf("fpdf: %v", err)
	}
	return out.Bytes()
}

// signAs signs in with the given key and certificate, like signOnce but for any signer.
func signAs(t *testing.T, ca *testpki.CA, in []byte, cert *x509.Certificate, key crypto.Signer, opt Options) []byte {
	t.Helper()
	cs := &countingSigner{Signer: FromCryptoSigner(key)}
	opt.Certificate = cert
	opt.Chain = []*x509.Certificate{ca.Root}
	if opt.Level == LevelBT {
		opt.Timestamp = ca.Timestamper(nil)
	}
	var out bytes.Buffer
	if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, cs, opt); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if got := cs.calls.Load(); got != 1 {
		t.Fatalf("signer called %d times, want exactly 1", got)
	}
	if !bytes.HasPrefix(out.Bytes(), in) {
		t.Fatal("the original bytes were not preserved")
	}
	return out.Bytes()
}

// verifyReport runs signing/verify with the test root as the only trust anchor.
func verifyReport(t *testing.T, ca *testpki.CA, pdf []byte) verify.Report {
	t.Helper()
	rep, err := verify.Verify(context.Background(), bytes.NewReader(pdf), int64(len(pdf)), verify.Options{Roots: ca.Pool()})
	if err != nil {
		t.Fatalf("verify.Verify: %v", err)
	}
	return rep
}

// tamperOffset picks a byte inside the first signed range (shared by every signature)
// whose change leaves the file parseable: the binary comment on the second line when
// the producer wrote one (qpdf does), else the header's minor version digit (fpdf
// writes only "%PDF-1.x").
func tamperOffset(pdf []byte) int {
	nl := bytes.IndexByte(pdf, '\n')
	if nl+2 < len(pdf) && pdf[nl+1] == '%' && pdf[nl+2] >= 0x80 {
		return nl + 2
	}
	return len("%PDF-1.")
}

func TestSignOtherProducers(t *testing.T) {
	ca := testpki.NewCA(t)
	db := ca.NSSDB(t)
	testpki.Need(t, "qpdf", "pdftotext", "pdftoppm")
	base := dossierPDF(t)

	// The fpdf output renders the Vietnamese text (its ToUnicode maps make it extractable).
	if txt, err := exec.Command("pdftotext", "-enc", "UTF-8", writeTemp(t, base), "-").CombinedOutput(); err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, txt)
	} else {
		for _, s := range dossierStrings {
			if !strings.Contains(string(txt), s) {
				t.Errorf("pdftotext does not find %q in the fpdf document:\n%s", s, txt)
			}
		}
	}

	mother, motherKey := ca.CitizenNamed(t, "ecdsa", "Lê Thị Nghĩa", "CCCD:038195001234")
	producers := []struct {
		name string
		qpdf []string
		// marks are byte strings the variant must contain (so qpdf did what is claimed).
		marks []string
	}{
		{"fpdf", nil, []string{"\nxref\n"}},
		{"fpdf+objstm", []string{"--object-streams=generate"}, []string{"/ObjStm", "/XRef"}},
		{"fpdf+linearized", []string{"--linearize"}, []string{"/Linearized"}},
		{"fpdf+objstm+linearized", []string{"--object-streams=generate", "--linearize"}, []string{"/ObjStm", "/XRef", "/Linearized"}},
	}
	variants := map[string][]byte{}
	for _, p := range producers {
		src := base
		if p.qpdf != nil {
			src = testpki.QPDF(t, base, p.qpdf...)
		}
		for _, m := range p.marks {
			if !bytes.Contains(src, []byte(m)) {
				t.Fatalf("%s: the input has no %q", p.name, m)
			}
		}
		variants[p.name] = src
	}

	for _, p := range producers {
		for _, level := range []Level{LevelBB, LevelBT} {
			name := p.name + "/" + level.String()
			t.Run(name, func(t *testing.T) {
				src := variants[p.name]

				// First signer: the mother, ECDSA, visible on page 2.
				opt := baseOptions()
				opt.Level = level
				opt.Reason = "Mẹ của trẻ đồng ý nội dung tờ khai"
				opt.Appearance = &Appearance{Page: 2, Rect: motherBox, Font: vietnameseFont(t)}
				first := signAs(t, ca, src, mother, motherKey, opt)
				checkProducerSigs(t, ca, db, first, level, []string{"Lê Thị Nghĩa"})

				// Second signer: the requester, RSA, visible next to it.
				requester, requesterKey := ca.Citizen(t, "rsa")
				opt = baseOptions()
				opt.Level = level
				opt.Appearance = &Appearance{Page: 2, Rect: requesterBox, Font: vietnameseFont(t)}
				second := signAs(t, ca, first, requester, requesterKey, opt)
				keep(t, "producers-"+name, second)
				rep := checkProducerSigs(t, ca, db, second, level, []string{"Lê Thị Nghĩa", "Lê Công Hảo"})
				checkCMS(t, second, level)
				if ch := rep.Signatures[0].Changes; ch == nil || ch.LaterRevisions != 1 {
					t.Errorf("first signature: changes after signing %+v, want one later revision", ch)
				}

				// One flipped byte inside the signed range both signatures share.
				tampered := bytes.Clone(second)
				tampered[tamperOffset(tampered)] ^= 0x01
				out, sigs := testpki.Pdfsig(t, db, tampered)
				if len(sigs) != 2 || sigs[0].Valid || sigs[1].Valid {
					t.Fatalf("tampered: pdfsig still accepts a signature:\n%s", out)
				}
				trep := verifyReport(t, ca, tampered)
				if len(trep.Signatures) != 2 {
					t.Fatalf("tampered: verify found %d signatures", len(trep.Signatures))
				}
				for i, s := range trep.Signatures {
					if s.Indication != verify.TotalFailed || s.SubIndication != verify.HashFailure {
						t.Errorf("tampered: signature %d is %s/%s, want TOTAL_FAILED/HASH_FAILURE", i+1, s.Indication, s.SubIndication)
					}
				}
			})
		}
	}

	// Render the signed page of one output: no poppler complaints, and a keepable PNG.
	t.Run("render", func(t *testing.T) {
		opt := baseOptions()
		opt.Level = LevelBT
		opt.Reason = "Mẹ của trẻ đồng ý nội dung tờ khai"
		opt.Appearance = &Appearance{Page: 2, Rect: motherBox, Font: vietnameseFont(t)}
		signed := signAs(t, ca, variants["fpdf+objstm+linearized"], mother, motherKey, opt)
		requester, requesterKey := ca.Citizen(t, "ecdsa")
		opt.Reason = baseOptions().Reason
		opt.Appearance = &Appearance{Page: 2, Rect: requesterBox, Font: opt.Appearance.Font}
		signed = signAs(t, ca, signed, requester, requesterKey, opt)
		dir := t.TempDir()
		f := filepath.Join(dir, "signed.pdf")
		if err := os.WriteFile(f, signed, 0o600); err != nil {
			t.Fatal(err)
		}
		msg, err := exec.Command("pdftoppm", "-f", "2", "-l", "2", "-r", "60", "-png", "-singlefile", f, filepath.Join(dir, "page2")).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(msg)) > 0 {
			t.Fatalf("pdftoppm: %v %s", err, msg)
		}
		png, err := os.ReadFile(filepath.Join(dir, "page2.png"))
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Fatalf("no PNG: %v", err)
		}
		if *keepOutput != "" {
			_ = os.MkdirAll(*keepOutput, 0o755)
			_ = os.WriteFile(filepath.Join(*keepOutput, "producers-render-page2.png"), png, 0o644)
			_ = os.WriteFile(filepath.Join(*keepOutput, "producers-render.pdf"), signed, 0o644)
		}
	})
}

// checkProducerSigs checks pdf with pdfsig and verify.Verify: one signature per name,
// in order, each valid, trusted, ETSI.CAdES.detached at the given level, and only the
// last covering the whole document. It returns the verifier's report.
func checkProducerSigs(t *testing.T, ca *testpki.CA, db string, pdf []byte, level Level, names []string) verify.Report {
	t.Helper()
	n := len(names)
	out, sigs := testpki.Pdfsig(t, db, pdf)
	if testing.Verbose() && n == 2 {
		t.Log(out)
	}
	if len(sigs) != n {
		t.Fatalf("pdfsig found %d signatures, want %d:\n%s", len(sigs), n, out)
	}
	for i, s := range sigs {
		last := i == n-1
		if !s.Valid || !s.Trusted || !s.CAdES || s.Total != last {
			t.Fatalf("pdfsig signature %d: valid=%v trusted=%v cades=%v total=%v (want total=%v)\n%s",
				i+1, s.Valid, s.Trusted, s.CAdES, s.Total, last, out)
		}
		if !strings.Contains(s.Text, names[i]) {
			t.Errorf("pdfsig signature %d does not name %q:\n%s", i+1, names[i], s.Text)
		}
	}

	rep := verifyReport(t, ca, pdf)
	if len(rep.Signatures) != n {
		t.Fatalf("verify found %d signatures, want %d", len(rep.Signatures), n)
	}
	for i, s := range rep.Signatures {
		last := i == n-1
		if s.Indication != verify.TotalPassed {
			t.Errorf("verify signature %d: %s/%s %v", i+1, s.Indication, s.SubIndication, s.Errors)
		}
		if s.Level != level.String() || s.SubFilter != "ETSI.CAdES.detached" {
			t.Errorf("verify signature %d: level %q sub-filter %q, want %s ETSI.CAdES.detached (%v)", i+1, s.Level, s.SubFilter, level, s.LevelReasons)
		}
		if !s.Coverage.CoversRevision || s.Coverage.CoversWholeDocument != last {
			t.Errorf("verify signature %d: coverage %+v, want whole document=%v", i+1, s.Coverage, last)
		}
		if s.Signer == nil || s.Signer.Name != names[i] || s.Signer.IDType != "CCCD" {
			t.Errorf("verify signature %d: signer %+v, want %q", i+1, s.Signer, names[i])
		}
		if !s.Chain.Trusted || !s.Integrity.DigestMatches || !s.Integrity.SignatureValid {
			t.Errorf("verify signature %d: chain %+v integrity %+v", i+1, s.Chain, s.Integrity)
		}
		if (s.Timestamp != nil && s.Timestamp.Valid) != (level == LevelBT) {
			t.Errorf("verify signature %d: timestamp %+v at level %s", i+1, s.Timestamp, level)
		}
	}
	return rep
}
