package sim

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/motlan/motlan/adapters/vneid/cccd"
)

func TestDefaultCitizens(t *testing.T) {
	citizens := DefaultCitizens()
	if len(citizens) < 6 {
		t.Fatalf("%d citizens, want at least 6", len(citizens))
	}
	// Ages are checked at a fixed date so that the test does not rot.
	ref := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var names strings.Builder
	var level1, level2, children int
	for _, c := range citizens {
		t.Run(c.CCCD, func(t *testing.T) {
			if err := cccd.Validate(c.CCCD, c.Birthdate, c.Sex); err != nil {
				t.Fatalf("ValidateCCCD: %v", err)
			}
			if c.CCCD[:3] != "038" {
				t.Errorf("province %s, want Thanh Hóa 038", c.CCCD[:3])
			}
			if !strings.Contains(c.Address.Formatted, "Thanh Hóa") || c.Address.Country != "VN" {
				t.Errorf("address %+v", c.Address)
			}
			for _, s := range []string{c.FullName(), c.Address.Formatted, c.PlaceOfOrigin} {
				if !utf8.ValidString(s) || !norm.NFC.IsNormalString(s) {
					t.Errorf("%q is not NFC UTF-8", s)
				}
			}
			if c.Subject == "" || strings.Contains(c.Subject, c.CCCD) {
				t.Errorf("subject %q must be opaque", c.Subject)
			}
			bd, _ := time.Parse(time.DateOnly, c.Birthdate)
			age := ref.Year() - bd.Year()
			if ref.YearDay() < bd.YearDay() {
				age--
			}
			if age < 14 {
				children++
				if c.Level != 1 {
					t.Errorf("child under 14 must be level 1 only")
				}
			}
		})
		names.WriteString(c.FullName() + " ")
		switch c.Level {
		case 1:
			level1++
		case 2:
			level2++
		}
	}
	all := names.String()
	for _, want := range []string{"Nguyễn Văn Lĩnh", "Lê Công Hảo"} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %s", want)
		}
	}
	if !strings.ContainsAny(all, "Ĩĩ") {
		t.Error("no name with Ĩ/ĩ")
	}
	// Every tone mark and every modified vowel of Vietnamese appears in some name.
	for _, group := range []string{"áấắéếíóốớúứý", "àầằèềìòồờùừỳ", "ảẩẳẻểỉỏổởủửỷ", "ãẫẵẽễĩõỗỡũữỹ", "ạậặẹệịọộợụựỵ",
		"ăắằẳẵặ", "âấầẩẫậ", "êếềểễệ", "ôốồổỗộ", "ơớờởỡợ", "ưứừửữự", "đĐ"} {
		if !strings.ContainsAny(strings.ToLower(all)+all, group) {
			t.Errorf("no name uses any of %q", group)
		}
	}
	if children < 1 || level1 < 2 || level2 < 1 || level1+level2 != len(citizens) {
		t.Errorf("children %d, level 1 %d, level 2 %d", children, level1, level2)
	}
}

func TestNewRejectsBadCitizens(t *testing.T) {
	good := DefaultCitizens()[0]
	tests := []struct {
		name   string
		change func(c *Citizen)
	}{
		{"number disagrees with sex", func(c *Citizen) { c.Sex = SexFemale }},
		{"number disagrees with year", func(c *Citizen) { c.Birthdate = "1986-03-14" }},
		{"bad level", func(c *Citizen) { c.Level = 3 }},
		{"NFD name", func(c *Citizen) { c.GivenName = norm.NFD.String("Lĩnh") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.change(&c)
			_, err := New(Config{Issuer: "http://127.0.0.1:1/eid", Citizens: []Citizen{c},
				Clients: []Client{{ID: "a", Secret: "b", RedirectURIs: []string{"https://x.example/cb"}}}})
			if err == nil {
				t.Fatal("New accepted a bad citizen")
			}
		})
	}
}
