package integration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/internal/config"
)

const duongCCCD = "038303002468" // Hoàng Thùy Dương, level 1, phone not verified by the eID

// idaRequest asks verified_claims in the ID token (with the level) and at userinfo (with
// the time and the evidence), the phone in both.
const idaRequest = `{"id_token":{"verified_claims":{"verification":{"trust_framework":null,"assurance_level":null},` +
	`"claims":{"given_name":null,"birthdate":null,"phone_number":null}}},` +
	`"userinfo":{"verified_claims":{"verification":{"time":null,"evidence":null},"claims":{"cccd":null,"address":null,"phone_number":null}}}}`

type verifiedClaims struct {
	Verification struct {
		TrustFramework string `json:"trust_framework"`
		AssuranceLevel string `json:"assurance_level"`
		Time           string `json:"time"`
		Evidence       []struct {
			Type string `json:"type"`
		} `json:"evidence"`
	} `json:"verification"`
	Claims map[string]any `json:"claims"`
}

// TestIdentityAssurance logs citizens in through dev eIDs that state the level in acr
// (plain or URI values), in a claim of their own, or nowhere, and that send the phone's
// verified flag true, false or not at all; on SQLite and PostgreSQL it checks the ID
// token (acr, amr, verified_claims), userinfo (phone_number_verified, the eID's
// updated_at, verified_claims) as the claims parameter asked.
func TestIdentityAssurance(t *testing.T) {
	uris := [2]string{"urn:vn:eid:loa:basic", "urn:vn:eid:loa:high"}
	uriMap := map[string]string{uris[0]: "1", uris[1]: "2"}
	variants := []struct {
		name   string
		sim    func(*sim.Config)
		motlan func(*config.Config)
		cccd   string
		level  string
		phone  bool // the eID verified the phone
	}{
		{"level in acr, phone verified", nil, nil, haoCCCD, "2", true},
		{"level in acr as URIs", func(c *sim.Config) { c.ACRValues = uris },
			func(c *config.Config) { c.EID.ACRMap = uriMap }, haoCCCD, "2", true},
		{"level in a claim, phone not verified", func(c *sim.Config) { c.LevelIn = sim.LevelInClaim },
			func(c *config.Config) { c.EID.LevelClaim = "eid_level" }, duongCCCD, "1", false},
		{"level in a claim, level 2", func(c *sim.Config) { c.LevelIn = sim.LevelInClaim },
			func(c *config.Config) { c.EID.LevelClaim = "eid_level" }, haoCCCD, "2", true},
		{"no level at all", func(c *sim.Config) { c.LevelIn = sim.LevelInNone }, nil, haoCCCD, "1", true},
		{"no verified flags", func(c *sim.Config) { c.OmitVerified = true }, nil, haoCCCD, "2", false},
	}
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			for _, v := range variants {
				t.Run(v.name, func(t *testing.T) {
					var mods []func(*config.Config)
					if v.motlan != nil {
						mods = append(mods, v.motlan)
					}
					s := newStackEID(t, driver, false, v.sim, mods...)
					checkIdentityAssurance(t, s, v.cccd, v.level, v.phone)
				})
			}
		})
	}
}

func checkIdentityAssurance(t *testing.T, s *stack, cccd, level string, phoneVerified bool) {
	ctx := context.Background()
	scopes := []string{"openid", "profile", "address", "phone", "cccd"}
	// acr_values 2 is a preference: a level-1 eID login still succeeds, and says so.
	a := s.portal.authorize(scopes, oauth2.SetAuthURLParam("acr_values", "2"), oauth2.SetAuthURLParam("claims", idaRequest))
	cb, _, _ := s.login(t, newBrowser(t), a, cccd, "allow")
	tok, idt := s.portal.redeem(t, s, a, cb)
	var id struct {
		ACR            string         `json:"acr"`
		AMR            []string       `json:"amr"`
		VerifiedClaims verifiedClaims `json:"verified_claims"`
	}
	if err := idt.Claims(&id); err != nil {
		t.Fatal(err)
	}
	vc := id.VerifiedClaims
	if id.ACR != level || len(id.AMR) != 2 || id.AMR[0] != "pwd" || id.AMR[1] != "otp" {
		t.Errorf("ID token acr %q amr %v, want %s and the eID's pwd otp", id.ACR, id.AMR, level)
	}
	if vc.Verification.TrustFramework != "vn_eid" || vc.Verification.AssuranceLevel != level || vc.Verification.Time != "" ||
		vc.Claims["given_name"] == nil || vc.Claims["birthdate"] == nil {
		t.Errorf("ID token verified_claims %+v", vc)
	}
	if _, ok := vc.Claims["phone_number"]; ok != phoneVerified {
		t.Errorf("phone in the ID token's verified_claims: %v, want %v", ok, phoneVerified)
	}

	provider, err := oidc.NewProvider(ctx, s.issuer)
	if err != nil {
		t.Fatal(err)
	}
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var u struct {
		PhoneNumber         string         `json:"phone_number"`
		PhoneNumberVerified *bool          `json:"phone_number_verified"`
		UpdatedAt           int64          `json:"updated_at"`
		VerifiedClaims      verifiedClaims `json:"verified_claims"`
	}
	if err := ui.Claims(&u); err != nil {
		t.Fatal(err)
	}
	if u.PhoneNumber == "" || u.PhoneNumberVerified == nil || *u.PhoneNumberVerified != phoneVerified {
		t.Errorf("userinfo phone %q verified %v, want %v", u.PhoneNumber, u.PhoneNumberVerified, phoneVerified)
	}
	if want := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC).Unix(); u.UpdatedAt != want {
		t.Errorf("updated_at %d, want the eID's %d", u.UpdatedAt, want)
	}
	uv := u.VerifiedClaims
	at, err := time.Parse(time.RFC3339, uv.Verification.Time)
	if err != nil || time.Since(at) > time.Minute || uv.Verification.TrustFramework != "vn_eid" || uv.Verification.AssuranceLevel != "" ||
		len(uv.Verification.Evidence) != 1 || uv.Verification.Evidence[0].Type != "electronic_record" ||
		uv.Claims["cccd"] != cccd || uv.Claims["address"] == nil {
		t.Errorf("userinfo verified_claims %+v (time %v)", uv, err)
	}
	if _, ok := uv.Claims["phone_number"]; ok != phoneVerified {
		t.Errorf("phone in userinfo's verified_claims: %v, want %v", ok, phoneVerified)
	}
	raw, _ := json.Marshal(uv)
	t.Logf("userinfo verified_claims: %s", raw)
}
