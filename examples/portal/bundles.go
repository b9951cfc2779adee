package portal

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// A bundle is a set of linked procedures a citizen files at once: the fields the citizen
// types (once), and one declaration form per procedure that those fields and the verified
// claims fill. Both pilot bundles run through the same code; adding a third is data only.
type bundle struct {
	ID       string // the URL segment: /ho-so/{ID}
	NameKey  string // messages key of the bundle's name
	IntroKey string // messages key of the line under the form's section heading
	Section  string // messages key of the typed section's heading
	Reason   string // the signing request's reason, shown on the citizen's phone
	NextKey  string // messages key of the receipt's next steps
	Fields   []inputField
	Forms    []form
	// check runs after every field passed its own checks: rules across fields.
	check func(v values, now time.Time) (field, key string)
}

// inputField is one field the citizen types.
type inputField struct {
	Name     string   // form name and HTML id suffix
	LabelKey string   // messages key
	Kind     string   // "text", "date", "select", "cccd"
	Options  []string // for "select": values; their labels are messages keys "opt_"+value
	Literal  bool     // for "select": each value is its own label (ethnic groups, countries)
	Optional bool     // may be left empty (the bundle's check decides what else it needs)
	Max      int      // characters, for text
	Person   bool     // a person's name: letters, spaces, ' and - only
	Past     bool     // a date that cannot be in the future
	MaxAge   int      // for a date: at most this many whole years before today (0: 150)
}

// values are the typed fields after parsing, by field name.
type values map[string]string

// fieldError is one validation failure: the field and the messages key of its message.
type fieldError struct{ Field, Key string }

// form is the layout of one declaration form (one PDF of the dossier).
type form struct {
	Code     string // the form's code, printed at the top right (e.g. "Mẫu CT01")
	Title    string // printed title, upper case
	Subtitle string // the line under the title, may be empty
	DocTitle string // the document's title at the signing service (shown on the phone)
	File     string // download file name
	To       string // "Kính gửi: ..."
	Sections []formSection
	Pledge   string // the declaration above the place and date
	SignAs   string // the signer's role under the signature box
}

type formSection struct {
	Heading string
	// HeadingOf, when set, names the section from the dossier (e.g. "Thông tin người mẹ"
	// when the applicant is the father).
	HeadingOf func(d dossier) string
	Rows      []formRow
	// Omit drops the section (the other parent, when the citizen left it empty).
	Omit func(d dossier) bool
}

// formRow is a labelled line of a form; Value reads the dossier.
type formRow struct {
	Label string
	Value func(d dossier) string
}

// dossier is what fills a bundle's forms: the verified applicant, the typed fields, and
// the date the forms are made.
type dossier struct {
	Applicant citizen
	V         values
	Date      time.Time
}

const province = "tỉnh Thanh Hóa"

// the rows every form shares, about the applicant (verified by the eID).
var (
	rowName        = formRow{"Họ, chữ đệm và tên", func(d dossier) string { return d.Applicant.Name }}
	rowBirthdate   = formRow{"Ngày, tháng, năm sinh", func(d dossier) string { return formatDate(d.Applicant.Birthdate) }}
	rowGender      = formRow{"Giới tính", func(d dossier) string { return sexVI(d.Applicant.Gender) }}
	rowCCCD        = formRow{"Số định danh cá nhân", func(d dossier) string { return d.Applicant.CCCD }}
	rowAddress     = formRow{"Nơi thường trú", func(d dossier) string { return d.Applicant.Address }}
	rowPhone       = formRow{"Số điện thoại", func(d dossier) string { return d.Applicant.Phone }}
	rowNationality = formRow{"Quốc tịch", func(d dossier) string { return d.Applicant.Nationality }}
)

func typed(name string) func(d dossier) string {
	return func(d dossier) string { return d.V[name] }
}

func typedDate(name string) func(d dossier) string {
	return func(d dossier) string { return formatDate(d.V[name]) }
}

