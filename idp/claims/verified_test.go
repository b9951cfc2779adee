package claims_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/idp/claims"
	"github.com/motlan/motlan/idp/store"
)

// TestParseVerifiedClaims: malformed verified_claims requests are ErrMalformed (the
// provider answers invalid_request); the OIDC4IDA examples' shapes parse.
func TestParseVerifiedClaims(t *testing.T) {
	vc := func(s string) string { return `{"userinfo":{"verified_claims":` + s + `}}` }
	tests := []struct {
		name    string
		raw     string
		wantErr bool
		n       int // verified requests parsed
	}{
		{name: "spec example: trust_framework null", raw: vc(`{"verification":{"trust_framework":null},"claims":{"given_name":null,"family_name":null,"birthdate":null}}`), n: 1},
		{name: "time max_age and evidence", raw: vc(`{"verification":{"trust_framework":{"value":"vn_eid"},"time":{"max_age":63072000},"evidence":[{"type":{"value":"electronic_record"}}]},"claims":{"given_name":{"essential":true,"purpose":"Điền sẵn tờ khai"}}}`), n: 1},
		{name: "array of two", raw: vc(`[{"verification":{"trust_framework":null},"claims":{"given_name":null}},{"verification":{"assurance_level":{"values":["2"]}},"claims":{"address":null}}]`), n: 2},
		{name: "in the id_token", raw: `{"id_token":{"verified_claims":{"verification":{"time":null},"claims":{"birthdate":null}},"acr":{"essential":true}}}`, n: 1},
		{name: "unknown verification element ignored", raw: vc(`{"verification":{"verification_process":null},"claims":{"name":null}}`), n: 1},
		{name: "evidence null", raw: vc(`{"verification":{"evidence":null},"claims":{"name":null}}`), n: 1},

		{name: "not an object", raw: vc(`"given_name"`), wantErr: true},
		{name: "empty array", raw: vc(`[]`), wantErr: true},
		{name: "array of a string", raw: vc(`["x"]`), wantErr: true},
		{name: "no verification", raw: vc(`{"claims":{"given_name":null}}`), wantErr: true},
		{name: "verification null", raw: vc(`{"verification":null,"claims":{"given_name":null}}`), wantErr: true},
		{name: "no claims", raw: vc(`{"verification":{"trust_framework":null}}`), wantErr: true},
		{name: "empty claims", raw: vc(`{"verification":{"trust_framework":null},"claims":{}}`), wantErr: true},
		{name: "claims member a string", raw: vc(`{"verification":{},"claims":{"given_name":"x"}}`), wantErr: true},
		{name: "negative max_age", raw: vc(`{"verification":{"time":{"max_age":-1}},"claims":{"name":null}}`), wantErr: true},
		{name: "max_age not a number", raw: vc(`{"verification":{"time":{"max_age":"1y"}},"claims":{"name":null}}`), wantErr: true},
		{name: "max_age on trust_framework", raw: vc(`{"verification":{"trust_framework":{"max_age":5}},"claims":{"name":null}}`), wantErr: true},
		{name: "value not a string", raw: vc(`{"verification":{"assurance_level":{"value":2}},"claims":{"name":null}}`), wantErr: true},
		{name: "element a string", raw: vc(`{"verification":{"time":"recent"},"claims":{"name":null}}`), wantErr: true},
		{name: "evidence not an array", raw: vc(`{"verification":{"evidence":{"type":null}},"claims":{"name":null}}`), wantErr: true},
		{name: "purpose too short", raw: vc(`{"verification":{},"claims":{"name":{"purpose":"ab"}}}`), wantErr: true},
		{name: "purpose too long", raw: vc(`{"verification":{},"claims":{"name":{"purpose":"` + strings.Repeat("ạ", 301) + `"}}}`), wantErr: true},
		{name: "purpose on a plain claim too short", raw: `{"userinfo":{"name":{"purpose":"x"}}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := parse(t, tt.raw, tt.wantErr)
			if !ok {
				return
			}
			if got := len(r.VerifiedUserInfo) + len(r.VerifiedIDToken); got != tt.n {
				t.Fatalf("%d verified requests, want %d", got, tt.n)
			}
			if _, ok := r.UserInfo["verified_claims"]; ok {
				t.Error("verified_claims also kept as a plain member")
			}
		})
	}
}

var (
	now      = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	lastSeen = now.Add(-time.Hour)
	lastYear = now.AddDate(-1, 0, 0)
)

// ida is a citizen whose last login (level 2, an hour ago) stated names, birth date and an
// unverified phone, and whose address came from a level-1 login a year ago.
func ida() store.Citizen {
	at := func(v string, level int, when time.Time, verified bool) store.Attribute {
		return store.Attribute{Value: json.RawMessage(v), Source: "https://eid.example.vn", Level: level,
			VerifiedAt: when, Verified: verified}
	}
	return store.Citizen{ID: "c1", Attributes: map[string]store.Attribute{
		"given_name":   at(`"Hảo"`, 2, lastSeen, true),
		"family_name":  at(`"Lê"`, 2, lastSeen, true),
		"birthdate":    at(`"1992-11-02"`, 2, lastSeen, true),
		"phone_number": at(`"+84912345602"`, 2, lastSeen, false),
		"address":      at(`{"formatted":"Thôn Đông Hải"}`, 1, lastYear, true),
	}}
}

// TestVerifiedAnswers gives the answers OIDC4IDA defines for its request shapes: only the
// verification elements asked (trust_framework always), only verified claims the client
// may receive, and nothing for a group that fails a constraint.
func TestVerifiedAnswers(t *testing.T) {
	const tf = `"trust_framework":"vn_eid"`
	names := `"claims":{"given_name":"Hảo","family_name":"Lê","birthdate":"1992-11-02"}`
	ev := `"evidence":[{"type":"electronic_record","record":{"type":"population_register","source":{"name":"Cơ sở dữ liệu quốc gia về dân cư","country_code":"VNM"}}}]`
	req3 := `"claims":{"given_name":null,"family_name":{"essential":true},"birthdate":null}`
	tests := []struct {
		name     string
		req      string
		granted  []string
		want     string // JSON; "" for nothing released
		released []string
	}{
		{"trust_framework null", `{"verification":{"trust_framework":null},` + req3 + `}`, nil,
			`{"verification":{` + tf + `},` + names + `}`, []string{"birthdate", "family_name", "given_name"}},
		{"verification empty: trust_framework all the same", `{"verification":{},` + req3 + `}`, nil,
			`{"verification":{` + tf + `},` + names + `}`, nil},
		{"time null", `{"verification":{"time":null},` + req3 + `}`, nil,
			`{"verification":{` + tf + `,"time":"2026-12-06T08:00:00Z"},` + names + `}`, nil},
		{"time essential", `{"verification":{"time":{"essential":true}},` + req3 + `}`, nil,
			`{"verification":{` + tf + `,"time":"2026-12-06T08:00:00Z"},` + names + `}`, nil},
		{"max_age two years: fresh enough", `{"verification":{"time":{"max_age":63072000}},` + req3 + `}`, nil,
			`{"verification":{` + tf + `,"time":"2026-12-06T08:00:00Z"},` + names + `}`, nil},
		{"max_age one minute: too old, nothing", `{"verification":{"time":{"max_age":60}},` + req3 + `}`, nil, "", nil},
		{"max_age keeps the fresh group only", `{"verification":{"time":{"max_age":86400}},"claims":{"given_name":null,"address":null}}`, nil,
			`{"verification":{` + tf + `,"time":"2026-12-06T08:00:00Z"},"claims":{"given_name":"Hảo"}}`, []string{"given_name"}},
		{"trust_framework value matches", `{"verification":{"trust_framework":{"value":"vn_eid"}},"claims":{"birthdate":null}}`, nil,
			`{"verification":{` + tf + `},"claims":{"birthdate":"1992-11-02"}}`, nil},
		{"trust_framework value another", `{"verification":{"trust_framework":{"value":"de_aml"}},` + req3 + `}`, nil, "", nil},
		{"assurance_level values 2", `{"verification":{"assurance_level":{"values":["2"]}},"claims":{"birthdate":null,"address":null}}`, nil,
			`{"verification":{` + tf + `,"assurance_level":"2"},"claims":{"birthdate":"1992-11-02"}}`, []string{"birthdate"}},
		{"two logins, two groups", `{"verification":{"assurance_level":null},"claims":{"birthdate":null,"address":null}}`, nil,
			`[{"verification":{` + tf + `,"assurance_level":"2"},"claims":{"birthdate":"1992-11-02"}},` +
				`{"verification":{` + tf + `,"assurance_level":"1"},"claims":{"address":{"formatted":"Thôn Đông Hải"}}}]`, []string{"address", "birthdate"}},
		{"evidence electronic_record", `{"verification":{"evidence":[{"type":{"value":"electronic_record"}}]},"claims":{"family_name":null}}`, nil,
			`{"verification":{` + tf + `,` + ev + `},"claims":{"family_name":"Lê"}}`, nil},
		{"evidence of another type", `{"verification":{"evidence":[{"type":{"value":"document"}}]},"claims":{"family_name":null}}`, nil, "", nil},
		{"unverified phone left out", `{"verification":{},"claims":{"phone_number":null,"given_name":null}}`, []string{"openid", "profile", "phone"},
			`{"verification":{` + tf + `},"claims":{"given_name":"Hảo"}}`, []string{"given_name"}},
		{"only an unverified phone: nothing", `{"verification":{},"claims":{"phone_number":null}}`, []string{"openid", "phone"}, "", nil},
		{"scope not granted: left out", `{"verification":{},"claims":{"address":null,"given_name":null}}`, []string{"openid", "profile"},
			`{"verification":{` + tf + `},"claims":{"given_name":"Hảo"}}`, []string{"given_name"}},
		{"unknown and metadata claims: nothing", `{"verification":{},"claims":{"email":null,"updated_at":null,"phone_number_verified":null}}`, nil, "", nil},
		{"array of requests", `[{"verification":{},"claims":{"given_name":null}},{"verification":{"time":null},"claims":{"birthdate":null}}]`, nil,
			`[{"verification":{` + tf + `},"claims":{"given_name":"Hảo"}},{"verification":{` + tf + `,"time":"2026-12-06T08:00:00Z"},"claims":{"birthdate":"1992-11-02"}}]`,
			[]string{"birthdate", "given_name"}},
	}
	allowed := []string{"openid", "profile", "address", "phone"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := claims.Parse(`{"userinfo":{"verified_claims":` + tt.req + `}}`)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			granted := tt.granted
			if granted == nil {
				granted = allowed
			}
			got, released := claims.Verified(r.VerifiedUserInfo, granted, allowed, ida(), now)
			if tt.want == "" {
				if got != nil || len(released) != 0 {
					t.Fatalf("released %v: %+v", released, got)
				}
				return
			}
			gotJSON, _ := json.Marshal(got)
			var g, w any
			_ = json.Unmarshal(gotJSON, &g)
			if err := json.Unmarshal([]byte(tt.want), &w); err != nil {
				t.Fatalf("bad want: %v", err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("got  %s\nwant %s", gotJSON, tt.want)
			}
			if tt.released != nil && !reflect.DeepEqual(released, tt.released) {
				t.Errorf("released %v, want %v", released, tt.released)
			}
		})
	}
}

// TestValuesAsTheEIDStated: phone_number_verified follows the eID's flag, updated_at is the
// eID's (absent when it sent none), never Motlan's own times.
func TestValuesAsTheEIDStated(t *testing.T) {
	cit := ida()
	names := []string{"phone_number", "phone_number_verified", "updated_at", "given_name", "cccd"}
	out := map[string]any{}
	released := claims.Values(out, cit, names)
	if out["phone_number_verified"] != false {
		t.Errorf("phone_number_verified = %v, want false", out["phone_number_verified"])
	}
	if _, ok := out["updated_at"]; ok || len(released) != 3 {
		t.Errorf("released %v (updated_at without an eID value?)", released)
	}
	a := cit.Attributes["phone_number"]
	a.Verified, a.EIDUpdatedAt = true, lastYear
	cit.Attributes["phone_number"] = a
	g := cit.Attributes["given_name"]
	g.EIDUpdatedAt = lastSeen
	cit.Attributes["given_name"] = g
	out = map[string]any{}
	claims.Values(out, cit, names)
	if out["phone_number_verified"] != true || out["updated_at"] != lastSeen.Unix() {
		t.Errorf("verified %v updated_at %v, want true %d", out["phone_number_verified"], out["updated_at"], lastSeen.Unix())
	}
	delete(cit.Attributes, "phone_number")
	out = map[string]any{}
	claims.Values(out, cit, names)
	if _, ok := out["phone_number_verified"]; ok {
		t.Error("phone_number_verified without a phone number")
	}
}
