package grants_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/dpop"
	"github.com/motlan/motlan/idp/internal/idptest"
)

// TestRefreshReuseGrace: RFC 9700 4.14.2 with a grace window for a lost response (10 s
// here, for a confidential client).
func TestRefreshReuseGrace(t *testing.T) {
	tests := []struct {
		name  string
		grace time.Duration
		steps func(t *testing.T, h *idptest.Harness, c *idptest.ShiftedClock, rt0 string)
	}{
		{name: "retry within the window replaces the successor", steps: func(t *testing.T, h *idptest.Harness, c *idptest.ShiftedClock, rt0 string) {
			lost := h.Refresh("web", rt0).Str("refresh_token")
			c.Advance(5 * time.Second)
			retry := h.Refresh("web", rt0)
			if retry.Status != 200 || retry.Str("access_token") == "" || retry.Str("id_token") == "" {
				t.Fatalf("retry: %d %s", retry.Status, retry.Raw)
			}
			rt2 := retry.Str("refresh_token")
			if rt2 == lost || rt2 == rt0 {
				t.Fatal("retry did not issue a new refresh token")
			}
			if r := h.Refresh("web", rt2); r.Status != 200 {
				t.Fatalf("the retry's token: %d %s", r.Status, r.Raw)
			}
		}},
		{name: "the replaced successor then revokes the family", steps: func(t *testing.T, h *idptest.Harness, c *idptest.ShiftedClock, rt0 string) {
			lost := h.Refresh("web", rt0).Str("refresh_token")
			rt2 := h.Refresh("web", rt0).Str("refresh_token")
			idptest.CheckJSONError(t, h.Refresh("web", lost), 400, "invalid_grant")
			idptest.CheckJSONError(t, h.Refresh("web", rt2), 400, "invalid_grant")
		}},
		{name: "window runs from the first rotation", steps: func(t *testing.T, h *idptest.Harness, c *idptest.ShiftedClock, rt0 string) {
			h.Refresh("web", rt0)
			c.Advance(6 * time.Second)
			if r := h.Refresh("web", rt0); r.Status != 200 {
				t.Fatalf("first retry: %d %s", r.Status, r.Raw)
			}
			c.Advance(6 * time.Second)
			idptest.CheckJSONError(t, h.Refresh("web", rt0), 400, "invalid_grant")
		}},
		{name: "reuse after the window revokes the family", steps: func(t *testing.T, h *idptest.Harness, c *idptest.ShiftedClock, rt0 string) {
			rt1 := h.Refresh("web", rt0).Str("refresh_token")
			c.Advance(11 * time.Second)
			idptest.CheckJSONError(t, h.Refresh("web", rt0), 400, "invalid_grant")
			idptest.CheckJSONError(t, h.Refresh("web", rt1), 400, "invalid_grant")
		}},
		{name: "reuse after the successor was used revokes the family", steps: func(t *testing.T, h *idptest.Harness, c *idptest.ShiftedClock, rt0 string) {
			rt1 := h.Refresh("web", rt0).Str("refresh_token")
			rt2 := h.Refresh("web", rt1).Str("refresh_token")
			idptest.CheckJSONError(t, h.Refresh("web", rt0), 400, "invalid_grant")
			idptest.CheckJSONError(t, h.Refresh("web", rt2), 400, "invalid_grant")
		}},
		{name: "another client gets no grace", steps: func(t *testing.T, h *idptest.Harness, c *idptest.ShiftedClock, rt0 string) {
			rt1 := h.Refresh("web", rt0).Str("refresh_token")
			idptest.CheckJSONError(t, h.Refresh("other", rt0), 400, "invalid_grant")
			if r := h.Refresh("web", rt1); r.Status != 200 {
				t.Fatalf("successor after another client's attempt: %d %s", r.Status, r.Raw)
			}
		}},
		{name: "negative grace disables the window", grace: -1, steps: func(t *testing.T, h *idptest.Harness, c *idptest.ShiftedClock, rt0 string) {
			rt1 := h.Refresh("web", rt0).Str("refresh_token")
			idptest.CheckJSONError(t, h.Refresh("web", rt0), 400, "invalid_grant")
			idptest.CheckJSONError(t, h.Refresh("web", rt1), 400, "invalid_grant")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &idptest.ShiftedClock{}
			grace := tt.grace
			if grace == 0 {
				grace = 10 * time.Second // the window these steps assume; the default is none
			}
			h := idptest.New(t, true, idptest.WithClock(c), func(cfg *idp.Config) { cfg.RefreshReuseGrace = grace })
			set := h.Redeem("web", h.Code(idptest.AuthQuery("web", "scope", "openid profile offline_access")))
			if set.Status != 200 {
				t.Fatalf("redeem: %d %s", set.Status, set.Raw)
			}
			tt.steps(t, h, c, set.Str("refresh_token"))
		})
	}
}