func typedSex(name string) func(d dossier) string {
	return func(d dossier) string { return sexVI(d.V[name]) }
}

func constant(s string) func(d dossier) string { return func(dossier) string { return s } }

// parentRole is the applicant's relation to the child, as the citizen chose it on the
// form (never guessed from the verified sex).
func parentRole(d dossier) string {
	return map[string]string{"father": "Cha", "mother": "Mẹ"}[d.V["applicant_relation"]]
}

// otherParent names the section of the child's other parent.
func otherParent(d dossier) string {
	if d.V["applicant_relation"] == "mother" {
		return "Thông tin người cha"
	}
	return "Thông tin người mẹ"
}

// ethnicGroups are Vietnam's 54 ethnic groups, as the General Statistics Office lists them.
var ethnicGroups = []string{
	"Kinh", "Tày", "Thái", "Hoa", "Khơ-me", "Mường", "Nùng", "Mông", "Dao", "Gia-rai", "Ngái", "Ê-đê",
	"Ba-na", "Xơ-đăng", "Sán Chay", "Cơ-ho", "Chăm", "Sán Dìu", "Hrê", "Mnông", "Ra-glai", "Xtiêng",
	"Bru-Vân Kiều", "Thổ", "Giáy", "Cơ-tu", "Gié-Triêng", "Mạ", "Khơ-mú", "Co", "Ta-ôi", "Chơ-ro",
	"Kháng", "Xinh-mun", "Hà Nhì", "Chu-ru", "Lào", "La Chí", "La Ha", "Phù Lá", "La Hủ", "Lự",
	"Lô Lô", "Chứt", "Mảng", "Pà Thẻn", "Cơ Lao", "Cống", "Bố Y", "Si La", "Pu Péo", "Brâu", "Ơ Đu", "Rơ-măm",
}

// nationalities offered for the child and the other parent; the list is short on
// purpose (a demo), the form names each choice in full.
var nationalities = []string{"Việt Nam", "Lào", "Campuchia", "Trung Quốc", "Hàn Quốc", "Nhật Bản", "Hoa Kỳ", "Pháp"}

const pledge = "Tôi cam đoan những nội dung khai trên đây là đúng sự thật và chịu trách nhiệm trước pháp luật về lời khai của mình."

