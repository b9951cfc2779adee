package portal

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/motlan/motlan/internal/testenv"
)

var testNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func TestFieldParse(t *testing.T) {
	name := inputField{Name: "n", Kind: "text", Max: 20, Person: true}
	text := inputField{Name: "t", Kind: "text", Max: 10}
	child := inputField{Name: "d", Kind: "date", Past: true, MaxAge: 5}
	date := inputField{Name: "d", Kind: "date", Past: true}
	sel := inputField{Name: "s", Kind: "select", Options: []string{"male", "female"}}
	cccd := inputField{Name: "c", Kind: "cccd"}
	tests := []struct {
		name    string
		f       inputField
		in      string
		want    string
		wantErr string
	}{
		{"name with diacritics", name, "  Lê   Công Hảo ", "Lê Công Hảo", ""},
		// NFC where text enters: decomposed marks (iOS, macOS, Unikey's "Unicode tổ hợp")
		// come out precomposed, as the registries search them.
		{"name in combining marks", name, "Le\u0302 Co\u0302ng Ha\u0309o", "L\u00ea C\u00f4ng H\u1ea3o", ""},
		{"name with hyphen and apostrophe", name, "H'Hen Niê-Ka", "H'Hen Niê-Ka", ""},
		{"name with a digit", name, "Lê 2", "Lê 2", "v_name"},
		{"name with markup", name, "<b>Lê</b>", "<b>Lê</b>", "v_name"},
		{"one letter", name, "A", "A", "v_name"},
		{"empty", name, "   ", "", "v_required"},
		{"too long", text, "Thanh Hóa Thanh Hóa", "Thanh Hóa ", "v_too_long"},
		{"invalid UTF-8 dropped", text, "Hóa\xff", "Hóa", ""},
		{"ISO date", child, "2026-11-20", "2026-11-20", ""},
		{"Vietnamese order", child, "20/11/2026", "2026-11-20", ""},
		{"short day and month", child, "5/9/2025", "2025-09-05", ""},
		{"dashes", child, "05-09-2025", "2025-09-05", ""},
		{"30 February", child, "2025-02-30", "2025-02-30", "v_date"},
		{"month 13", child, "01/13/2025", "01/13/2025", "v_date"},
		{"words", child, "hôm qua", "hôm qua", "v_date"},
		{"year 0001", date, "0001-01-01", "0001-01-01", "v_date"},
		{"tomorrow", child, "2026-11-28", "2026-11-28", "v_future"},
		{"today", child, "2026-11-27", "2026-11-27", ""},
		{"five years old", child, "2020-11-28", "2020-11-28", ""},
		{"six years old today", child, "2020-11-27", "2020-11-27", "v_max_age_5"},
		{"born 1900", date, "1900-06-01", "1900-06-01", ""},
		{"sex", sel, "female", "female", ""},
		{"sex not offered", sel, "other", "", "v_choose"},
		{"sex not chosen", sel, "", "", "v_choose"},
		{"CCCD", cccd, "038092004567", "038092004567", ""},
		{"CCCD with letters", cccd, "03809200456A", "03809200456A", "v_cccd"},
		{"CCCD of 11 digits", cccd, "03809200456", "03809200456", "v_cccd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, key := tc.f.parse(tc.in, testNow)
			if got != tc.want || key != tc.wantErr {
				t.Errorf("parse(%q) = %q, %q; want %q, %q", tc.in, got, key, tc.want, tc.wantErr)
			}
			if key != "" && messages["vi"][key] == "" || key != "" && messages["en"][key] == "" {
				t.Errorf("no message for %q", key)
			}
		})
	}
}

func TestCCCDMatches(t *testing.T) {
	tests := []struct {
		cccd, birth, sex string
		want             bool
	}{
		{"038092004567", "1992-11-02", "male", true},
		{"038178003321", "1978-07-20", "female", true},
		{"038204007788", "2004-01-09", "male", true},
		{"038303002468", "2003-05-30", "female", true},
		{"038092004567", "1992-11-02", "female", false}, // sex digit says male
		{"038093004567", "1992-11-02", "male", false},   // year digits
		{"038292004567", "1992-11-02", "male", false},   // century
		{"038092004567", "not a date", "male", false},
	}
	for _, tc := range tests {
		if got := cccdMatches(tc.cccd, tc.birth, tc.sex); got != tc.want {
			t.Errorf("cccdMatches(%s, %s, %s) = %v", tc.cccd, tc.birth, tc.sex, got)
		}
	}
}

