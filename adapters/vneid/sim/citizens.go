package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// DevPassword is the password of every default citizen (and of any Citizen whose Password
// is empty). Development only: the sim shows it on its login page.
const DevPassword = "matkhau-dev"

// Claim names the sim releases, modelled on the national eID's vocabulary. The broker's
// vneid.DefaultClaimMap maps them to Motlan's attribute names.
const (
	ClaimCCCD          = "so_dinh_danh"   // 12-digit personal identification number
	ClaimFullName      = "ho_va_ten"      // full name, family name first
	ClaimFamilyName    = "ho"             // family name (họ)
	ClaimMiddleName    = "chu_dem"        // middle name (chữ đệm); absent when empty
	ClaimGivenName     = "ten"            // given name (tên)
	ClaimBirthdate     = "ngay_sinh"      // YYYY-MM-DD
	ClaimSex           = "gioi_tinh"      // "Nam" or "Nữ"
	ClaimNationality   = "quoc_tich"      // e.g. "Việt Nam"
	ClaimPlaceOfOrigin = "que_quan"       // place of origin (quê quán), a string
	ClaimAddress       = "noi_thuong_tru" // permanent residence, an Address object
	ClaimPhone         = "so_dien_thoai"  // E.164, e.g. "+84912345601"
	// ClaimPhoneVerified says whether the eID verified the phone number (OIDC Core 5.1's
	// phone_number_verified, named after the phone claim).
	ClaimPhoneVerified = ClaimPhone + "_verified"
)

// Sex values as the eID writes them.
const (
	SexMale   = "Nam"
	SexFemale = "Nữ"
)

// Address is the permanent residence (nơi thường trú), shaped like OpenID Connect's
// address claim so that it maps without translation.
type Address struct {
	Formatted     string `json:"formatted"`
	StreetAddress string `json:"street_address,omitempty"`
	Locality      string `json:"locality,omitempty"` // ward or commune (phường/xã)
	Region        string `json:"region,omitempty"`   // province (tỉnh/thành phố)
	Country       string `json:"country,omitempty"`  // ISO 3166-1 alpha-2, "VN"
}

// Citizen is a test citizen the sim can log in. Strings must be valid UTF-8 in NFC.
type Citizen struct {
	// Subject is the stable opaque "sub"; empty: derived from CCCD by a hash (stable
	// across restarts, but then guessable from the number: set it for anything shared).
	Subject  string
	CCCD     string // 12 digits, consistent with Birthdate and Sex (see package cccd)
	Password string // empty: DevPassword

	FamilyName, MiddleName, GivenName string
	Birthdate                         string // YYYY-MM-DD
	Sex                               string // SexMale or SexFemale
	Nationality                       string
	PlaceOfOrigin                     string
	Address                           Address
	Phone                             string
	// PhoneVerified: the eID verified Phone (sent as ClaimPhoneVerified).
	PhoneVerified bool
	// Level is the eID account level, 1 or 2; the sim states it as Config.LevelIn says.
	Level int
	// UpdatedAt is when the eID's record last changed, sent as updated_at; zero: not sent.
	UpdatedAt time.Time
}

// FullName is family name, middle name and given name, space-separated (Vietnamese order).
func (c *Citizen) FullName() string {
	parts := make([]string, 0, 3)
	for _, p := range []string{c.FamilyName, c.MiddleName, c.GivenName} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

func (c *Citizen) subject() string {
	if c.Subject != "" {
		return c.Subject
	}
	sum := sha256.Sum256([]byte("motlan-sim-subject:" + c.CCCD))
	return hex.EncodeToString(sum[:16])
}

func (c *Citizen) password() string {
	if c.Password != "" {
		return c.Password
	}
	return DevPassword
}

func thanhHoa(street, locality string) Address {
	a := Address{StreetAddress: street, Locality: locality, Region: "Tỉnh Thanh Hóa", Country: "VN"}
	if street != "" {
		a.Formatted = street + ", " + locality + ", " + a.Region
	} else {
		a.Formatted = locality + ", " + a.Region
	}
	return a
}

// recordDate is when the default citizens' records last changed at the eID (updated_at).
var recordDate = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)

