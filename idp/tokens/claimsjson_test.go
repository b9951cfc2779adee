package tokens

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzAppendClaims: appendClaims writes what json.Marshal writes of the same map, byte
// for byte, or fails where it fails.
func FuzzAppendClaims(f *testing.F) {
	f.Add("sub", "Lê Công Hảo", int64(1765000000), "pwd", []byte(`{"formatted":"Số 12 <Lê Lợi>"}`), 0.5)
	f.Add("a\u2028<", "\xff&", int64(-1), "", []byte(`nul`), -1e300)
	f.Add("", "", int64(0), "\"\\", []byte(` [1, "x"] `), 0.0)
	f.Fuzz(func(t *testing.T, key, str string, n int64, amr string, raw []byte, x float64) {
		m := map[string]any{
			key: str, key + "n": n, "iss": "https://id.example.vn", "amr": []string{amr, "otp"},
			"none": []string(nil), "empty": []string{}, "raw": json.RawMessage(raw), "x": x, "ok": true,
			"nested": map[string]any{key: str}, "z" + key: nil,
		}
		want, wantErr := json.Marshal(m)
		got, err := appendClaims(nil, m)
		if (err == nil) != (wantErr == nil) || (err == nil && !bytes.Equal(got, want)) {
			t.Fatalf("appendClaims: %s (%v)\njson.Marshal: %s (%v)", got, err, want, wantErr)
		}
	})
}

func TestAppendClaimsNil(t *testing.T) {
	if got, _ := appendClaims(nil, nil); string(got) != "null" {
		t.Fatalf("appendClaims(nil) = %s", got)
	}
}
