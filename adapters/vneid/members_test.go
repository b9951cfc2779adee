package vneid

import (
	"bytes"
	"encoding/json"
	"testing"
)

// sameAsEncodingJSON fails t unless data reads into members exactly as encoding/json
// reads it into a map[string]json.RawMessage: the same error or none, the same names, the
// same bytes for each value.
func sameAsEncodingJSON(t *testing.T, data []byte) {
	t.Helper()
	var want map[string]json.RawMessage
	wantErr := json.Unmarshal(data, &want)
	var got members
	gotErr := json.Unmarshal(data, &got)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%q: error %v, encoding/json's %v", data, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	if (got == nil) != (want == nil) || len(got) != len(want) {
		t.Fatalf("%q: %d members (nil %v), encoding/json %d (nil %v)", data, len(got), got == nil, len(want), want == nil)
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !bytes.Equal(g, w) {
			t.Fatalf("%q: member %q is %q (%v), encoding/json's %q", data, k, g, ok, w)
		}
	}
}

func TestMembers(t *testing.T) {
	for _, in := range []string{
		`{"iss":"https://vneid.example.vn","sub":"0010","aud":["motlan","x"],"exp":1796000000,"iat":1.5e9,
		  "name":"Lê Công Hảo","address":{"formatted":"Số 1, \"Hà Nội\" {}[]","parts":[{"a":[1,{"b":"}"}]},null]},
		  "email_verified":true,"nickname":null,"amr":["pwd","otp"],"empty":{},"none":[]}`,
		" \n\t{ \"a\" \r: \"x\\\\\" , \"b\":-0.5e+3 ,\"c\" :[ 1 , 2 ] }\n ",
		`{}`, ` { } `, `{"a":"1","a":"2"}`, // the last of a repeated name
		`{"t\u00ean":1,"tên":2}`, // an escaped name: encoding/json reads it
		"{\"\xff\xfe\":1}",       // a name that is not UTF-8
		"{\"v\":\"\xff\"}",       // a value that is not UTF-8: kept as it is
		`{"\"":1}`, `{"a\\":{"b\\":"c\\\""}}`,
		`null`, ` null `, `[]`, `"s"`, `1`, `true`,
		`{`, `{"a":}`, `{"a":1,}`, `{"a" 1}`, `{"a":1}}`, `{'a':1}`, ``, `{"a":01}`, `{"a":tru}`,
	} {
		sameAsEncodingJSON(t, []byte(in))
	}
}

func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{"a":{"b":[1,"}",{"c":null}]},"d":"\"\\"}`, `{"x\u00e9":1}`, `null`, `[1]`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsEncodingJSON(t, data)
		var direct members // called with text encoding/json has not checked: no panic
		_ = direct.UnmarshalJSON(data)
	})
}

// BenchmarkClaims reads an eID ID token's claims (as the minimal eID of integration/load
// issues them) into members and, for comparison, into a map by reflection.
func BenchmarkClaims(b *testing.B) {
	payload := []byte(`{"iss":"https://vneid.example.vn","sub":"c0a8f3e1-77aa-4b2c-9a51-0e1c2d3b4a59","aud":"motlan",` +
		`"exp":1796000000,"iat":1795999700,"auth_time":1795999700,"nonce":"N7T4J3F2KQ5ZP6W3Y2XH","acr":"urn:vneid:level2",` +
		`"amr":["pwd","otp"],"at_hash":"x4c2P6tVq0cG2rEj3d8m1w","name":"Lê Công Hảo","family_name":"Lê","given_name":"Công Hảo",` +
		`"birthdate":"1990-05-17","gender":"male","cccd":"001090012345","phone_number":"+84912345678","phone_number_verified":true,` +
		`"address":{"formatted":"Số 12, phố Tràng Tiền, phường Hoàn Kiếm, Hà Nội","country":"VN"},"nationality":"VN",` +
		`"place_of_origin":"Xã Yên Phụ, huyện Yên Phong, tỉnh Bắc Ninh","updated_at":1795000000}`)
	b.Run("members", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m members
			if err := json.Unmarshal(payload, &m); err != nil || len(m) != 22 {
				b.Fatal(err, len(m))
			}
		}
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(payload, &m); err != nil || len(m) != 22 {
				b.Fatal(err, len(m))
			}
		}
	})
}
