package pades

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/motlan/motlan/internal/testenv"
	"github.com/motlan/motlan/internal/testpki"
)

// vietnameseFont finds a TrueType font with Vietnamese glyphs (Debian fonts-dejavu-core).
func vietnameseFont(t testing.TB) []byte {
	t.Helper()
	for _, p := range []string{
		"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
		"/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
	} {
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
	}
	testenv.Missing(t, "a TrueType font with Vietnamese glyphs (Debian: fonts-dejavu-core)")
	return nil
}

func TestVisibleSignature(t *testing.T) {
	ca := testpki.NewCA(t)
	db := ca.NSSDB(t)
	fontBytes := vietnameseFont(t)
	for _, variant := range []struct {
		name string
		args []string
	}{{"classic-xref", nil}, {"object-streams", []string{"--object-streams=generate"}}} {
		t.Run(variant.name, func(t *testing.T) {
			src := testpki.MinimalPDF(2)
			if variant.args != nil {
				src = testpki.QPDF(t, src, variant.args...)
			}
			opt := baseOptions()
			opt.Level = LevelBT
			// ĩ and Ĩ (U+0129, U+0128) carry bare parentheses in naive UTF-16 literal strings.
			opt.SignerName = "Lê Công Hảo"
			opt.Reason = "Ĩnh xác nhận nghĩa vụ (hồ sơ số 7)"
			opt.Location = "Sầm Sơn, Thanh Hóa"
			opt.Appearance = &Appearance{Page: 2, Rect: [4]float64{300, 60, 560, 140}, Font: fontBytes}
			res := signOnce(t, ca, src, "ecdsa", opt)
			keep(t, "visible-"+variant.name, res.pdf)
			out, s := testpki.Pdfsig(t, db, res.pdf)
			if len(s) != 1 || !s[0].Valid || !s[0].Trusted || !s[0].Total || !s[0].CAdES {
				t.Fatalf("pdfsig:\n%s", out)
			}
			if len(res.pdf)-len(src) > 120<<10 {
				t.Errorf("increment is %d bytes: the font was not subset", len(res.pdf)-len(src))
			}
			if _, err := exec.LookPath("pdftoppm"); err == nil {
				dir := t.TempDir()
				f := filepath.Join(dir, "v.pdf")
				os.WriteFile(f, res.pdf, 0o600)
				if msg, err := exec.Command("pdftoppm", "-f", "2", "-l", "2", "-r", "60", "-png", f, filepath.Join(dir, "p")).CombinedOutput(); err != nil || len(bytes.TrimSpace(msg)) > 0 {
					t.Errorf("pdftoppm: %v %s", err, msg)
				}
			}
			if fonts, err := exec.Command("pdffonts", "-f", "2", "-l", "2", writeTemp(t, res.pdf)).CombinedOutput(); err == nil {
				if !strings.Contains(string(fonts), "MotlanSign") || !strings.Contains(string(fonts), "Identity-H") {
					t.Errorf("pdffonts does not list the embedded font:\n%s", fonts)
				}
			}
		})
	}
}

func writeTemp(t *testing.T, b []byte) string {
	f := filepath.Join(t.TempDir(), "x.pdf")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
