package claims

import (
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/motlan/motlan/idp/store"
)

// InVerifiedClaims lists the claims Motlan can release inside verified_claims
// (discovery's claims_in_verified_claims_supported): the attributes the eID states.
func InVerifiedClaims() []string {
	out := make([]string, 0, len(scopeOf))
	for c := range scopeOf {
		if c != "updated_at" && c != "phone_number_verified" {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// Values copies the named claims of a citizen into dst and returns the names actually
// released; attributes the citizen lacks are left out (OIDC Core 5.3.2). Every value is as
// the eID stated it: phone_number_verified is true only when the eID verified the number
// (OIDC Core 5.1), and updated_at is the eID's own, the latest it sent (absent when it
// sent none).
func Values(dst map[string]any, cit store.Citizen, names []string) []string {
	released := make([]string, 0, len(names))
	for _, n := range names {
		switch n {
		case "updated_at":
			if t := eidUpdatedAt(cit.Attributes); !t.IsZero() {
				dst[n] = t.Unix()
				released = append(released, n)
			}
			continue
		case "phone_number_verified":
			if a, ok := cit.Attributes["phone_number"]; ok && len(a.Value) > 0 {
				dst[n] = a.Verified
				released = append(released, n)
			}
			continue
		}
		a, ok := cit.Attributes[n]
		if !ok || len(a.Value) == 0 {
			continue
		}
		dst[n] = a.Value
		released = append(released, n)
	}
	return released
}

func eidUpdatedAt(attrs map[string]store.Attribute) time.Time {
	var t time.Time
	for _, a := range attrs {
		if a.EIDUpdatedAt.After(t) {
			t = a.EIDUpdatedAt
		}
	}
	return t
}

// VerifiedClaims is one verified_claims object of an answer (OIDC4IDA, Identity Assurance
// Schema Definition 1.0 section 5).
type VerifiedClaims struct {
	Verification Verification   `json:"verification"`
	Claims       map[string]any `json:"claims"`
}

// Verification says how the claims beside it were verified. Only what was asked is
// present, except trust_framework, which every answer carries.
type Verification struct {
	TrustFramework string     `json:"trust_framework"`
	AssuranceLevel string     `json:"assurance_level,omitempty"`
	Time           string     `json:"time,omitempty"`
	Evidence       []Evidence `json:"evidence,omitempty"`
}

// Evidence is the eID's record (type electronic_record).
type Evidence struct {
	Type   string `json:"type"`
	Record Record `json:"record"`
}

// Record is the electronic record the eID read.
type Record struct {
	Type   string       `json:"type"`
	Source RecordSource `json:"source"`
}

// RecordSource names where the record is kept.
type RecordSource struct {
	Name        string `json:"name"`
	CountryCode string `json:"country_code"`
}

// group is the attributes one eID login verified: same source, level and time.
type group struct {
	source string
	level  int
	at     time.Time
}

// Verified answers verified_claims requests for one target: for each request, the claims
// it names that the client may receive (their scope allowed and granted) and that the eID
// verified, grouped by the login that verified them; a group is left out when it fails a
// constraint of the request (a trust_framework, assurance_level or evidence type value, or
// time's max_age), and a request with nothing left gives nothing (OIDC4IDA 6). It returns
// nil when nothing is released, one VerifiedClaims alone, or a slice of several, and the
// released claim names, sorted.
func Verified(reqs []VerifiedRequest, granted, allowed []string, cit store.Citizen, now time.Time) (any, []string) {
	var out []VerifiedClaims
	released := map[string]bool{}
	for _, r := range reqs {
		groups := map[group][]string{}
		for name := range r.Claims {
			s, ok := scopeOf[name]
			a, has := cit.Attributes[name]
			if !ok || !slices.Contains(allowed, s) || !slices.Contains(granted, s) || !has || !a.Verified ||
				len(a.Value) == 0 || name == "updated_at" || name == "phone_number_verified" {
				continue
			}
			g := group{a.Source, a.Level, a.VerifiedAt.Truncate(time.Second)}
			groups[g] = append(groups[g], name)
		}
		keys := make([]group, 0, len(groups))
		for g := range groups {
			keys = append(keys, g)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].at.After(keys[j].at) })
		for _, g := range keys {
			v, ok := r.Verification.answer(g, now)
			if !ok {
				continue
			}
			vc := VerifiedClaims{Verification: v, Claims: map[string]any{}}
			for _, name := range groups[g] {
				vc.Claims[name] = cit.Attributes[name].Value
				released[name] = true
			}
			out = append(out, vc)
		}
	}
	names := make([]string, 0, len(released))
	for n := range released {
		names = append(names, n)
	}
	sort.Strings(names)
	switch len(out) {
	case 0:
		return nil, nil
	case 1:
		return out[0], names
	}
	return out, names
}

// answer builds the verification element for a group, or reports false when the group
// fails a constraint.
func (r VerificationRequest) answer(g group, now time.Time) (Verification, bool) {
	level := strconv.Itoa(g.level)
	if !r.TrustFramework.allows(TrustFramework) || !r.AssuranceLevel.allows(level) {
		return Verification{}, false
	}
	if r.Time != nil && r.Time.MaxAge >= 0 && now.Sub(g.at) > time.Duration(r.Time.MaxAge)*time.Second {
		return Verification{}, false
	}
	v := Verification{TrustFramework: TrustFramework}
	if r.AssuranceLevel != nil {
		v.AssuranceLevel = level
	}
	if r.Time != nil {
		v.Time = g.at.UTC().Format(time.RFC3339)
	}
	if r.EvidenceAsked {
		for _, e := range r.Evidence {
			if !e.allows(EvidenceType) {
				return Verification{}, false
			}
		}
		v.Evidence = []Evidence{{Type: EvidenceType, Record: Record{Type: RecordType,
			Source: RecordSource{Name: RecordSourceName, CountryCode: "VNM"}}}}
	}
	return v, true
}
