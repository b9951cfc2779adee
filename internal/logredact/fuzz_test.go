package logredact_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/motlan/motlan/internal/logredact"
)

// The oracle below is written independently of logredact: it splits a string into
// fields and judges each field whole, so it shares no regexp (and no bug) with String.
//
// An isolated CCCD is a maximal run of exactly 12 digits. An isolated phone number is a
// maximal run of digits and '+' (so one not glued to another number) that is, ungrouped,
// a number String masks: 0, 84 or +84, then 8-10 digits of which the first is not 0.
var phoneField = regexp.MustCompile(`^(?:\+84|84|0)[1-9][0-9]{7,9}$`)

func digitRuns(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
}

func phoneFields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '+' })
}

func isolatedCCCDs(s string) (isolated, inLonger []string) {
	for _, r := range digitRuns(s) {
		if len(r) == 12 {
			isolated = append(isolated, r)
		} else {
			inLonger = append(inLonger, r)
		}
	}
	return isolated, inLonger
}

func isolatedPhones(s string) (isolated, other []string) {
	for _, f := range phoneFields(s) {
		if phoneField.MatchString(f) {
			isolated = append(isolated, f)
		} else {
			other = append(other, f)
		}
	}
	return isolated, other
}

func containedIn(x string, in []string) bool {
	for _, s := range in {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// FuzzString: whatever surrounds them, no CCCD and no phone number that the input holds
// isolated survives String, neither as an isolated number nor as text anywhere (unless
// the input also holds those digits inside some longer number, which is kept); the output
// holds no isolated CCCD or phone number at all; and masking again changes nothing.
func FuzzString(f *testing.F) {
	for _, s := range []string{
		"cccds 079090001234 079090001235,079090001236",
		"phones 0912345678 0912345679",
		"0912345678+84912345679;84912345670\n(+84) 912-345-678",
		"0790900012345 079090001234 10912345678",
		"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIwMzgwOTUwMTIzNDUifQ.c2ln 038095012345",
		"took 12ms at 1772352000000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := logredact.String(in)
		cccds, longer := isolatedCCCDs(in)
		for _, c := range cccds {
			if strings.Contains(out, c) && !containedIn(c, longer) {
				t.Errorf("String(%q) = %q keeps the CCCD %s", in, out, c)
			}
		}
		phones, other := isolatedPhones(in)
		for _, p := range phones {
			if strings.Contains(out, p) && !containedIn(p, other) {
				t.Errorf("String(%q) = %q keeps the phone number %s", in, out, p)
			}
		}
		if c, _ := isolatedCCCDs(out); len(c) > 0 {
			t.Errorf("String(%q) = %q holds the CCCDs %q", in, out, c)
		}
		if p, _ := isolatedPhones(out); len(p) > 0 {
			t.Errorf("String(%q) = %q holds the phone numbers %q", in, out, p)
		}
		if again := logredact.String(out); again != out {
			t.Errorf("String(%q) = %q, and again %q", in, out, again)
		}
	})
}
