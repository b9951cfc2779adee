package authflow

import (
	"slices"

	"github.com/motlan/motlan/idp/claims"
	"github.com/motlan/motlan/idp/store"
)

// The eID levels are Motlan's acr values (discovery's acr_values_supported): "1", an
// account the citizen registered in the app; "2", one issued in person by the police.
//
// OIDC Core 3.1.2.1 makes acr_values a voluntary request in order of preference: the
// login happens at the level of the citizen's eID account, and the ID token's acr says
// which. Motlan passes the preference on to the eID only with prompt=login (a fresh login
// the relying party asked for, where the eID may then insist on that level); otherwise a
// preference would let the eID refuse a login Motlan need not refuse. Only an essential acr
// claim in the claims parameter (5.5.1.1) is a requirement: any of its values satisfies it,
// the eID is asked for the lowest of them, a session that does not meet it is replaced by
// a step-up login at the eID, and a login that does not ends in access_denied.

func knownLevel(v string) bool { return v == "1" || v == "2" }

// preferredLevel is the first level of acr_values Motlan knows; "" for none.
func preferredLevel(acrValues []string) string {
	for _, v := range acrValues {
		if knownLevel(v) {
			return v
		}
	}
	return ""
}

// essentialACR returns the values of an essential acr claim in the request's claims
// parameter; nil when the request has none.
func essentialACR(ar store.AuthRequest) []string {
	if len(ar.Claims) == 0 {
		return nil
	}
	req, err := claims.Parse(string(ar.Claims))
	if err != nil {
		return nil // validated at /authorize: cannot happen
	}
	return req.EssentialACR()
}

// upstreamLevel is the level to ask the eID for: the lowest known level an essential acr
// accepts, else with prompt=login the preferred one, else none.
func upstreamLevel(ar store.AuthRequest) string {
	level := ""
	for _, v := range essentialACR(ar) {
		if knownLevel(v) && (level == "" || v < level) {
			level = v
		}
	}
	if level != "" || !slices.Contains(ar.Prompt, "login") {
		return level
	}
	return preferredLevel(ar.ACRValues)
}

// acrSatisfied reports whether a login at level acr meets the request's essential acr
// (always, when it has none).
func acrSatisfied(ar store.AuthRequest, acr string) bool {
	ess := essentialACR(ar)
	return len(ess) == 0 || slices.Contains(ess, acr)
}

// acrSatisfiable reports whether some eID level meets the request's essential acr.
func acrSatisfiable(ar store.AuthRequest) bool {
	ess := essentialACR(ar)
	return len(ess) == 0 || slices.ContainsFunc(ess, knownLevel)
}
