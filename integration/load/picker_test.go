package main

import (
	"testing"
)

// TestPicker checks who makes each login: the warm-up goes round the pool; in a mixed run
// the measured logins have the configured share of citizens never seen before, each new
// citizen once, and the others are citizens the warm-up logged in.
func TestPicker(t *testing.T) {
	tests := []struct {
		name                 string
		share                float64
		logins, warm, pool   int
		wantNew, wantOldSeen int
	}{
		{"all new", 1, 10, 4, 6, 10, 0},
		{"70% new", 0.7, 10, 4, 6, 7, 3},
		{"30% new", 0.3, 20, 8, 6, 6, 14},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := &Options{Logins: tc.logins, NewCitizens: tc.share}
			p := newPicker(o, loadCitizens(tc.pool+o.freshCitizens()), tc.warm)
			warmed := map[string]bool{}
			for i := range tc.warm {
				warmed[p.next(i, false)] = true
			}
			fresh := map[string]bool{}
			var old int
			for i := range tc.logins {
				c := p.next(i, true)
				switch {
				case warmed[c]:
					old++
				case fresh[c]:
					t.Errorf("login %d: new citizen %s used twice", i, c)
				default:
					fresh[c] = true
				}
			}
			if len(fresh) != tc.wantNew || old != tc.wantOldSeen {
				t.Errorf("%d new and %d returning citizens, want %d and %d", len(fresh), old, tc.wantNew, tc.wantOldSeen)
			}
		})
	}
}

// TestPickerPlain: without new citizens the logins go round the whole pool.
func TestPickerPlain(t *testing.T) {
	o := &Options{Logins: 12}
	cs := loadCitizens(6)
	p := newPicker(o, cs, 4)
	for i := range 4 {
		p.next(i, false)
	}
	for i := range 12 {
		if got, want := p.next(i, true), cs[(4+i)%6].CCCD; got != want {
			t.Fatalf("login %d: %s, want %s", i, got, want)
		}
	}
}

// TestOptionsValidate refuses a share outside 0..1, new citizens with a kept dev eID
// session, unknown upstreams and targets, Dex without the minimal eID or a binary, and Dex
// in the waiting-phones benchmark.
func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{{NewCitizens: -0.1}, {NewCitizens: 1.5}, {NewCitizens: 0.5, EIDSSO: true},
		{EID: "other"}, {Target: "other"}, {Target: "dex", EID: "minimal"}, {Target: "dex", DexBin: "/bin/dex"},
		{Target: "dex", EID: "minimal", DexBin: "/bin/dex", Store: "postgres", Waiters: 10}} {
		if err := o.validate(); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	for _, o := range []Options{{NewCitizens: 0.7}, {EID: "minimal", NewCitizens: 0.7, EIDSSO: true},
		{Target: "dex", EID: "minimal", DexBin: "/bin/dex", Store: "sqlite"},
		{Target: "dex", EID: "minimal", DexBin: "/bin/dex", Store: "postgres"}} {
		if err := o.validate(); err != nil {
			t.Errorf("valid options %+v: %v", o, err)
		}
	}
}
