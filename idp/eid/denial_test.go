package eid

import (
	"fmt"
	"testing"
)

type deniedErr Denial

func (e deniedErr) Error() string  { return "denied" }
func (e deniedErr) Denial() Denial { return Denial(e) }

func TestClassifyDenial(t *testing.T) {
	tests := []struct {
		code, desc string
		want       Denial
	}{
		{"access_denied", "the citizen cancelled the login", DenialCancelled},
		{"access_denied", "too many wrong passwords", DenialCredentials},
		{"access_denied", "Too many wrong one-time codes", DenialCredentials},
		{"access_denied", "account level too low", DenialLevel},
		{"access_denied", "the citizen refused consent", DenialConsent},
		{"consent_required", "", DenialConsent},
		{"access_denied", "", DenialUnknown},
		{"login_required", "cancel", DenialUnknown},
	}
	for _, tc := range tests {
		if got := ClassifyDenial(tc.code, tc.desc); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.code, tc.desc, got, tc.want)
		}
	}
	if got := DenialOf(fmt.Errorf("wrapped: %w", deniedErr(DenialLevel))); got != DenialLevel {
		t.Errorf("DenialOf a wrapped error: %q", got)
	}
	if got := DenialOf(ErrDenied); got != DenialUnknown {
		t.Errorf("DenialOf(ErrDenied) = %q", got)
	}
}
