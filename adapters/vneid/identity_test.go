package vneid_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/motlan/motlan/adapters/vneid"
	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/idp/eid"
)

// TestLevelVerificationAndUpdatedAt runs eIDs that state the level in acr (plain or URI),
// in a claim of their own, in amr or not at all, and that mark attributes verified or not,
// against the connector's configuration for each.
func TestLevelVerificationAndUpdatedAt(t *testing.T) {
	uriMap := map[string]string{"urn:vn:eid:loa:basic": "1", "urn:vn:eid:loa:high": "2"}
	tests := []struct {
		name     string
		cfg      func(*vneid.Config)
		change   func(*fakeOP)
		level    string
		upACR    string
		verified map[string]bool
		updated  time.Time
		wantErr  error
	}{
		{name: "acr, phone without a verified claim", change: func(f *fakeOP) { f.userinfo["so_dien_thoai"] = "+84912345601" },
			level: "2", upACR: "2", verified: map[string]bool{"name": true, "gender": true, "phone_number": false}},
		{name: "acr as a URI", cfg: func(c *vneid.Config) { c.ACRMap = uriMap },
			change: func(f *fakeOP) { f.claims["acr"] = "urn:vn:eid:loa:high" }, level: "2", upACR: "urn:vn:eid:loa:high"},
		{name: "URI acr not in the map", cfg: func(c *vneid.Config) { c.ACRMap = uriMap },
			change: func(f *fakeOP) { f.claims["acr"] = "urn:vn:eid:loa:substantial" }, wantErr: eid.ErrInvalidResponse},
		{name: "level in a claim of userinfo", cfg: func(c *vneid.Config) { c.LevelClaim = "eid_level" },
			change: func(f *fakeOP) { delete(f.claims, "acr"); f.userinfo["eid_level"] = "2" }, level: "2"},
		{name: "level in a numeric claim; acr ignored", cfg: func(c *vneid.Config) { c.LevelClaim = "eid_level" },
			change: func(f *fakeOP) { f.claims["acr"] = "whatever"; f.claims["eid_level"] = 2 }, level: "2", upACR: "whatever"},
		{name: "level claim absent is level 1", cfg: func(c *vneid.Config) { c.LevelClaim = "eid_level" }, level: "1", upACR: "2"},
		{name: "level claim unknown", cfg: func(c *vneid.Config) { c.LevelClaim = "eid_level" },
			change: func(f *fakeOP) { f.claims["eid_level"] = "3" }, wantErr: eid.ErrInvalidResponse},
		{name: "level in amr", cfg: func(c *vneid.Config) { c.LevelClaim = "amr"; c.ACRMap = uriMap },
			change: func(f *fakeOP) {
				delete(f.claims, "acr")
				f.claims["amr"] = []string{"pwd", "urn:vn:eid:loa:high", "otp"}
			}, level: "2"},
		{name: "amr without a level value", cfg: func(c *vneid.Config) { c.LevelClaim = "amr" }, level: "1", upACR: "2"},
		{name: "no level at all", change: func(f *fakeOP) { delete(f.claims, "acr") }, level: "1"},
		{name: "phone verified true", change: func(f *fakeOP) {
			f.userinfo["so_dien_thoai"], f.userinfo["so_dien_thoai_verified"] = "+84912345601", true
		}, level: "2", upACR: "2", verified: map[string]bool{"phone_number": true}},
		{name: "phone verified false, name verified false", change: func(f *fakeOP) {
			f.claims["so_dien_thoai"], f.claims["so_dien_thoai_verified"] = "+84912345601", false
			f.claims["ho_va_ten_verified"] = false
		}, level: "2", upACR: "2", verified: map[string]bool{"phone_number": false, "name": false, "gender": true}},
		{name: "verified flag named in the claim map", cfg: func(c *vneid.Config) {
			c.ClaimMap = vneid.DefaultClaimMap()
			c.ClaimMap["sdt_xac_thuc"] = "phone_number_verified"
		}, change: func(f *fakeOP) {
			f.userinfo["so_dien_thoai"], f.userinfo["sdt_xac_thuc"] = "+84912345601", true
		}, level: "2", upACR: "2", verified: map[string]bool{"phone_number": true}},
		{name: "verified flag not a boolean", change: func(f *fakeOP) {
			f.userinfo["so_dien_thoai"], f.userinfo["so_dien_thoai_verified"] = "+84912345601", "yes"
		}, wantErr: eid.ErrInvalidResponse},
		{name: "updated_at", change: func(f *fakeOP) { f.userinfo["updated_at"] = 1767225600 },
			level: "2", upACR: "2", updated: time.Unix(1767225600, 0).UTC()},
		{name: "updated_at renamed", cfg: func(c *vneid.Config) {
			c.ClaimMap = vneid.DefaultClaimMap()
			c.ClaimMap["ngay_cap_nhat"] = "updated_at"
		}, change: func(f *fakeOP) { f.claims["ngay_cap_nhat"] = 1767225600; f.claims["updated_at"] = 5 },
			level: "2", upACR: "2", updated: time.Unix(1767225600, 0).UTC()},
		{name: "updated_at not a number", change: func(f *fakeOP) { f.claims["updated_at"] = "yesterday" }, wantErr: eid.ErrInvalidResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOP(t)
			if tt.change != nil {
				tt.change(f)
			}
			c := newConnector(t, f.issuer, tt.cfg)
			id, err := c.Exchange(context.Background(), "the-code-123", "v", fakeNonce)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if id.ACR != tt.level || id.UpstreamACR != tt.upACR {
				t.Errorf("level %q upstream acr %q, want %q %q", id.ACR, id.UpstreamACR, tt.level, tt.upACR)
			}
			for attr, want := range tt.verified {
				if got, ok := id.Verified[attr]; !ok || got != want {
					t.Errorf("verified[%s] = %v (present %v), want %v", attr, got, ok, want)
				}
			}
			for attr := range id.Attributes {
				if _, ok := id.Verified[attr]; !ok {
					t.Errorf("attribute %s has no verified flag", attr)
				}
			}
			for _, meta := range []string{"phone_number_verified", "updated_at"} {
				if _, ok := id.Attributes[meta]; ok {
					t.Errorf("metadata %s became an attribute", meta)
				}
			}
			if !id.UpdatedAt.Equal(tt.updated) {
				t.Errorf("updated_at %v, want %v", id.UpdatedAt, tt.updated)
			}
			if len(id.AMR) == 0 {
				t.Error("amr dropped")
			}
		})
	}
}

