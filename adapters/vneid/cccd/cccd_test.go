package cccd

import (
	"errors"
	"testing"
	"unicode/utf8"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		number    string
		birthdate string
		sex       string
		want      error
	}{
		{"1900s male", "038085001234", "1985-03-14", "Nam", nil},
		{"1900s female", "038178003321", "1978-07-20", "Nữ", nil},
		{"2000s male", "038204007788", "2004-01-09", "male", nil},
		{"2000s female", "038303002468", "2003-05-30", "female", nil},
		{"2100s male", "001400000001", "2100-01-01", "Nam", nil},
		{"too short", "03808500123", "1985-03-14", "Nam", ErrFormat},
		{"too long", "0380850012345", "1985-03-14", "Nam", ErrFormat},
		{"letter", "03808500123a", "1985-03-14", "Nam", ErrFormat},
		{"full-width digit", "03808500123４", "1985-03-14", "Nam", ErrFormat},
		{"unknown province", "003085001234", "1985-03-14", "Nam", ErrProvince},
		{"year mismatch", "038085001234", "1986-03-14", "Nam", ErrBirthdate},
		{"century mismatch", "038285001234", "1985-03-14", "Nam", ErrBirthdate},
		{"bad date", "038085001234", "1985-02-30", "Nam", ErrBirthdate},
		{"date with time", "038085001234", "1985-03-14T00:00:00Z", "Nam", ErrBirthdate},
		{"sex mismatch", "038085001234", "1985-03-14", "Nữ", ErrSex},
		{"sex unknown", "038085001234", "1985-03-14", "x", ErrSex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.number, tt.birthdate, tt.sex)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Validate = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	n, err := Parse("038303002468")
	if err != nil {
		t.Fatal(err)
	}
	if n.Province != "038" || n.Sex != Female || n.Century != 2000 || n.Year != 2003 || n.Serial != "002468" {
		t.Fatalf("Parse = %+v", n)
	}
	if name, ok := ProvinceName(n.Province); !ok || name != "Thanh Hóa" {
		t.Fatalf("ProvinceName = %q, %v", name, ok)
	}
}

func FuzzValidateCCCD(f *testing.F) {
	seeds := []struct{ number, birthdate, sex string }{
		{"038085001234", "1985-03-14", "Nam"},
		{"038178003321", "1978-07-20", "Nữ"},
		{"038216009753", "2016-08-15", "male"},
		{"038303002468", "2003-05-30", "female"},
		{"", "", ""},
		{"999999999999", "9999-12-31", "nữ"},
		{"0380850012３4", "1985-3-14", "NAM"},
		{"038085001234\x00", "1985-03-14\n", " Nam "},
	}
	for _, s := range seeds {
		f.Add(s.number, s.birthdate, s.sex)
	}
	f.Fuzz(func(t *testing.T, number, birthdate, sex string) {
		err := Validate(number, birthdate, sex)
		n, perr := Parse(number)
		if err == nil {
			// Accepted: the number must be well-formed and agree with what was given.
			if perr != nil {
				t.Fatalf("Validate accepted what Parse rejects: %v", perr)
			}
			if len(number) != 12 || !utf8.ValidString(number) {
				t.Fatalf("accepted a malformed number %q", number)
			}
			if birthdate[:4] != itoa4(n.Year) {
				t.Fatalf("accepted %q with birth year %d", number, n.Year)
			}
			s, serr := ParseSex(sex)
			if serr != nil || s != n.Sex {
				t.Fatalf("accepted sex %q for %q", sex, number)
			}
			return
		}
		if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrProvince) &&
			!errors.Is(err, ErrBirthdate) && !errors.Is(err, ErrSex) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if perr == nil && n.Century < 1900 {
			t.Fatalf("century %d", n.Century)
		}
	})
}

func itoa4(y int) string {
	b := []byte{byte('0' + y/1000%10), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10)}
	return string(b)
}
