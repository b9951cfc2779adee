package authflow_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/internal/idptest"
)

// essential is a claims parameter with an essential acr accepting values.
func essential(values ...string) string {
	b, _ := json.Marshal(map[string]any{"id_token": map[string]any{"acr": map[string]any{"essential": true, "values": values}}})
	return string(b)
}

// TestSpecACRValuesAndEssentialACR: OIDC Core 3.1.2.1 makes acr_values a preference (the
// eID is asked for it, the login happens at the level the eID reaches, and the ID token
// says which); 5.5.1.1 makes an essential acr a requirement that any of its values meets,
// enforced with access_denied, or with a step-up login when a session falls short.
func TestSpecACRValuesAndEssentialACR(t *testing.T) {
	level1 := func(f *idptest.FakeEID) func(cfg *idp.Config) { return func(cfg *idp.Config) { cfg.EID = f } }
	tests := []struct {
		name      string
		extra     []string
		askedEID  string // the level asked of the eID
		wantError string
		wantACR   string
	}{
		{"acr_values 2 is a preference, not passed on", []string{"acr_values", "2"}, "", "", "1"},
		{"with prompt=login the eID is asked for it", []string{"acr_values", "2", "prompt", "login"}, "2", "", "1"},
		{"acr_values in order of preference", []string{"acr_values", "urn:other 1 2", "prompt", "login"}, "1", "", "1"},
		{"essential 2 not reached: access_denied", []string{"claims", essential("2")}, "2", "access_denied", ""},
		{"essential 1 or 2: any value meets it", []string{"claims", essential("1", "2")}, "1", "", "1"},
		{"essential beats acr_values", []string{"acr_values", "1", "claims", essential("2")}, "2", "access_denied", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &idptest.FakeEID{ACR: "1"}
			h := idptest.New(t, true, level1(f))
			resp := h.Login(h.Browser(), idptest.AuthQuery("web", tt.extra...))
			idptest.ReadBody(t, resp)
			if got := f.Opts[len(f.Opts)-1].ACR; got != tt.askedEID {
				t.Errorf("the eID was asked for level %q, want %q", got, tt.askedEID)
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if got := loc.Query().Get("error"); got != tt.wantError {
				t.Fatalf("error %q, want %q (%s)", got, tt.wantError, loc)
			}
			if tt.wantError != "" {
				return
			}
			set := h.Redeem("web", loc.Query().Get("code"))
			c := idClaims(t, h, set.Str("id_token"))
			if c["acr"] != tt.wantACR {
				t.Errorf("acr %v, want %s", c["acr"], tt.wantACR)
			}
		})
	}
	t.Run("an essential acr no level meets: access_denied without a login", func(t *testing.T) {
		h := idptest.New(t, true)
		resp, err := idptest.NoJar().Get(h.Issuer + "/authorize?" + idptest.AuthQuery("web", "claims", essential("urn:mace:incommon:iap:silver")).Encode())
		if err != nil {
			t.Fatal(err)
		}
		idptest.ReadBody(t, resp)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if !strings.HasPrefix(loc.String(), idptest.WebRedirect+"?") || loc.Query().Get("error") != "access_denied" {
			t.Fatalf("Location %s", loc)
		}
	})
	t.Run("a session below the essential acr steps up at the eID", func(t *testing.T) {
		h := idptest.New(t, true, level1(&idptest.FakeEID{ACR: "1"}))
		b := h.Browser()
		idptest.ReadBody(t, h.Login(b, idptest.AuthQuery("web")))
		for _, tc := range []struct {
			extra []string
			eid   bool
		}{{[]string{"acr_values", "2"}, false}, {[]string{"claims", essential("1")}, false}, {[]string{"claims", essential("2")}, true}} {
			resp, err := b.Get(h.Issuer + "/authorize?" + idptest.AuthQuery("web", tc.extra...).Encode())
			if err != nil {
				t.Fatal(err)
			}
			idptest.ReadBody(t, resp)
			if got := strings.HasPrefix(resp.Header.Get("Location"), idptest.FakeEIDAuthURL); got != tc.eid {
				t.Errorf("%v: to the eID %v, want %v (%s)", tc.extra, got, tc.eid, resp.Header.Get("Location"))
			}
		}
	})
}

// TestSpecUnknownScopesIgnored: OIDC Core 3.1.2.1, scope values the provider does not
// understand are ignored: not granted, not echoed; a known scope the client may not have
// is still invalid_scope.
func TestSpecUnknownScopesIgnored(t *testing.T) {
	h := idptest.New(t, true)
	set := h.Redeem("web", h.Code(idptest.AuthQuery("web", "scope", "openid email profile urn:x:unknown")))
	if set.Status != http.StatusOK || set.Str("scope") != "openid profile" {
		t.Fatalf("token: %d scope %q", set.Status, set.Str("scope"))
	}
	resp, err := idptest.NoJar().Get(h.Issuer + "/authorize?" + idptest.AuthQuery("post", "scope", "openid email cccd").Encode())
	if err != nil {
		t.Fatal(err)
	}
	idptest.ReadBody(t, resp)
	if loc, _ := url.Parse(resp.Header.Get("Location")); loc.Query().Get("error") != "invalid_scope" {
		t.Fatalf("a scope the client may not have: %s", loc)
	}
}

// idClaims verifies an ID token with the provider's keys and returns its claims.
func idClaims(t *testing.T, h *idptest.Harness, tok string) map[string]any {
	t.Helper()
	payload, _, err := h.Keys.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("ID token does not verify: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}
