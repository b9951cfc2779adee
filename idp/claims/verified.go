package claims

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// OpenID Connect for Identity Assurance 1.0 (OIDC4IDA): the verified_claims member of a
// claims request, parsed here and answered by Verified (release.go).

// Identifiers Motlan publishes for OIDC4IDA (discovery, README).
const (
	// TrustFramework names Vietnam's national electronic identification under Decree
	// 69/2024/ND-CP: accounts of level 1 and 2 issued by the Ministry of Public Security.
	TrustFramework = "vn_eid"
	// EvidenceType: the eID's data is an electronic record, read from the national
	// population database (OIDC4IDA evidence type electronic_record).
	EvidenceType = "electronic_record"
	// RecordType is the electronic record's type: a population register.
	RecordType = "population_register"
	// RecordSourceName names the record's source: the national population database.
	RecordSourceName = "Cơ sở dữ liệu quốc gia về dân cư"
)

// VerifiedRequest is one element of a verified_claims request (OIDC4IDA 6): which
// verification data the relying party wants, under which constraints, about which claims.
type VerifiedRequest struct {
	Verification VerificationRequest
	Claims       map[string]*Member // never empty
}

// VerificationRequest lists the verification elements asked for; nil: not asked.
// trust_framework is returned whether asked or not (it is required in every answer).
type VerificationRequest struct {
	TrustFramework *Element
	AssuranceLevel *Element
	Time           *Element
	Evidence       []Element // one per evidence request; its Values constrain the type
	EvidenceAsked  bool
}

// Element is a request for one verification element: null gives the zero Element.
type Element struct {
	Essential bool
	Values    []string // from value or values: the answer must be one of them (empty: any)
	MaxAge    int      // time only: at most this many seconds old; -1: no limit
}

// Purpose bounds (OIDC4IDA 6.2): a purpose outside them is an invalid_request.
const (
	minPurpose = 3
	maxPurpose = 300
)

// parseVerified parses a verified_claims request: an object, or a non-empty array of
// objects, each with a verification object and a non-empty claims object.
func parseVerified(raw json.RawMessage) ([]VerifiedRequest, error) {
	raw = bytes.TrimSpace(raw)
	var items []json.RawMessage
	if len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, &items); err != nil || len(items) == 0 {
			return nil, fmt.Errorf("%w: verified_claims must be an object or a non-empty array of objects", ErrMalformed)
		}
	} else {
		items = []json.RawMessage{raw}
	}
	out := make([]VerifiedRequest, 0, len(items))
	for _, it := range items {
		var vr struct {
			Verification map[string]json.RawMessage `json:"verification"`
			Claims       map[string]json.RawMessage `json:"claims"`
		}
		if err := json.Unmarshal(it, &vr); err != nil || !isObject(it) {
			return nil, fmt.Errorf("%w: a verified_claims request must be an object", ErrMalformed)
		}
		if vr.Verification == nil {
			return nil, fmt.Errorf("%w: verified_claims needs a verification object", ErrMalformed)
		}
		if len(vr.Claims) == 0 {
			return nil, fmt.Errorf("%w: verified_claims needs a non-empty claims object", ErrMalformed)
		}
		var r VerifiedRequest
		var err error
		if r.Verification, err = parseVerification(vr.Verification); err != nil {
			return nil, err
		}
		if r.Claims, err = parseMembers("claims", vr.Claims); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func parseVerification(v map[string]json.RawMessage) (VerificationRequest, error) {
	var r VerificationRequest
	for name, raw := range v {
		var dst **Element
		switch name {
		case "trust_framework":
			dst = &r.TrustFramework
		case "assurance_level":
			dst = &r.AssuranceLevel
		case "time":
			dst = &r.Time
		case "evidence":
			ev, err := parseEvidence(raw)
			if err != nil {
				return r, err
			}
			r.Evidence, r.EvidenceAsked = ev, true
			continue
		default:
			continue // elements Motlan never returns (verification_process, ...): nothing to give
		}
		e, err := parseElement(name, raw, name == "time")
		if err != nil {
			return r, err
		}
		*dst = &e
	}
	return r, nil
}

// parseEvidence reads the evidence request: null, or an array of objects whose "type"
// element may constrain the evidence type.
func parseEvidence(raw json.RawMessage) ([]Element, error) {
	if isNull(raw) {
		return []Element{{MaxAge: -1}}, nil
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return nil, fmt.Errorf("%w: evidence must be an array of objects", ErrMalformed)
	}
	out := make([]Element, 0, len(items))
	for _, it := range items {
		if it == nil {
			return nil, fmt.Errorf("%w: evidence must be an array of objects", ErrMalformed)
		}
		e := Element{MaxAge: -1}
		if t, ok := it["type"]; ok {
			var err error
			if e, err = parseElement("evidence type", t, false); err != nil {
				return nil, err
			}
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		out = append(out, Element{MaxAge: -1})
	}
	return out, nil
}

// parseElement reads null or {essential, value, values, max_age (time only), purpose}.
func parseElement(name string, raw json.RawMessage, timeElem bool) (Element, error) {
	e := Element{MaxAge: -1}
	if isNull(raw) {
		return e, nil
	}
	var m struct {
		Essential *bool     `json:"essential"`
		Value     *string   `json:"value"`
		Values    *[]string `json:"values"`
		MaxAge    *int64    `json:"max_age"`
		Purpose   *string   `json:"purpose"`
	}
	bad := fmt.Errorf("%w: verification element %q must be null or an object of essential, value, values, max_age and purpose", ErrMalformed, name)
	if !isObject(raw) || json.Unmarshal(raw, &m) != nil {
		return e, bad
	}
	if m.Essential != nil {
		e.Essential = *m.Essential
	}
	if m.Value != nil {
		e.Values = append(e.Values, *m.Value)
	}
	if m.Values != nil {
		e.Values = append(e.Values, *m.Values...)
	}
	if m.MaxAge != nil {
		if !timeElem || *m.MaxAge < 0 || *m.MaxAge > 1<<31 {
			return e, fmt.Errorf("%w: max_age is a non-negative number of seconds, on time only", ErrMalformed)
		}
		e.MaxAge = int(*m.MaxAge)
	}
	if m.Purpose != nil && !validPurpose(*m.Purpose) {
		return e, fmt.Errorf("%w: purpose must have %d to %d characters", ErrMalformed, minPurpose, maxPurpose)
	}
	return e, nil
}

func validPurpose(p string) bool {
	n := utf8.RuneCountInString(p)
	return n >= minPurpose && n <= maxPurpose
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// allows reports whether e accepts the value v (no values: any).
func (e *Element) allows(v string) bool {
	if e == nil || len(e.Values) == 0 {
		return true
	}
	for _, x := range e.Values {
		if x == v {
			return true
		}
	}
	return false
}
