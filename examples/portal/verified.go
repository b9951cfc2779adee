package portal

import (
	"encoding/json"
	"sort"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// shownClaims are the claims the applicant section shows, by field id.
var shownClaims = map[string]string{
	"name": "name", "birthdate": "birthdate", "gender": "gender", "cccd": "cccd",
	"address": "address", "phone": "phone_number", "nationality": "nationality",
}

// claimsRequest is the claims parameter the portal sends (OIDC Core 5.5): the eID level
// it needs as an essential acr (5.5.1.1: a lower login is refused, any listed value
// satisfies it), and the shown claims as verified_claims at userinfo (OpenID Connect for
// Identity Assurance 1.0), with the level and time of their verification, so the page
// says of each field whether the eID verified it and at which level. acr "-": no level.
func claimsRequest(acr string) string {
	names := make([]string, 0, len(shownClaims))
	for _, c := range shownClaims {
		names = append(names, c)
	}
	sort.Strings(names)
	wanted := make(map[string]any, len(names))
	for _, c := range names {
		wanted[c] = nil
	}
	req := map[string]any{"userinfo": map[string]any{"verified_claims": map[string]any{
		"verification": map[string]any{"trust_framework": nil, "assurance_level": nil, "time": nil},
		"claims":       wanted,
	}}}
	if acr != "-" {
		req["id_token"] = map[string]any{"acr": map[string]any{"essential": true, "values": []string{acr}}}
	}
	b, _ := json.Marshal(req)
	return string(b)
}

// verifiedLevels reads userinfo's verified_claims (an object or an array of them) into
// claim name -> the eID level that verified it ("" when the answer names none), and fills
// c from the verified values where plain claims left a field empty. Anything malformed is
// ignored: a field is then shown as not verified, never the other way round.
func (c *citizen) verifiedLevels(m map[string]any) {
	var sets []any
	switch v := m["verified_claims"].(type) {
	case map[string]any:
		sets = []any{v}
	case []any:
		sets = v
	}
	for _, s := range sets {
		set, _ := s.(map[string]any)
		ver, _ := set["verification"].(map[string]any)
		cl, _ := set["claims"].(map[string]any)
		if ver == nil || cl == nil || str(ver["trust_framework"]) == "" {
			continue
		}
		if c.Verified == nil {
			c.Verified = map[string]string{}
		}
		level := str(ver["assurance_level"])
		for name := range cl {
			if old, ok := c.Verified[name]; !ok || level > old {
				c.Verified[name] = level
			}
		}
		c.fill(cl)
	}
}

// fill copies the claims the portal shows; absent or mistyped claims leave fields as
// they are, so userinfo completes the ID token.
func (c *citizen) fill(m map[string]any) {
	set := func(dst *string, v any) {
		// NFC: the eID's text is what the forms print and the registries search.
		if s := norm.NFC.String(str(v)); s != "" {
			*dst = s
		}
	}
	set(&c.Name, m["name"])
	set(&c.Birthdate, m["birthdate"])
	set(&c.Gender, m["gender"])
	set(&c.CCCD, m["cccd"])
	set(&c.Phone, m["phone_number"])
	set(&c.Nationality, m["nationality"])
	switch a := m["address"].(type) {
	case map[string]any:
		set(&c.Address, a["formatted"])
	case string: // not OIDC, but seen upstream
		set(&c.Address, a)
	}
}

func str(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}
