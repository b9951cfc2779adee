// Package cccd checks the structure of Vietnam's 12-digit personal identification number
// (số định danh cá nhân, printed on the CCCD citizen identity card).
//
// Layout: digits 1-3 the province (or centrally-run city) where the birth was registered,
// digit 4 the century of birth and sex, digits 5-6 the last two digits of the birth year,
// digits 7-12 a random sequence. Digit 4 is 0/1 for the 1900s, 2/3 for the 2000s, 4/5 for
// the 2100s, and so on: even for male, odd for female.
//
// The number carries no check digit: a structurally valid number is not proof that it was
// issued. Use it to reject typos and data that disagree with the birth date and sex.
package cccd

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors returned by Parse and Validate, wrapped; test them with errors.Is.
var (
	ErrFormat    = errors.New("cccd: not 12 ASCII digits")
	ErrProvince  = errors.New("cccd: unknown province code")
	ErrBirthdate = errors.New("cccd: birth date malformed or inconsistent with the number")
	ErrSex       = errors.New("cccd: sex unknown or inconsistent with the number")
)

// Sex as encoded in digit 4.
type Sex uint8

// The two values digit 4 encodes.
const (
	Male Sex = iota + 1
	Female
)

// Number is a parsed identification number.
type Number struct {
	Province string // digits 1-3, e.g. "038" (Thanh Hóa)
	Sex      Sex
	Century  int    // first year of the century of birth: 1900, 2000, ...
	Year     int    // full year of birth from digits 4-6, e.g. 1985
	Serial   string // digits 7-12
}

// Parse checks the shape of a 12-digit number and decodes its fixed fields. It does not
// check the number against a birth date; use Validate for that.
func Parse(number string) (Number, error) {
	if len(number) != 12 {
		return Number{}, ErrFormat
	}
	for i := 0; i < len(number); i++ {
		if number[i] < '0' || number[i] > '9' {
			return Number{}, ErrFormat
		}
	}
	prov := number[:3]
	if _, ok := provinces[prov]; !ok {
		return Number{}, ErrProvince
	}
	d4 := int(number[3] - '0')
	n := Number{
		Province: prov,
		Century:  1900 + 100*(d4/2),
		Serial:   number[6:],
	}
	if d4%2 == 0 {
		n.Sex = Male
	} else {
		n.Sex = Female
	}
	n.Year = n.Century + int(number[4]-'0')*10 + int(number[5]-'0')
	return n, nil
}

// ParseSex reads the sex as the eID writes it ("Nam", "Nữ") or as OpenID Connect's gender
// claim does ("male", "female"), case-insensitively.
func ParseSex(s string) (Sex, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "nam", "male", "m":
		return Male, nil
	case "nữ", "nu", "female", "f":
		return Female, nil
	}
	return 0, ErrSex
}

// Validate reports whether number is a well-formed 12-digit identification number whose
// digits 4-6 agree with birthdate ("YYYY-MM-DD") and sex ("Nam"/"Nữ" or "male"/"female").
// Errors wrap ErrFormat, ErrProvince, ErrBirthdate or ErrSex and never contain the inputs.
func Validate(number, birthdate, sex string) error {
	n, err := Parse(number)
	if err != nil {
		return err
	}
	if len(birthdate) != len("2006-01-02") {
		return ErrBirthdate
	}
	bd, err := time.Parse(time.DateOnly, birthdate)
	if err != nil {
		return ErrBirthdate
	}
	if bd.Year() != n.Year {
		return fmt.Errorf("%w: birth year differs from digits 4-6", ErrBirthdate)
	}
	s, err := ParseSex(sex)
	if err != nil {
		return err
	}
	if s != n.Sex {
		return fmt.Errorf("%w: differs from digit 4", ErrSex)
	}
	return nil
}

// ProvinceName returns the name of the province a code stands for, as coded before the
// 2025 provincial mergers (numbers already issued keep their code), and whether it is known.
func ProvinceName(code string) (string, bool) {
	name, ok := provinces[code]
	return name, ok
}

// provinces: codes from the Ministry of Public Security's table (Circular 07/2016/TT-BCA,
// kept by Circular 59/2021/TT-BCA).
var provinces = map[string]string{
	"001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn",
	"008": "Tuyên Quang", "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu",
	"014": "Sơn La", "015": "Yên Bái", "017": "Hòa Bình", "019": "Thái Nguyên",
	"020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang", "025": "Phú Thọ",
	"026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
	"033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định",
	"037": "Ninh Bình", "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh",
	"044": "Quảng Bình", "045": "Quảng Trị", "046": "Thừa Thiên Huế", "048": "Đà Nẵng",
	"049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định", "054": "Phú Yên",
	"056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum",
	"064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng",
	"070": "Bình Phước", "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai",
	"077": "Bà Rịa - Vũng Tàu", "079": "Hồ Chí Minh", "080": "Long An", "082": "Tiền Giang",
	"083": "Bến Tre", "084": "Trà Vinh", "086": "Vĩnh Long", "087": "Đồng Tháp",
	"089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ", "093": "Hậu Giang",
	"094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau",
}