// TestBundleParse: every field of a bundle is checked in one pass, so the citizen sees
// every mistake at once; the cross-field rules run when the fields are right.
func TestBundleParse(t *testing.T) {
	good := url.Values{"deceased_name": {"Lê Văn Lĩnh"}, "deceased_cccd": {"038045001234"}, "deceased_birthdate": {"01/01/1945"},
		"deceased_sex": {"male"}, "death_date": {"2026-11-20"}, "death_place": {"Nhà riêng"},
		"deceased_address": {"Thôn Ĩnh, xã Quảng Xương"}, "relationship": {"child"}}
	v, errs := deathBundle.parse(good, testNow)
	if len(errs) != 0 || v["deceased_birthdate"] != "1945-01-01" {
		t.Fatalf("good form: %v %v", v, errs)
	}
	_, errs = deathBundle.parse(url.Values{"deceased_name": {"Lê Văn Lĩnh"}}, testNow)
	if len(errs) != len(deathBundle.Fields)-1 {
		t.Errorf("empty form but the name: %d errors %v, want %d", len(errs), errs, len(deathBundle.Fields)-1)
	}
	for i, e := range errs {
		if e.Field != deathBundle.Fields[i+1].Name {
			t.Errorf("error %d on %s, want the fields' order", i, e.Field)
		}
	}
	bad := url.Values{}
	for k, vs := range good {
		bad[k] = vs
	}
	bad.Set("deceased_sex", "female")
	if _, errs = deathBundle.parse(bad, testNow); len(errs) != 1 || errs[0] != (fieldError{"deceased_cccd", "v_cccd_mismatch"}) {
		t.Errorf("CCCD of a man for a woman: %v", errs)
	}
}

// TestRenderLongValues: the longest values the form accepts flow onto a second page;
// the signature box stays whole on the last one.
func TestRenderLongValues(t *testing.T) {
	long := strings.Repeat("Thôn Ĩnh Quảng ", 14)[:200]
	d := dossier{Applicant: citizen{Name: "Lê Công Hảo", Address: long}, V: values{}, Date: testNow}
	for _, f := range deathBundle.Fields {
		d.V[f.Name] = long
	}
	docs, err := deathBundle.render(d)
	if err != nil {
		t.Fatal(err)
	}
	twoPages := 0
	for _, doc := range docs {
		r := doc.Placement.Rect
		if r[1] < 40 || r[3] > 841.89-40 {
			t.Errorf("%s: placement %+v", doc.Form.File, doc.Placement)
		}
		n := strings.Count(string(doc.PDF), "/Type /Page") - strings.Count(string(doc.PDF), "/Type /Pages")
		if doc.Placement.Page != n {
			t.Errorf("%s: signature on page %d of %d", doc.Form.File, doc.Placement.Page, n)
		}
		if n == 2 {
			twoPages++
		}
	}
	if twoPages == 0 {
		t.Error("no form flowed onto a second page: the test does not test the flow")
	}
}