// TestRefreshReuseGraceWhere: no window by default; a client's own window; never one for a
// public client's bearer refresh token (RFC 9700 4.14.2: a thief's window), while its
// DPoP-bound token keeps the window.
func TestRefreshReuseGraceWhere(t *testing.T) {
	retry := func(t *testing.T, h *idptest.Harness, client string) idptest.Response {
		t.Helper()
		rt0 := h.Redeem(client, h.Code(idptest.AuthQuery(client))).Str("refresh_token")
		if r := h.Refresh(client, rt0); r.Status != 200 {
			t.Fatalf("rotation: %d %s", r.Status, r.Raw)
		}
		return h.Refresh(client, rt0)
	}
	t.Run("default: no window", func(t *testing.T) {
		idptest.CheckJSONError(t, retry(t, idptest.New(t, true), "web"), 400, "invalid_grant")
	})
	t.Run("the client's own window, and none for another client", func(t *testing.T) {
		h := idptest.New(t, true, func(cfg *idp.Config) {
			cfg.RefreshReuseGraceClients = map[string]time.Duration{"web": 10 * time.Second}
		})
		if r := retry(t, h, "web"); r.Status != 200 {
			t.Fatalf("retry of web: %d %s", r.Status, r.Raw)
		}
		idptest.CheckJSONError(t, retry(t, h, "other"), 400, "invalid_grant")
	})
	grace := func(cfg *idp.Config) {
		cfg.RefreshReuseGrace = 10 * time.Second
		cfg.RefreshReuseGraceClients = map[string]time.Duration{"spa": 10 * time.Second}
	}
	// spa is a public client: its refresh token is DPoP-bound when its requests carry proofs.
	post := func(t *testing.T, h *idptest.Harness, key *dpop.Key) func(url.Values) idptest.Response {
		return func(form url.Values) idptest.Response {
			req, _ := http.NewRequest(http.MethodPost, h.Issuer+"/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if key != nil {
				p, err := key.Proof(http.MethodPost, h.Issuer+"/token", "")
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("DPoP", p)
			}
			return h.Do(req)
		}
	}
	for _, tc := range []struct {
		name  string
		bound bool
	}{{"public client, bearer token: no window", false}, {"public client, DPoP-bound token: the window", true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := idptest.New(t, true, grace)
			var key *dpop.Key
			if tc.bound {
				priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				var err error
				if key, err = dpop.New(priv, jose.ES256); err != nil {
					t.Fatal(err)
				}
			}
			token := post(t, h, key)
			v, c := idptest.PKCE()
			code := h.Code(idptest.AuthQuery("spa", "code_challenge", c, "code_challenge_method", "S256"))
			rt0 := token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {idptest.SPARedirect},
				"client_id": {"spa"}, "code_verifier": {v}}).Str("refresh_token")
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt0}, "client_id": {"spa"}}
			if r := token(form); r.Status != 200 {
				t.Fatalf("rotation: %d %s", r.Status, r.Raw)
			}
			r := token(form)
			if tc.bound && r.Status != 200 {
				t.Fatalf("retry of a DPoP-bound token within the window: %d %s", r.Status, r.Raw)
			}
			if !tc.bound {
				idptest.CheckJSONError(t, r, 400, "invalid_grant")
			}
		})
	}
}

