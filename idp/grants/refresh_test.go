package grants_test

import (
	"testing"
	"time"

	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/internal/idptest"
)

// TestRefreshReuseGrace: RFC 9700 4.14.2 with a grace window for a lost response.
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
			h := idptest.New(t, true, idptest.WithClock(c), func(cfg *idp.Config) { cfg.RefreshReuseGrace = tt.grace })
			set := h.Redeem("web", h.Code(idptest.AuthQuery("web", "scope", "openid profile offline_access")))
			if set.Status != 200 {
				t.Fatalf("redeem: %d %s", set.Status, set.Raw)
			}
			tt.steps(t, h, c, set.Str("refresh_token"))
		})
	}
}