// DefaultCitizens returns the sim's test citizens (a fresh copy each call), all registered
// in Thanh Hóa (province code 038), all with password DevPassword:
//
//	038085001234  Nguyễn Văn Lĩnh     1985-03-14  Nam  level 2
//	038092004567  Lê Công Hảo         1992-11-02  Nam  level 2
//	038178003321  Trịnh Thị Ngọc Ánh  1978-07-20  Nữ   level 2
//	038204007788  Đặng Quốc Vĩ        2004-01-09  Nam  level 2
//	038165001357  Hồ Thị Lựu          1965-12-24  Nữ   level 2
//	038303002468  Hoàng Thùy Dương    2003-05-30  Nữ   level 1 only (adult), phone not verified
//	038216009753  Trương Tuấn Hưng    2016-08-15  Nam  level 1 only (child under 14)
func DefaultCitizens() []Citizen {
	return []Citizen{
		{
			Subject: "vn-8f3a2c71d04b4e6e", CCCD: "038085001234",
			FamilyName: "Nguyễn", MiddleName: "Văn", GivenName: "Lĩnh",
			Birthdate: "1985-03-14", Sex: SexMale, Nationality: "Việt Nam",
			PlaceOfOrigin: "Xã Hoằng Hóa, Tỉnh Thanh Hóa",
			Address:       thanhHoa("Số 12 đường Lê Lợi", "Phường Hạc Thành"),
			Phone:         "+84912345601", PhoneVerified: true, Level: 2, UpdatedAt: recordDate,
		},
		{
			Subject: "vn-1b9d6e20a7c54f13", CCCD: "038092004567",
			FamilyName: "Lê", MiddleName: "Công", GivenName: "Hảo",
			Birthdate: "1992-11-02", Sex: SexMale, Nationality: "Việt Nam",
			PlaceOfOrigin: "Xã Thọ Xuân, Tỉnh Thanh Hóa",
			Address:       thanhHoa("Thôn Đông Hải", "Phường Sầm Sơn"),
			Phone:         "+84912345602", PhoneVerified: true, Level: 2, UpdatedAt: recordDate,
		},
		{
			Subject: "vn-5c04e8f96b2a4d87", CCCD: "038178003321",
			FamilyName: "Trịnh", MiddleName: "Thị Ngọc", GivenName: "Ánh",
			Birthdate: "1978-07-20", Sex: SexFemale, Nationality: "Việt Nam",
			PlaceOfOrigin: "Xã Nga Sơn, Tỉnh Thanh Hóa",
			Address:       thanhHoa("Số 45 phố Trần Phú", "Phường Bỉm Sơn"),
			Phone:         "+84912345603", PhoneVerified: true, Level: 2, UpdatedAt: recordDate,
		},
		{
			Subject: "vn-e27f0b3d9a614c58", CCCD: "038204007788",
			FamilyName: "Đặng", MiddleName: "Quốc", GivenName: "Vĩ",
			Birthdate: "2004-01-09", Sex: SexMale, Nationality: "Việt Nam",
			PlaceOfOrigin: "Xã Hậu Lộc, Tỉnh Thanh Hóa",
			Address:       thanhHoa("Xóm Ĩnh Lộc", "Xã Hậu Lộc"),
			Phone:         "+84912345604", PhoneVerified: true, Level: 2, UpdatedAt: recordDate,
		},
		{
			Subject: "vn-93ad51c6f8e04b22", CCCD: "038165001357",
			FamilyName: "Hồ", MiddleName: "Thị", GivenName: "Lựu",
			Birthdate: "1965-12-24", Sex: SexFemale, Nationality: "Việt Nam",
			PlaceOfOrigin: "Xã Vĩnh Lộc, Tỉnh Thanh Hóa",
			Address:       thanhHoa("Số 7 ngõ 3 đường Bà Triệu", "Phường Hạc Thành"),
			Phone:         "+84912345605", PhoneVerified: true, Level: 2, UpdatedAt: recordDate,
		},
		{
			Subject: "vn-4a6b8c0d2e1f3a5b", CCCD: "038303002468",
			FamilyName: "Hoàng", MiddleName: "Thùy", GivenName: "Dương",
			Birthdate: "2003-05-30", Sex: SexFemale, Nationality: "Việt Nam",
			PlaceOfOrigin: "Xã Quảng Xương, Tỉnh Thanh Hóa",
			Address:       thanhHoa("Thôn Ngọc Trà", "Phường Nghi Sơn"),
			Phone:         "+84912345606", Level: 1, UpdatedAt: recordDate, // phone not verified
		},
		{
			Subject: "vn-d7e9f1a3b5c74e60", CCCD: "038216009753",
			FamilyName: "Trương", MiddleName: "Tuấn", GivenName: "Hưng",
			Birthdate: "2016-08-15", Sex: SexMale, Nationality: "Việt Nam",
			PlaceOfOrigin: "Xã Triệu Sơn, Tỉnh Thanh Hóa",
			Address:       thanhHoa("Số 21 đường Hàm Nghi", "Phường Hạc Thành"),
			Level:         1,
		},
	}
}