// TestRefreshRace: one refresh token sent by several requests at once. Without a grace
// window exactly one rotates and the others, replays, end the family, the winner's
// successor with it; with one, every request is answered, as retries are. On PostgreSQL
// the requests share transaction groups, and a claim can lose to a request that read the
// token after it.
func TestRefreshRace(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) { refreshRace(t, driver) })
	}
}

func refreshRace(t *testing.T, driver string) {
	const n = 8
	for _, tt := range []struct {
		name  string
		grace time.Duration
		ok    int
	}{
		{"no grace: one rotates, the family ends", -1, 1},
		{"grace: all are retries", 10 * time.Second, n},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := idptest.NewOn(t, driver, true, func(cfg *idp.Config) { cfg.RefreshReuseGrace = tt.grace })
			rt0 := h.Redeem("web", h.Code(idptest.AuthQuery("web"))).Str("refresh_token")
			got := make([]idptest.Response, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { got[i] = h.Refresh("web", rt0) })
			}
			wg.Wait()
			var won []string
			for _, r := range got {
				switch {
				case r.Status == 200 && r.Str("id_token") != "" && r.Str("refresh_token") != "":
					won = append(won, r.Str("refresh_token"))
				case r.Status != 400 || r.Str("error") != "invalid_grant":
					t.Errorf("refresh: %d %s", r.Status, r.Raw)
				}
			}
			if len(won) != tt.ok {
				t.Fatalf("%d of %d refreshes rotated, want %d", len(won), n, tt.ok)
			}
			if tt.ok == 1 {
				idptest.CheckJSONError(t, h.Refresh("web", won[0]), 400, "invalid_grant")
			}
		})
	}
}

// TestRefreshReleasesClaims: a refreshed ID token carries the claims the claims request
// asked of it, read from the citizen in the rotation's transaction (on PostgreSQL inside
// its group), and the release is recorded with the rotation.
func TestRefreshReleasesClaims(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			h := idptest.NewOn(t, driver, true)
			q := idptest.AuthQuery("web", "scope", "openid profile offline_access", "claims", `{"id_token":{"name":null,"birthdate":null}}`)
			set := h.Redeem("web", h.Code(q))
			if set.Status != 200 {
				t.Fatalf("redeem: %d %s", set.Status, set.Raw)
			}
			ctx := context.Background()
			before, err := h.Store.ListReleases(ctx, releaseCitizen(t, h, set.Str("id_token")))
			if err != nil {
				t.Fatal(err)
			}
			r := h.Refresh("web", set.Str("refresh_token"))
			if r.Status != 200 {
				t.Fatalf("refresh: %d %s", r.Status, r.Raw)
			}
			payload, _, err := h.Keys.Verify(ctx, r.Str("id_token"))
			if err != nil {
				t.Fatal(err)
			}
			var c map[string]any
			if err := json.Unmarshal(payload, &c); err != nil {
				t.Fatal(err)
			}
			if c["name"] != "Lê Công Hảo" || c["birthdate"] != "1990-01-02" {
				t.Errorf("refreshed ID token: name %v, birthdate %v", c["name"], c["birthdate"])
			}
			after, err := h.Store.ListReleases(ctx, releaseCitizen(t, h, r.Str("id_token")))
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before)+1 {
				t.Errorf("%d releases after the refresh, want %d", len(after), len(before)+1)
			}
		})
	}
}

// releaseCitizen is the citizen an ID token of web's is about.
func releaseCitizen(t *testing.T, h *idptest.Harness, idToken string) string {
	t.Helper()
	payload, _, err := h.Keys.Verify(context.Background(), idToken)
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Sub string }
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	id, err := h.Store.SubjectCitizen(context.Background(), "web", c.Sub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
