package resource_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/motlan/motlan/idp/internal/idptest"
)

// TestVerifiedClaimsReleased: OIDC4IDA verified_claims in the ID token and at userinfo,
// as the claims parameter asks, next to plain claims as the eID stated them.
func TestVerifiedClaimsReleased(t *testing.T) {
	h := idptest.New(t, true)
	req := `{"id_token":{"verified_claims":{"verification":{"trust_framework":null,"assurance_level":null},"claims":{"given_name":null,"birthdate":null}}},` +
		`"userinfo":{"verified_claims":{"verification":{"time":{"max_age":3600},"evidence":[{"type":{"value":"electronic_record"}}]},"claims":{"phone_number":null,"address":null}},"cccd":null}}`
	set := h.Redeem("web", h.Code(idptest.AuthQuery("web", "scope", "openid profile phone address", "claims", req)))
	if set.Status != http.StatusOK {
		t.Fatalf("redeem: %d %s", set.Status, set.Raw)
	}
	payload, _, err := h.Keys.Verify(context.Background(), set.Str("id_token"))
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var c map[string]any
	_ = json.Unmarshal(payload, &c)
	want := `{"verification":{"trust_framework":"vn_eid","assurance_level":"2"},"claims":{"birthdate":"1990-01-02","given_name":"Hảo"}}`
	var w any
	_ = json.Unmarshal([]byte(want), &w)
	if !reflect.DeepEqual(c["verified_claims"], w) {
		t.Errorf("ID token verified_claims %v, want %s", c["verified_claims"], want)
	}
	if c["amr"] == nil || c["acr"] != "2" {
		t.Errorf("acr %v amr %v", c["acr"], c["amr"])
	}
	hr, _ := http.NewRequest(http.MethodGet, h.Issuer+"/userinfo", nil)
	hr.Header.Set("Authorization", "Bearer "+set.Str("access_token"))
	ui := h.Do(hr)
	vc, _ := ui.Body["verified_claims"].(map[string]any)
	ver, _ := vc["verification"].(map[string]any)
	cl, _ := vc["claims"].(map[string]any)
	if ver["trust_framework"] != "vn_eid" || ver["time"] == nil || ver["evidence"] == nil || ver["assurance_level"] != nil ||
		cl["phone_number"] != "+84912345678" || cl["address"] == nil || len(cl) != 2 {
		t.Errorf("userinfo verified_claims %s", ui.Raw)
	}
	// cccd is asked at userinfo, but its scope was not granted: left out. updated_at is
	// the eID's; phone_number_verified is what the eID said.
	if _, ok := ui.Body["cccd"]; ok {
		t.Error("cccd released without its scope")
	}
	if ui.Body["phone_number_verified"] != true || ui.Body["updated_at"] != float64(1751328000) {
		t.Errorf("phone_number_verified %v updated_at %v", ui.Body["phone_number_verified"], ui.Body["updated_at"])
	}
	// A claims request too large to ride in the access token (over 4 KiB) is answered at
	// userinfo by scope alone: tokens stay small whatever a client sends.
	big := `{"x-pad":"` + strings.Repeat("a", 5000) + `",` + req[1:]
	set = h.Redeem("web", h.Code(idptest.AuthQuery("web", "scope", "openid profile phone address", "claims", big)))
	if len(set.Str("access_token")) > 2000 {
		t.Errorf("access token of %d bytes", len(set.Str("access_token")))
	}
	hr, _ = http.NewRequest(http.MethodGet, h.Issuer+"/userinfo", nil)
	hr.Header.Set("Authorization", "Bearer "+set.Str("access_token"))
	if ui := h.Do(hr); ui.Body["verified_claims"] != nil || ui.Body["phone_number"] == nil {
		t.Errorf("userinfo for an oversized claims request: %s", ui.Raw)
	}
	// A malformed verified_claims request is invalid_request.
	resp, err := idptest.NoJar().Get(h.Issuer + "/authorize?" + idptest.AuthQuery("web", "claims", `{"userinfo":{"verified_claims":{"claims":{}}}}`).Encode())
	if err != nil {
		t.Fatal(err)
	}
	idptest.ReadBody(t, resp)
	if loc, _ := url.Parse(resp.Header.Get("Location")); loc.Query().Get("error") != "invalid_request" {
		t.Errorf("malformed verified_claims: %s", loc)
	}
}
