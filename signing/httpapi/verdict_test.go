package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/signing/verify"
)

// TestVerdict: each signature carries citizen words beside the technical report; the time
// is the timestamp's when it verifies, else the claimed one.
func TestVerdict(t *testing.T) {
	ts := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	claimed := ts.Add(-time.Minute)
	tests := []struct {
		name   string
		sig    verify.Signature
		valid  bool
		vi, en string
		at     *time.Time
	}{
		{"passed with a timestamp", verify.Signature{Indication: verify.TotalPassed, Signer: &verify.Signer{Name: "Lê Công Hảo"}, ClaimedTime: &claimed,
			Timestamp: &verify.Timestamp{Time: ts, SignatureValid: true, ImprintMatches: true}}, true, "Chữ ký hợp lệ", "Valid signature", &ts},
		{"failed", verify.Signature{Indication: verify.TotalFailed, ClaimedTime: &claimed}, false, "Chữ ký không hợp lệ", "Invalid signature", &claimed},
		{"indeterminate, bad timestamp", verify.Signature{Indication: verify.Indeterminate, ClaimedTime: &claimed,
			Timestamp: &verify.Timestamp{Time: ts, SignatureValid: false}}, false, "Chưa xác định được chữ ký", "The signature could not be confirmed", &claimed},
	}
	for _, tc := range tests {
		v := verdictOf(tc.sig)
		if v.Valid != tc.valid || v.VI != tc.vi || v.EN != tc.en || (v.Time == nil) != (tc.at == nil) || v.Time != nil && !v.Time.Equal(*tc.at) {
			t.Errorf("%s: %+v", tc.name, v)
		}
	}
	b, err := json.Marshal(citizenReport(verify.Report{Signatures: []verify.Signature{tests[0].sig}}))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"indication":"TOTAL_PASSED"`, `"citizen":{"valid":true,"vi":"Chữ ký hợp lệ","en":"Valid signature","signer":"Lê Công Hảo"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %s:\n%s", want, b)
		}
	}
}
