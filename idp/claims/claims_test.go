package claims_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/motlan/motlan/idp/claims"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name         string
		raw          string
		wantErr      bool
		wantUserInfo []string // member names, sorted
		wantIDToken  []string
		wantNil      []string // id_token members that must be nil ("requested, default")
		wantACR      []string
	}{
		{name: "empty", raw: ""},
		{name: "empty object", raw: `{}`},
		{name: "both targets", raw: `{"userinfo":{"name":null,"address":{"essential":true}},"id_token":{"cccd":null}}`,
			wantUserInfo: []string{"address", "name"}, wantIDToken: []string{"cccd"}, wantNil: []string{"cccd"}},
		{name: "null members", raw: `{"id_token":{"name":null,"birthdate":null}}`, wantIDToken: []string{"birthdate", "name"}, wantNil: []string{"birthdate", "name"}},
		{name: "null target", raw: `{"userinfo":null}`},
		{name: "unknown top-level member ignored", raw: `{"x-ext":[1,2],"id_token":{"name":null}}`, wantIDToken: []string{"name"}},
		{name: "unknown claim kept", raw: `{"id_token":{"favourite_colour":null}}`, wantIDToken: []string{"favourite_colour"}},
		{name: "value and values", raw: `{"id_token":{"acr":{"essential":true,"value":"2"}}}`, wantIDToken: []string{"acr"}, wantACR: []string{"2"}},
		{name: "essential acr values", raw: `{"id_token":{"acr":{"essential":true,"values":["1","2"]}}}`, wantIDToken: []string{"acr"}, wantACR: []string{"1", "2"}},
		{name: "voluntary acr", raw: `{"id_token":{"acr":{"values":["2"]}}}`, wantIDToken: []string{"acr"}},
		{name: "acr values of wrong type ignored", raw: `{"id_token":{"acr":{"essential":true,"values":[2,{"a":1}]}}}`, wantIDToken: []string{"acr"}},
		{name: "Vietnamese value", raw: `{"userinfo":{"name":{"value":"Lê Công Hảo"}}}`, wantUserInfo: []string{"name"}},

		{name: "not JSON", raw: `{"id_token":`, wantErr: true},
		{name: "JSON null", raw: `null`, wantErr: true},
		{name: "array", raw: `[{"id_token":{}}]`, wantErr: true},
		{name: "string", raw: `"id_token"`, wantErr: true},
		{name: "number", raw: `1`, wantErr: true},
		{name: "trailing garbage", raw: `{} {}`, wantErr: true},
		{name: "target is array", raw: `{"id_token":["name"]}`, wantErr: true},
		{name: "target is string", raw: `{"userinfo":"name"}`, wantErr: true},
		{name: "member is bool", raw: `{"userinfo":{"name":true}}`, wantErr: true},
		{name: "member is string", raw: `{"userinfo":{"name":"yes"}}`, wantErr: true},
		{name: "member is array", raw: `{"id_token":{"name":[]}}`, wantErr: true},
		{name: "essential is string", raw: `{"id_token":{"name":{"essential":"true"}}}`, wantErr: true},
		{name: "values is not an array", raw: `{"id_token":{"acr":{"values":"2"}}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := parse(t, tt.raw, tt.wantErr)
			if !ok {
				return
			}
			if got := keys(r.UserInfo); !slices.Equal(got, tt.wantUserInfo) {
				t.Errorf("userinfo = %v, want %v", got, tt.wantUserInfo)
			}
			if got := keys(r.IDToken); !slices.Equal(got, tt.wantIDToken) {
				t.Errorf("id_token = %v, want %v", got, tt.wantIDToken)
			}
			for _, n := range tt.wantNil {
				if r.IDToken[n] != nil {
					t.Errorf("id_token %s = %+v, want nil", n, r.IDToken[n])
				}
			}
			if got := r.EssentialACR(); !slices.Equal(got, tt.wantACR) {
				t.Errorf("EssentialACR = %v, want %v", got, tt.wantACR)
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestSelect(t *testing.T) {
	mustParse := func(raw string) claims.Request {
		r, err := claims.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	profile := []string{"birthdate", "family_name", "gender", "given_name", "middle_name", "name", "nationality", "place_of_origin", "updated_at"}
	all := []string{"profile", "address", "phone", "cccd"}
	tests := []struct {
		name    string
		granted []string
		allowed []string
		req     claims.Request
		target  claims.Target
		want    []string
	}{
		{name: "userinfo by scope", granted: []string{"openid", "profile"}, allowed: all, target: claims.UserInfo, want: profile},
		{name: "userinfo address and phone", granted: []string{"openid", "address", "phone"}, allowed: all, target: claims.UserInfo,
			want: []string{"address", "phone_number", "phone_number_verified"}},
		{name: "userinfo openid only", granted: []string{"openid"}, allowed: all, target: claims.UserInfo, want: []string{}},
		{name: "userinfo offline_access releases nothing", granted: []string{"openid", "offline_access"}, allowed: all, target: claims.UserInfo, want: []string{}},
		{name: "userinfo unknown scope releases nothing", granted: []string{"openid", "admin"}, allowed: all, target: claims.UserInfo, want: []string{}},
		{name: "ID token gets nothing by scope alone", granted: []string{"openid", "profile", "address", "phone", "cccd"}, allowed: all, target: claims.IDToken, want: []string{}},
		{name: "ID token claims request within granted scope", granted: []string{"openid", "profile"}, allowed: all,
			req: mustParse(`{"id_token":{"name":null,"birthdate":{"essential":true}}}`), target: claims.IDToken, want: []string{"birthdate", "name"}},
		{name: "ID token claims request outside granted scope", granted: []string{"openid", "profile"}, allowed: all,
			req: mustParse(`{"id_token":{"cccd":null,"address":null,"name":null}}`), target: claims.IDToken, want: []string{"name"}},
		{name: "claims request granted but not allowed", granted: []string{"openid", "cccd"}, allowed: []string{"profile"},
			req: mustParse(`{"id_token":{"cccd":null}}`), target: claims.IDToken, want: []string{}},
		{name: "claims request for the other target ignored", granted: []string{"openid", "profile"}, allowed: all,
			req: mustParse(`{"userinfo":{"name":null}}`), target: claims.IDToken, want: []string{}},
		{name: "userinfo claims request adds nothing beyond scope", granted: []string{"openid", "profile"}, allowed: all,
			req: mustParse(`{"userinfo":{"cccd":null,"name":null}}`), target: claims.UserInfo, want: profile},
		{name: "userinfo claims request alone within granted", granted: []string{"openid", "phone"}, allowed: all,
			req: mustParse(`{"userinfo":{"phone_number":null}}`), target: claims.UserInfo, want: []string{"phone_number", "phone_number_verified"}},
		{name: "unknown and protocol claims never released", granted: []string{"openid", "profile"}, allowed: all,
			req: mustParse(`{"id_token":{"sub":null,"acr":null,"email":null,"favourite_colour":null}}`), target: claims.IDToken, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := claims.Select(tt.granted, tt.allowed, tt.req, tt.target)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Select = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSupportedCoversEveryScopeClaim(t *testing.T) {
	sup := claims.Supported()
	if !slices.IsSorted(sup[12:]) {
		t.Errorf("scope claims not sorted: %v", sup)
	}
	for scope, cs := range claims.ByScope {
		for _, c := range cs {
			if !slices.Contains(sup, c) {
				t.Errorf("claim %s of scope %s missing from Supported", c, scope)
			}
		}
	}
}

// FuzzParse: Parse never panics, and whatever it accepts selects only claims known by scope.
func FuzzParse(f *testing.F) {
	for _, s := range []string{``, `{}`, `null`, `{"id_token":{"name":null}}`, `{"userinfo":{"address":{"essential":true,"values":["a"]}}}`,
		`{"id_token":{"acr":{"essential":true,"values":["2",null,2]}}}`, `{"id_token":[]}`,
		`{"userinfo":{"verified_claims":{"verification":{"trust_framework":null,"time":{"max_age":60},"evidence":[{"type":{"value":"electronic_record"}}]},"claims":{"given_name":null}}}}`,
		`{"id_token":{"verified_claims":[{"verification":{"assurance_level":{"values":["2"]}},"claims":{"address":{"purpose":"abc"}}}]}}`} {
		f.Add(s)
	}
	known := map[string]bool{}
	for _, cs := range claims.ByScope {
		for _, c := range cs {
			known[c] = true
		}
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := claims.Parse(raw)
		if err != nil {
			if !errors.Is(err, claims.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		_ = r.EssentialACR()
		for _, target := range []claims.Target{claims.UserInfo, claims.IDToken} {
			for _, c := range claims.Select([]string{"openid", "profile", "address", "phone", "cccd"}, []string{"profile", "address", "phone", "cccd"}, r, target) {
				if !known[c] {
					t.Fatalf("selected unknown claim %q", c)
				}
			}
		}
		// Answering any parsed verified_claims request never panics and releases only
		// verified attributes the citizen has.
		for _, reqs := range [][]claims.VerifiedRequest{r.VerifiedUserInfo, r.VerifiedIDToken} {
			_, names := claims.Verified(reqs, []string{"openid", "profile", "address", "phone"}, []string{"profile", "address", "phone"}, ida(), now)
			for _, n := range names {
				if a, ok := ida().Attributes[n]; !ok || !a.Verified {
					t.Fatalf("released %q, which is not a verified attribute", n)
				}
			}
		}
	})
}

// parse parses raw and checks the outcome: ErrMalformed when wantErr (ok is then false),
// else no error.
func parse(t *testing.T, raw string, wantErr bool) (r claims.Request, ok bool) {
	t.Helper()
	r, err := claims.Parse(raw)
	if wantErr {
		if !errors.Is(err, claims.ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
		return r, false
	}
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return r, true
}
