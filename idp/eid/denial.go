package eid

import (
	"errors"
	"strings"
)

// Denial says why the eID refused a login, when its answer tells: each has its own
// sentence for the citizen rather than one "cancelled or refused".
type Denial string

// Denials the broker tells apart.
const (
	DenialUnknown     Denial = ""
	DenialCancelled   Denial = "cancelled"   // the citizen pressed cancel
	DenialCredentials Denial = "credentials" // too many wrong passwords or one-time codes
	DenialLevel       Denial = "level"       // the account's level is below the one asked
	DenialConsent     Denial = "consent"     // the citizen refused to share their data
)

// Denied is an error that knows its Denial (the connectors' callback errors).
type Denied interface{ Denial() Denial }

// DenialOf is err's Denial, or DenialUnknown.
func DenialOf(err error) Denial {
	var d Denied
	if errors.As(err, &d) {
		return d.Denial()
	}
	return DenialUnknown
}

// ClassifyDenial maps an RFC 6749 error code and its description to a Denial. The
// description is only matched against a few words; it is never shown or logged.
func ClassifyDenial(code, description string) Denial {
	d := strings.ToLower(description)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(d, w) {
				return true
			}
		}
		return false
	}
	switch {
	case code == "consent_required" || has("consent"):
		return DenialConsent
	case has("password", "too many", "attempt", "credential", "otp", "one-time"):
		return DenialCredentials
	case has("level", "insufficient", "acr"):
		return DenialLevel
	case code == "access_denied" && has("cancel"):
		return DenialCancelled
	}
	return DenialUnknown
}