var birthBundle = &bundle{
	ID: "khai-sinh", NameKey: "b_birth", IntroKey: "b_birth_intro", Section: "child", NextKey: "next_birth",
	Reason: "Đăng ký khai sinh, đăng ký thường trú, cấp thẻ BHYT cho trẻ dưới 6 tuổi",
	Fields: []inputField{
		{Name: "applicant_relation", LabelKey: "c_relation", Kind: "select", Options: []string{"father", "mother"}},
		{Name: "applicant_ethnicity", LabelKey: "c_applicant_ethnicity", Kind: "select", Options: ethnicGroups, Literal: true},
		{Name: "child_name", LabelKey: "c_name", Kind: "text", Max: 100, Person: true},
		{Name: "child_birthdate", LabelKey: "c_birthdate", Kind: "date", Past: true, MaxAge: 5},
		{Name: "child_sex", LabelKey: "c_sex", Kind: "select", Options: []string{"male", "female"}},
		{Name: "child_birthplace", LabelKey: "c_birthplace", Kind: "text", Max: 200},
		{Name: "child_ethnicity", LabelKey: "c_ethnicity", Kind: "select", Options: ethnicGroups, Literal: true},
		{Name: "child_nationality", LabelKey: "c_nationality", Kind: "select", Options: nationalities, Literal: true},
		{Name: "other_name", LabelKey: "o_name", Kind: "text", Max: 100, Person: true, Optional: true},
		{Name: "other_birthdate", LabelKey: "o_birthdate", Kind: "date", Past: true, Optional: true},
		{Name: "other_ethnicity", LabelKey: "o_ethnicity", Kind: "select", Options: ethnicGroups, Literal: true, Optional: true},
		{Name: "other_nationality", LabelKey: "o_nationality", Kind: "select", Options: nationalities, Literal: true, Optional: true},
		{Name: "other_address", LabelKey: "o_address", Kind: "text", Max: 200, Optional: true},
	},
	// The other parent: all of it, or none (not established).
	check: func(v values, _ time.Time) (string, string) {
		if v["other_name"] == "" {
			for _, f := range []string{"other_birthdate", "other_ethnicity", "other_nationality", "other_address"} {
				if v[f] != "" {
					return "other_name", "v_other_name"
				}
			}
			return "", ""
		}
		for _, f := range []string{"other_birthdate", "other_ethnicity", "other_nationality", "other_address"} {
			if v[f] == "" {
				return f, "v_required"
			}
		}
		return "", ""
	},
	Forms: []form{
		{
			Code: "Mẫu TK-KS", Title: "TỜ KHAI ĐĂNG KÝ KHAI SINH", DocTitle: "Tờ khai đăng ký khai sinh", File: "to-khai-dang-ky-khai-sinh.pdf",
			To: "Kính gửi: Ủy ban nhân dân cấp xã nơi cư trú, " + province,
			Sections: []formSection{
				{Heading: "Người yêu cầu", Rows: []formRow{rowName, rowBirthdate, rowCCCD, rowAddress, rowPhone,
					{"Dân tộc", typed("applicant_ethnicity")}, rowNationality,
					{"Quan hệ với người được khai sinh", parentRole}}},
				{Heading: "Người được khai sinh", Rows: []formRow{
					{"Họ, chữ đệm và tên", typed("child_name")},
					{"Ngày, tháng, năm sinh", typedDate("child_birthdate")},
					{"Giới tính", typedSex("child_sex")},
					{"Nơi sinh", typed("child_birthplace")},
					{"Dân tộc", typed("child_ethnicity")},
					{"Quốc tịch", typed("child_nationality")},
				}},
				{HeadingOf: otherParent, Omit: func(d dossier) bool { return d.V["other_name"] == "" }, Rows: []formRow{
					{"Họ, chữ đệm và tên", typed("other_name")},
					{"Ngày, tháng, năm sinh", typedDate("other_birthdate")},
					{"Dân tộc", typed("other_ethnicity")},
					{"Quốc tịch", typed("other_nationality")},
					{"Nơi cư trú", typed("other_address")},
				}},
			},
			Pledge: "Tôi cam đoan nội dung đề nghị đăng ký khai sinh trên đây là đúng sự thật, được sự thỏa thuận nhất trí của các bên liên quan theo quy định pháp luật. Tôi chịu hoàn toàn trách nhiệm trước pháp luật về nội dung cam đoan của mình.",
			SignAs: "Người yêu cầu",
		},
		{
			Code: "Mẫu CT01", Title: "TỜ KHAI THAY ĐỔI THÔNG TIN CƯ TRÚ", Subtitle: "(Đăng ký thường trú cho trẻ em)",
			DocTitle: "Tờ khai đăng ký thường trú", File: "to-khai-dang-ky-thuong-tru.pdf",
			To: "Kính gửi: Công an cấp xã nơi cư trú, " + province,
			Sections: []formSection{
				{Heading: "Người được đăng ký thường trú", Rows: []formRow{
					{"Họ, chữ đệm và tên", typed("child_name")},
					{"Ngày, tháng, năm sinh", typedDate("child_birthdate")},
					{"Giới tính", typedSex("child_sex")},
					{"Số định danh cá nhân", constant("Cấp cùng lúc đăng ký khai sinh")},
				}},
				// The citizen chose this procedure (the bundle) and their relation to the
				// child; the address is the eID's.
				{Heading: "Nội dung đề nghị", Rows: []formRow{
					{"Đề nghị", func(d dossier) string {
						return "Đăng ký thường trú cho trẻ em tại nơi thường trú của " + strings.ToLower(parentRole(d)) + " (người kê khai)"
					}},
					{"Địa chỉ đăng ký thường trú", func(d dossier) string { return d.Applicant.Address }},
				}},
				{Heading: "Người kê khai", Rows: []formRow{rowName, rowCCCD, rowPhone, {"Quan hệ với người được đăng ký", parentRole}}},
			},
			Pledge: pledge, SignAs: "Người kê khai",
		},
		{
			Code: "Mẫu TK1-TS", Title: "TỜ KHAI THAM GIA BẢO HIỂM Y TẾ", Subtitle: "(Cấp thẻ bảo hiểm y tế cho trẻ em dưới 6 tuổi)",
			DocTitle: "Tờ khai tham gia bảo hiểm y tế", File: "to-khai-bao-hiem-y-te.pdf",
			To: "Kính gửi: Bảo hiểm xã hội " + province,
			Sections: []formSection{
				{Heading: "Người tham gia", Rows: []formRow{
					{"Họ, chữ đệm và tên", typed("child_name")},
					{"Ngày, tháng, năm sinh", typedDate("child_birthdate")},
					{"Giới tính", typedSex("child_sex")},
					{"Nơi đăng ký khai sinh", constant("Ủy ban nhân dân cấp xã nơi cư trú, " + province)},
					{"Đối tượng", constant("Trẻ em dưới 6 tuổi (ngân sách nhà nước đóng)")},
					{"Địa chỉ nhận thẻ", func(d dossier) string { return d.Applicant.Address }},
				}},
				{Heading: "Cha, mẹ hoặc người giám hộ", Rows: []formRow{rowName, rowCCCD, rowPhone, {"Quan hệ với trẻ", parentRole}}},
			},
			Pledge: pledge, SignAs: "Người kê khai",
		},
	},
}

