package pades

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/motlan/motlan/internal/testpki"
)

// TestVisibleSignatureReadable: the visible signature's text is at least MinFontSize
// (7 pt, readable on paper) whatever the box and the text: long lines are wrapped and the
// box grows upwards; pdfsig still validates, and the text still extracts.
func TestVisibleSignatureReadable(t *testing.T) {
	ca := testpki.NewCA(t)
	db := ca.NSSDB(t)
	font := vietnameseFont(t)
	reTf := regexp.MustCompile(`BT 0 0 0 rg /F1 ([0-9.]+) Tf`) // the appearance, not the page
	reRect := regexp.MustCompile(`(?s)/Subtype /Widget /FT /Sig .*?/Rect \[([0-9. ]+)\]`)
	long := "Ký hồ sơ đăng ký khai sinh, đăng ký thường trú và cấp thẻ bảo hiểm y tế cho trẻ em dưới sáu tuổi (liên thông)"
	tests := []struct {
		name   string
		rect   [4]float64
		reason string
		grows  bool
	}{
		{"the automatic box, a short reason", [4]float64{315, 36, 559, 106}, "Đăng ký khai sinh", false},
		{"the automatic box, a long reason (wrapped, fits)", [4]float64{315, 36, 559, 106}, long, false},
		{"a tiny box", [4]float64{400, 40, 520, 60}, long, true},
		{"a roomy box", [4]float64{60, 60, 560, 260}, "Đăng ký khai sinh", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opt := baseOptions()
			opt.Level = LevelBT
			opt.SignerName = "Trịnh Thị Ngọc Ánh"
			opt.Reason = tc.reason
			opt.Location = "Sầm Sơn, Thanh Hóa"
			opt.Appearance = &Appearance{Page: 1, Rect: tc.rect, Font: font}
			res := signOnce(t, ca, testpki.MinimalPDF(1), "ecdsa", opt)
			out, s := testpki.Pdfsig(t, db, res.pdf)
			if len(s) != 1 || !s[0].Valid || !s[0].Total {
				t.Fatalf("pdfsig:\n%s", out)
			}
			m := reTf.FindSubmatch(res.pdf)
			if m == nil {
				t.Fatal("no font size in the appearance")
			}
			size, _ := strconv.ParseFloat(string(m[1]), 64)
			if size < MinFontSize || size > 10 {
				t.Errorf("font size %v pt, want 7 to 10", size)
			}
			r := reRect.FindSubmatch(res.pdf)
			if r == nil {
				t.Fatal("no widget rectangle")
			}
			f := strings.Fields(string(r[1]))
			lly, _ := strconv.ParseFloat(f[1], 64)
			ury, _ := strconv.ParseFloat(f[3], 64)
			if grew := ury-lly > tc.rect[3]-tc.rect[1]+0.01; grew != tc.grows || lly != tc.rect[1] {
				t.Errorf("rect %s from %v: grew %v, want %v (bottom kept)", r[1], tc.rect, grew, tc.grows)
			}
			raw, err := exec.Command("pdftotext", "-enc", "UTF-8", writeTemp(t, res.pdf), "-").Output()
			if err != nil {
				t.Fatalf("pdftotext: %v", err)
			}
			text := string(raw)
			for _, w := range []string{"Trịnh", "Ánh", "thường", "Hóa"} {
				if (tc.reason == long || w != "thường") && !strings.Contains(text, w) {
					t.Errorf("pdftotext lacks %q:\n%s", w, text)
				}
			}
		})
	}
}