// TestDevEIDLevelSources logs the dev eID's citizens in through the connector with the
// level stated in acr (plain and URI), in a claim, or nowhere, and the phone's verified
// flag true, false or not sent.
func TestDevEIDLevelSources(t *testing.T) {
	uris := [2]string{"urn:vn:eid:loa:basic", "urn:vn:eid:loa:high"}
	uriMap := map[string]string{uris[0]: "1", uris[1]: "2"}
	tests := []struct {
		name      string
		sim       func(*sim.Config)
		conn      func(*vneid.Config)
		cccd      string
		level     string
		upACR     string
		phone     bool // phone_number_verified expected
		phoneSent bool
	}{
		{"acr", nil, nil, "038085001234", "2", "2", true, true},
		{"acr as URIs", func(c *sim.Config) { c.ACRValues = uris }, func(c *vneid.Config) { c.ACRMap = uriMap },
			"038085001234", "2", uris[1], true, true},
		{"level in a claim", func(c *sim.Config) { c.LevelIn = sim.LevelInClaim },
			func(c *vneid.Config) { c.LevelClaim = "eid_level" }, "038092004567", "2", "", true, true},
		{"level in a URI claim, level 1, phone unverified", func(c *sim.Config) { c.LevelIn, c.LevelClaim, c.ACRValues = sim.LevelInClaim, "loa", uris },
			func(c *vneid.Config) { c.LevelClaim, c.ACRMap = "loa", uriMap }, "038303002468", "1", "", false, true},
		{"no level at all", func(c *sim.Config) { c.LevelIn = sim.LevelInNone }, nil, "038085001234", "1", "", true, true},
		{"no verified claims", func(c *sim.Config) { c.OmitVerified = true }, nil, "038085001234", "2", "2", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := startSimWith(t, tt.sim)
			c := newConnector(t, srv.URL+"/vneid", tt.conn)
			l := newLogin()
			q := simLogin(t, c, l, tt.cccd, eid.AuthOptions{ACR: tt.level, MaxAge: -1})
			id, err := c.Exchange(context.Background(), q.Get("code"), l.verifier, l.nonce)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if id.ACR != tt.level || id.UpstreamACR != tt.upACR {
				t.Errorf("level %q (eID acr %q), want %q (%q)", id.ACR, id.UpstreamACR, tt.level, tt.upACR)
			}
			if _, sent := id.Attributes["phone_number"]; sent != tt.phoneSent || id.Verified["phone_number"] != tt.phone {
				t.Errorf("phone sent %v verified %v, want %v %v", sent, id.Verified["phone_number"], tt.phoneSent, tt.phone)
			}
			if !id.Verified["name"] || !id.Verified["cccd"] {
				t.Errorf("identity-record attributes not verified: %v", id.Verified)
			}
			if want := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC); !id.UpdatedAt.Equal(want) {
				t.Errorf("updated_at %v, want %v", id.UpdatedAt, want)
			}
		})
	}
}
