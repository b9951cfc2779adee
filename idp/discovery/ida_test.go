package discovery_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/motlan/motlan/idp/internal/idptest"
)

// TestDiscoveryIdentityAssurance: the OIDC4IDA metadata, the documented acr values, and no
// userinfo signing algorithm (userinfo is plain JSON).
func TestDiscoveryIdentityAssurance(t *testing.T) {
	h := idptest.New(t, true)
	r := h.Do(must(http.NewRequest(http.MethodGet, h.Issuer+"/.well-known/openid-configuration", nil)))
	strs := func(k string) []string {
		var out []string
		for _, v := range r.Body[k].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if r.Body["verified_claims_supported"] != true || !slices.Equal(strs("trust_frameworks_supported"), []string{"vn_eid"}) ||
		!slices.Equal(strs("evidence_supported"), []string{"electronic_record"}) ||
		!slices.Contains(strs("claims_in_verified_claims_supported"), "birthdate") ||
		slices.Contains(strs("claims_in_verified_claims_supported"), "updated_at") ||
		!slices.Equal(strs("acr_values_supported"), []string{"1", "2"}) {
		t.Errorf("discovery: %s", r.Raw)
	}
	if _, ok := r.Body["userinfo_signing_alg_values_supported"]; ok {
		t.Error("userinfo_signing_alg_values_supported advertised, though userinfo is plain JSON")
	}
}

func must(r *http.Request, err error) *http.Request {
	if err != nil {
		panic(err)
	}
	return r
}