var deathBundle = &bundle{
	ID: "khai-tu", NameKey: "b_death", IntroKey: "b_death_intro", Section: "deceased", NextKey: "next_death",
	Reason: "Đăng ký khai tử, xóa đăng ký thường trú, hỗ trợ chi phí mai táng",
	Fields: []inputField{
		{Name: "deceased_name", LabelKey: "d_name", Kind: "text", Max: 100, Person: true},
		{Name: "deceased_cccd", LabelKey: "d_cccd", Kind: "cccd"},
		{Name: "deceased_birthdate", LabelKey: "d_birthdate", Kind: "date", Past: true},
		{Name: "deceased_sex", LabelKey: "d_sex", Kind: "select", Options: []string{"male", "female"}},
		{Name: "death_date", LabelKey: "d_death_date", Kind: "date", Past: true},
		{Name: "death_place", LabelKey: "d_death_place", Kind: "text", Max: 200},
		{Name: "deceased_address", LabelKey: "d_address", Kind: "text", Max: 200},
		{Name: "relationship", LabelKey: "d_relationship", Kind: "select", Options: []string{"child", "spouse", "parent", "sibling", "other"}},
	},
	check: func(v values, _ time.Time) (string, string) {
		if v["death_date"] < v["deceased_birthdate"] { // ISO dates compare as strings
			return "death_date", "v_death_before_birth"
		}
		if !cccdMatches(v["deceased_cccd"], v["deceased_birthdate"], v["deceased_sex"]) {
			return "deceased_cccd", "v_cccd_mismatch"
		}
		return "", ""
	},
	Forms: []form{
		{
			Code: "Mẫu TK-KT", Title: "TỜ KHAI ĐĂNG KÝ KHAI TỬ", DocTitle: "Tờ khai đăng ký khai tử", File: "to-khai-dang-ky-khai-tu.pdf",
			To: "Kính gửi: Ủy ban nhân dân cấp xã nơi cư trú, " + province,
			Sections: []formSection{
				{Heading: "Người yêu cầu", Rows: []formRow{rowName, rowBirthdate, rowCCCD, rowAddress, rowPhone,
					{"Quan hệ với người đã chết", relationship}}},
				{Heading: "Người đã chết", Rows: []formRow{
					{"Họ, chữ đệm và tên", typed("deceased_name")},
					{"Ngày, tháng, năm sinh", typedDate("deceased_birthdate")},
					{"Giới tính", typedSex("deceased_sex")},
					{"Số định danh cá nhân", typed("deceased_cccd")},
					{"Nơi cư trú cuối cùng", typed("deceased_address")},
					{"Đã chết vào ngày", typedDate("death_date")},
					{"Nơi chết", typed("death_place")},
				}},
			},
			Pledge: "Tôi cam đoan nội dung đề nghị đăng ký khai tử trên đây là đúng sự thật và chịu trách nhiệm trước pháp luật về cam đoan của mình.",
			SignAs: "Người yêu cầu",
		},
		{
			Code: "Mẫu CT01", Title: "TỜ KHAI THAY ĐỔI THÔNG TIN CƯ TRÚ", Subtitle: "(Xóa đăng ký thường trú đối với người đã chết)",
			DocTitle: "Tờ khai xóa đăng ký thường trú", File: "to-khai-xoa-dang-ky-thuong-tru.pdf",
			To: "Kính gửi: Công an cấp xã nơi cư trú, " + province,
			Sections: []formSection{
				{Heading: "Người được xóa đăng ký thường trú", Rows: []formRow{
					{"Họ, chữ đệm và tên", typed("deceased_name")},
					{"Ngày, tháng, năm sinh", typedDate("deceased_birthdate")},
					{"Giới tính", typedSex("deceased_sex")},
					{"Số định danh cá nhân", typed("deceased_cccd")},
					{"Nơi thường trú", typed("deceased_address")},
				}},
				{Heading: "Nội dung đề nghị", Rows: []formRow{
					{"Đề nghị", constant("Xóa đăng ký thường trú do người đăng ký thường trú đã chết")},
					{"Ngày chết", typedDate("death_date")},
				}},
				{Heading: "Người kê khai", Rows: []formRow{rowName, rowCCCD, rowPhone, {"Quan hệ với người được xóa đăng ký", relationship}}},
			},
			Pledge: pledge, SignAs: "Người kê khai",
		},
		{
			Code: "Mẫu số 09", Title: "TỜ KHAI ĐỀ NGHỊ HỖ TRỢ CHI PHÍ MAI TÁNG", Subtitle: "(Trợ cấp mai táng)",
			DocTitle: "Tờ khai đề nghị hỗ trợ chi phí mai táng", File: "to-khai-tro-cap-mai-tang.pdf",
			To: "Kính gửi: Ủy ban nhân dân cấp xã nơi cư trú, " + province,
			Sections: []formSection{
				{Heading: "Thông tin người đã chết", Rows: []formRow{
					{"Họ, chữ đệm và tên", typed("deceased_name")},
					{"Ngày, tháng, năm sinh", typedDate("deceased_birthdate")},
					{"Giới tính", typedSex("deceased_sex")},
					{"Số định danh cá nhân", typed("deceased_cccd")},
					{"Nơi thường trú", typed("deceased_address")},
					{"Ngày chết", typedDate("death_date")},
				}},
				{Heading: "Người đứng ra tổ chức mai táng", Rows: []formRow{rowName, rowBirthdate, rowGender, rowCCCD, rowAddress, rowPhone,
					{"Quan hệ với người đã chết", relationship}}},
			},
			Pledge: pledge, SignAs: "Người khai",
		},
	},
}

