// Package claims decides which citizen attributes a relying party receives: by scope
// (OIDC Core 5.4), by the claims request parameter (OIDC Core 5.5), and only within the
// scopes the client is allowed; each value as the eID stated it (release.go). It also
// parses and answers verified_claims requests (OpenID Connect for Identity Assurance 1.0,
// verified.go): only attributes the eID verified, with the verification data asked.
package claims

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// ByScope lists the claims each scope releases. "cccd" carries the 12-digit personal ID
// number and is released only to clients allowed that scope.
var ByScope = map[string][]string{
	"profile": {"name", "family_name", "middle_name", "given_name", "birthdate", "gender", "nationality", "place_of_origin", "updated_at"},
	"address": {"address"},
	"phone":   {"phone_number", "phone_number_verified"},
	"cccd":    {"cccd"},
}

// scopeOf is the inverse of ByScope.
var scopeOf = func() map[string]string {
	m := map[string]string{}
	for s, cs := range ByScope {
		for _, c := range cs {
			m[c] = s
		}
	}
	return m
}()

// Supported lists every claim the provider can release, for discovery.
func Supported() []string {
	out := []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "sid", "azp"}
	for c := range scopeOf {
		out = append(out, c)
	}
	sort.Strings(out[12:])
	return out
}

// Request is a parsed claims request parameter.
type Request struct {
	UserInfo map[string]*Member `json:"userinfo,omitempty"`
	IDToken  map[string]*Member `json:"id_token,omitempty"`
	// VerifiedUserInfo and VerifiedIDToken are the verified_claims requests (OIDC4IDA)
	// for each target; verified_claims itself is not a member of UserInfo or IDToken.
	VerifiedUserInfo []VerifiedRequest `json:"-"`
	VerifiedIDToken  []VerifiedRequest `json:"-"`
}

// Member is one requested claim; nil means "requested, default".
type Member struct {
	Essential bool              `json:"essential,omitempty"`
	Value     json.RawMessage   `json:"value,omitempty"`
	Values    []json.RawMessage `json:"values,omitempty"`
	// Purpose tells the citizen why the claim is asked (OIDC4IDA 6.2): 3 to 300 characters.
	Purpose string `json:"purpose,omitempty"`
}

// ErrMalformed reports a claims parameter that is not the JSON object OIDC Core 5.5 defines,
// or a verified_claims request that is not what OIDC4IDA defines. Callers answer it with
// invalid_request.
var ErrMalformed = errors.New("claims: malformed claims request")

// Parse parses the claims request parameter. An empty string is an empty request.
func Parse(raw string) (Request, error) {
	var r Request
	if raw == "" {
		return r, nil
	}
	// Decode into raw members first: a member must be null or an object.
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &top); err != nil || top == nil {
		return r, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	for key, v := range top {
		var dst *map[string]*Member
		var vdst *[]VerifiedRequest
		switch key {
		case "userinfo":
			dst, vdst = &r.UserInfo, &r.VerifiedUserInfo
		case "id_token":
			dst, vdst = &r.IDToken, &r.VerifiedIDToken
		default:
			continue // other members are ignored, as OIDC Core 5.5 allows extensions
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(v, &members); err != nil {
			return Request{}, fmt.Errorf("%w: %q must be an object", ErrMalformed, key)
		}
		if vc, ok := members["verified_claims"]; ok {
			delete(members, "verified_claims")
			var err error
			if *vdst, err = parseVerified(vc); err != nil {
				return Request{}, err
			}
		}
		var err error
		if *dst, err = parseMembers(key, members); err != nil {
			return Request{}, err
		}
	}
	return r, nil
}

// parseMembers reads individual claim requests: each null or an object.
func parseMembers(key string, members map[string]json.RawMessage) (map[string]*Member, error) {
	out := make(map[string]*Member, len(members))
	for name, mv := range members {
		if isNull(mv) {
			out[name] = nil
			continue
		}
		var m Member
		if err := json.Unmarshal(mv, &m); err != nil || !isObject(mv) {
			return nil, fmt.Errorf("%w: %s member %q must be null or an object", ErrMalformed, key, name)
		}
		if m.Purpose != "" && !validPurpose(m.Purpose) {
			return nil, fmt.Errorf("%w: purpose must have %d to %d characters", ErrMalformed, minPurpose, maxPurpose)
		}
		out[name] = &m
	}
	return out, nil
}

// EssentialACR returns the acr values a claims request marks essential for the ID token.
func (r Request) EssentialACR() []string {
	m := r.IDToken["acr"]
	if m == nil || !m.Essential {
		return nil
	}
	var out []string
	var s string
	if json.Unmarshal(m.Value, &s) == nil && s != "" {
		out = append(out, s)
	}
	for _, v := range m.Values {
		if json.Unmarshal(v, &s) == nil && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Target is where claims go.
type Target int

const (
	UserInfo Target = iota
	IDToken
)

// Select returns the claim names to release for the target: those of granted scopes
// (userinfo only, since the code flow issues an access token, OIDC Core 5.4), plus those the
// claims request names for the target whose scope the client is allowed. Sorted.
func Select(granted, allowed []string, req Request, t Target) []string {
	set := map[string]bool{}
	if t == UserInfo {
		for _, s := range granted {
			for _, c := range ByScope[s] {
				set[c] = true
			}
		}
	}
	members := req.UserInfo
	if t == IDToken {
		members = req.IDToken
	}
	for name := range members {
		if s, ok := scopeOf[name]; ok && slices.Contains(allowed, s) && slices.Contains(granted, s) {
			set[name] = true
		}
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}
