package cscserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequest sends arbitrary bodies to every method with a citizen's token: the server
// answers each with JSON, an OAuth-style error unless 200, and never a 5xx.
func FuzzRequest(f *testing.F) {
	methods := []string{"credentials/list", "credentials/info", "credentials/getChallenge", "credentials/authorize", "signatures/signHash", "signatures/timestamp"}
	for i, seed := range []string{`{}`, `{"credentialInfo": true, "certificates": "chain"}`, `{"credentialID": "motlan-x.y"}`,
		`{"credentialID": "a", "numSignatures": 1, "hashes": ["AAAA"], "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "authData": [{"id": "OTP", "value": "1"}]}`,
		`{"credentialID": "a", "SAD": "x", "hashes": [], "signAlgo": "1.2.840.10045.4.3.2"}`, `{"hash": 5}`, `[]`, `{"numSignatures": 1e99}`} {
		f.Add(uint8(i), []byte(seed))
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, m uint8, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/csc/v2/"+methods[int(m)%len(methods)], strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tokA)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%d, not JSON: %q", rec.Code, rec.Body.String())
		}
		if rec.Code >= 500 || (rec.Code != 200 && (out["error"] == nil || out["error_description"] == nil)) {
			t.Fatalf("%d %v", rec.Code, out)
		}
	})
}