// bundles in the order the home page offers them.
var bundles = []*bundle{birthBundle, deathBundle}

func bundleByID(id string) *bundle {
	for _, b := range bundles {
		if b.ID == id {
			return b
		}
	}
	return nil
}

var relationshipsVI = map[string]string{"child": "Con", "spouse": "Vợ/chồng", "parent": "Cha/mẹ", "sibling": "Anh/chị/em", "other": "Khác"}

func relationship(d dossier) string { return relationshipsVI[d.V["relationship"]] }

func sexVI(s string) string {
	switch s {
	case "male":
		return "Nam"
	case "female":
		return "Nữ"
	}
	return s
}

// parse reads the bundle's fields from a posted form. It always returns what was typed
// (cleaned, to show back in the form) and the failures, one per field at most, in the
// fields' order.
func (b *bundle) parse(f url.Values, now time.Time) (values, []fieldError) {
	v := values{}
	var errs []fieldError
	for _, fd := range b.Fields {
		s, key := fd.parse(f.Get(fd.Name), now)
		v[fd.Name] = s
		if key != "" {
			errs = append(errs, fieldError{fd.Name, key})
		}
	}
	if len(errs) == 0 && b.check != nil {
		if name, key := b.check(v, now); key != "" {
			errs = append(errs, fieldError{name, key})
		}
	}
	return v, errs
}

