package grants_test

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/internal/idptest"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
)

// TestReplayRevocationAudited: the revocation a replay sets off (a code redeemed again, a
// refresh token used again after its grace) writes its audit record with the revocation,
// on both stores; a replay into a family revoked already writes none.
func TestReplayRevocationAudited(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			var st store.Audit
			clock := &idptest.ShiftedClock{}
			h := idptest.NewOn(t, driver, true, idptest.WithClock(clock), idptest.WithPendingAudit(t, &st),
				func(c *idp.Config) { c.RefreshReuseGrace = 10 * time.Second })
			pending := func() int { return idptest.Pending(t, st) }
			refresh := func(rt string) idptest.Response {
				return h.PostForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web", h.Secrets["web"])
			}
			code := h.Code(idptest.AuthQuery("web"))
			first := h.Redeem("web", code)
			reused := h.Redeem("web", h.Code(idptest.AuthQuery("web")))
			if first.Status != 200 || reused.Status != 200 {
				t.Fatalf("redeem: %d %s; %d %s", first.Status, first.Raw, reused.Status, reused.Raw)
			}
			if r := refresh(reused.Str("refresh_token")); r.Status != 200 {
				t.Fatalf("rotation: %d %s", r.Status, r.Raw)
			}
			n0 := pending()
			steps := []struct {
				name string
				run  func() idptest.Response
				want int // pending records written
			}{
				{"a code redeemed again", func() idptest.Response { return h.Redeem("web", code) }, 1},
				{"the same code a third time", func() idptest.Response { return h.Redeem("web", code) }, 0},
				{"a refresh token used again, past its grace", func() idptest.Response {
					clock.Advance(time.Minute)
					return refresh(reused.Str("refresh_token"))
				}, 1},
			}
			for _, s := range steps {
				idptest.CheckJSONError(t, s.run(), 400, "invalid_grant")
				if n := pending(); n != n0+s.want {
					t.Errorf("%s: %d pending records, want %d", s.name, n, n0+s.want)
				}
				n0 += s.want
			}
			// Both families are revoked: their refresh tokens no longer work.
			idptest.CheckJSONError(t, refresh(first.Str("refresh_token")), 400, "invalid_grant")
			sealed, err := st.SealPendingAudit(t.Context(), 100, audit.Seal)
			if err != nil || len(sealed) < 2 {
				t.Fatalf("seal: %d records, %v", len(sealed), err)
			}
			for i, why := range []string{"code_replayed", "refresh_token_reused"} {
				r := sealed[len(sealed)-2+i]
				var d map[string]any
				if r.Kind != audit.KindTokenRevoke || r.Actor != "client:web" || json.Unmarshal(r.Details, &d) != nil || d["reason"] != why {
					t.Errorf("record %d: %s %s %s, want %s by client:web, reason %s", i, r.Kind, r.Actor, r.Details, audit.KindTokenRevoke, why)
				}
			}
		})
	}
}