// TestRenderPDF renders every form of both bundles and reads them back with poppler's
// pdftotext: the Vietnamese text must come out exactly, from the embedded DejaVu Sans.
func TestRenderPDF(t *testing.T) {
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		testenv.Missing(t, "pdftotext (Debian package poppler-utils)")
	}
	pdffonts, _ := exec.LookPath("pdffonts")
	d := dossier{
		Applicant: citizen{Name: "Lê Công Hảo", Birthdate: "1992-11-02", Gender: "male", CCCD: "038092004567",
			Address: "Số 12 đường Lê Lợi, phường Hạc Thành, tỉnh Thanh Hóa", Phone: "+84912345678", Nationality: "Việt Nam"},
		V: values{"child_name": "Lê Minh Khôi", "child_birthdate": "2026-11-20", "child_sex": "male",
			"child_birthplace": "Bệnh viện Đa khoa tỉnh Thanh Hóa", "applicant_relation": "father", "applicant_ethnicity": "Kinh",
			"child_ethnicity": "Mường", "child_nationality": "Việt Nam", "other_name": "Hà Thị Mai", "other_birthdate": "1994-05-06",
			"other_ethnicity": "Mường", "other_nationality": "Việt Nam", "other_address": "Thôn Đông, xã Quảng Xương",
			"deceased_name": "Lê Văn Lĩnh", "deceased_cccd": "038045001234", "deceased_birthdate": "1945-01-01",
			"deceased_sex": "male", "death_date": "2026-11-20", "death_place": "Nhà riêng, thôn Ĩnh",
			"deceased_address": "Thôn Ĩnh, xã Quảng Xương, tỉnh Thanh Hóa", "relationship": "child"},
		Date: time.Date(2026, 11, 27, 0, 0, 0, 0, vietnam),
	}
	dir := t.TempDir()
	common := []string{"CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "Lê Công Hảo", "038092004567",
		"Thanh Hóa, ngày 27 tháng 11 năm 2026", "(Ký số, ghi rõ họ tên)"}
	for _, tc := range []struct {
		b    *bundle
		want [][]string // per form
	}{
		{birthBundle, [][]string{
			{"TỜ KHAI ĐĂNG KÝ KHAI SINH", "Lê Minh Khôi", "20/11/2026", "Bệnh viện Đa khoa tỉnh Thanh Hóa", "Quan hệ với người được khai", "Cha", "Người yêu cầu",
				"Mường", "Kinh", "Thông tin người mẹ", "Hà Thị Mai", "06/05/1994", "Thôn Đông, xã Quảng Xương"},
			{"TỜ KHAI THAY ĐỔI THÔNG TIN CƯ TRÚ", "(Đăng ký thường trú cho trẻ em)", "Lê Minh Khôi", "Công an cấp xã", "Số 12 đường Lê Lợi, phường Hạc Thành,", "Người kê khai"},
			{"TỜ KHAI THAM GIA BẢO HIỂM Y TẾ", "dưới 6 tuổi", "Lê Minh Khôi", "Bảo hiểm xã hội tỉnh Thanh Hóa"},
		}},
		{deathBundle, [][]string{
			{"TỜ KHAI ĐĂNG KÝ KHAI TỬ", "Lê Văn Lĩnh", "01/01/1945", "038045001234", "20/11/2026", "Nhà riêng, thôn Ĩnh", "Con"},
			{"TỜ KHAI THAY ĐỔI THÔNG TIN CƯ TRÚ", "(Xóa đăng ký thường trú đối với người đã chết)", "Thôn Ĩnh, xã Quảng Xương, tỉnh Thanh Hóa"},
			{"TỜ KHAI ĐỀ NGHỊ HỖ TRỢ CHI PHÍ MAI TÁNG", "Người đứng ra tổ chức mai táng", "Lê Văn Lĩnh", "Nam"},
		}},
	} {
		docs, err := tc.b.render(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != 3 {
			t.Fatalf("%s: %d documents", tc.b.ID, len(docs))
		}
		for i, doc := range docs {
			path := filepath.Join(dir, doc.Form.File)
			if err := os.WriteFile(path, doc.PDF, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(pdftotext, "-enc", "UTF-8", path, "-").Output()
			if err != nil {
				t.Fatalf("%s: pdftotext: %v", doc.Form.File, err)
			}
			text := string(out)
			for _, want := range append(append([]string{}, common...), tc.want[i]...) {
				if !strings.Contains(text, want) {
					t.Errorf("%s lacks %q; pdftotext gives:\n%s", doc.Form.File, want, text)
				}
			}
			if strings.Count(text, "\f") != 1 {
				t.Errorf("%s has %d pages, want 1", doc.Form.File, strings.Count(text, "\f"))
			}
			// The box for the signature is on the page, inside A4, below the text.
			r := doc.Placement.Rect
			if doc.Placement.Page != 1 || r[0] < 280 || r[2] > 595 || r[1] < 40 || r[3]-r[1] < 60 || r[2]-r[0] < 180 {
				t.Errorf("%s: signature placement %+v", doc.Form.File, doc.Placement)
			}
			if pdffonts != "" {
				fonts, err := exec.Command(pdffonts, path).Output()
				if err != nil || !strings.Contains(strings.ToLower(string(fonts)), "dejavu") {
					t.Errorf("%s: pdffonts: %v\n%s", doc.Form.File, err, fonts)
				}
				for _, line := range strings.Split(string(fonts), "\n")[2:] {
					if f := strings.Fields(line); len(f) >= 5 && f[len(f)-5] != "yes" {
						t.Errorf("%s: font not embedded: %s", doc.Form.File, line)
					}
				}
			}
		}
	}
}

// FuzzBundleParse: whatever a browser posts, parsing answers values and messages, never
// a panic; a value it accepts renders into the forms.
func FuzzBundleParse(f *testing.F) {
	f.Add("Lê Minh Khôi", "2026-11-20", "male", "Bệnh viện", "038045001234", "child")
	f.Add("", "31/02/2025", "x", "\xff\xfe", "03804500123A", "")
	f.Add("A'-", "0001-01-01", "female", strings.Repeat("Ĩ", 300), "999999999999", "other")
	f.Fuzz(func(t *testing.T, name, date, sex, text, cccd, rel string) {
		for _, b := range bundles {
			form := url.Values{}
			for _, fd := range b.Fields {
				switch fd.Kind {
				case "date":
					form.Set(fd.Name, date)
				case "select":
					form.Set(fd.Name, sex)
					if fd.Name == "relationship" {
						form.Set(fd.Name, rel)
					}
				case "cccd":
					form.Set(fd.Name, cccd)
				default:
					form.Set(fd.Name, name+text)
				}
			}
			v, errs := b.parse(form, testNow)
			for _, e := range errs {
				if messages["vi"][e.Key] == "" || messages["en"][e.Key] == "" {
					t.Fatalf("no message for %q", e.Key)
				}
			}
			for k, s := range v {
				if !utf8.ValidString(s) {
					t.Fatalf("%s: invalid UTF-8 %q", k, s)
				}
			}
			if len(errs) == 0 {
				if _, err := b.render(dossier{Applicant: citizen{Name: name}, V: v, Date: testNow}); err != nil {
					t.Fatalf("render accepted values: %v", err)
				}
			}
		}
	})
}