// parse cleans one value and checks it; it returns the value (normalised when valid: a
// date as YYYY-MM-DD) and "" or the messages key of what is wrong.
func (fd inputField) parse(raw string, now time.Time) (string, string) {
	max := fd.Max
	if max == 0 {
		max = 100
	}
	// NFC: iOS and macOS keyboards, and Unikey's "Unicode tổ hợp", send decomposed marks.
	s := strings.Join(strings.Fields(clip(norm.NFC.String(raw), max+1)), " ")
	if s == "" && fd.Optional {
		return "", ""
	}
	if s == "" && fd.Kind == "select" {
		return "", "v_choose"
	}
	if s == "" {
		return "", "v_required"
	}
	switch fd.Kind {
	case "text":
		if len([]rune(s)) > max {
			return clip(s, max), "v_too_long"
		}
		if fd.Person && !personName(s) {
			return s, "v_name"
		}
	case "select":
		for _, o := range fd.Options {
			if s == o {
				return s, ""
			}
		}
		return "", "v_choose"
	case "cccd":
		if len(s) != 12 || strings.Trim(s, "0123456789") != "" {
			return s, "v_cccd"
		}
	case "date":
		d, ok := parseDate(s)
		if !ok {
			return s, "v_date"
		}
		today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		if fd.Past && d.After(today) {
			return s, "v_future"
		}
		maxAge := fd.MaxAge
		if maxAge == 0 {
			maxAge = 150
		}
		if !d.After(today.AddDate(-maxAge-1, 0, 0)) {
			return s, fmt.Sprintf("v_max_age_%d", maxAge)
		}
		return d.Format(time.DateOnly), ""
	}
	return s, ""
}

// parseDate accepts what a date input sends (YYYY-MM-DD) and what a citizen types where
// the browser shows a text box instead (dd/mm/yyyy, d/m/yyyy, dd-mm-yyyy, dd.mm.yyyy).
func parseDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.DateOnly, "2/1/2006", "2-1-2006", "2.1.2006"} {
		if d, err := time.Parse(layout, s); err == nil && d.Year() >= 1850 {
			return d, true
		}
	}
	return time.Time{}, false
}

// personName: letters (with Vietnamese diacritics, precomposed or combining), spaces,
// apostrophes and hyphens, at least two letters.
func personName(s string) bool {
	letters := 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.Is(unicode.Mn, r), r == ' ', r == '\'', r == '-', r == '’':
		default:
			return false
		}
	}
	return letters >= 2
}

// cccdMatches checks the personal ID number against the birth date and sex: digit 4 is
// the century and sex (1900s: 0 male, 1 female; 2000s: 2, 3; and so on by century), digits
// 5-6 the last two digits of the birth year.
func cccdMatches(cccd, birthdate, sex string) bool {
	d, err := time.Parse(time.DateOnly, birthdate)
	if err != nil || len(cccd) != 12 {
		return false
	}
	code := (d.Year()/100 - 19) * 2
	if sex == "female" {
		code++
	}
	if code < 0 || code > 9 {
		return false
	}
	return cccd[3] == byte('0'+code) && cccd[4:6] == fmt.Sprintf("%02d", d.Year()%100)
}
