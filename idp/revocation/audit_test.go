package revocation_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/motlan/motlan/idp/internal/idptest"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
)

// TestRevokeAudit: a revocation's audit record is written with it, as a pending record
// (issue 10), on both stores; a revocation that revokes nothing writes none.
func TestRevokeAudit(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			var st store.Audit
			h := idptest.NewOn(t, driver, true, idptest.WithPendingAudit(t, &st))
			pending := func() int { return idptest.Pending(t, st) }
			revoke := func(client, tok string) {
				t.Helper()
				if r := h.PostForm("/revoke", url.Values{"token": {tok}}, client, h.Secrets[client]); r.Status != 200 {
					t.Fatalf("revoke: %d %s", r.Status, r.Raw)
				}
			}
			set := h.Redeem("web", h.Code(idptest.AuthQuery("web")))
			if set.Status != 200 {
				t.Fatalf("redeem: %d %s", set.Status, set.Raw)
			}
			n0 := pending()
			steps := []struct {
				name, client, token string
				want                int // pending records written
			}{
				{"another client's refresh token", "other", set.Str("refresh_token"), 0},
				{"another client's access token", "other", set.Str("access_token"), 0},
				{"unknown token", "web", "NOTATOKEN", 0},
				{"refresh token", "web", set.Str("refresh_token"), 1},
				{"the revoked refresh token again", "web", set.Str("refresh_token"), 0},
				{"access token", "web", set.Str("access_token"), 1},
			}
			for _, s := range steps {
				revoke(s.client, s.token)
				if n := pending(); n != n0+s.want {
					t.Errorf("%s: %d pending records, want %d", s.name, n, n0+s.want)
				}
				n0 += s.want
			}
			sealed, err := st.SealPendingAudit(t.Context(), 100, audit.Seal)
			if err != nil || len(sealed) < 2 {
				t.Fatalf("seal: %d records, %v", len(sealed), err)
			}
			for i, what := range []string{"refresh_token", "access_token"} {
				r := sealed[len(sealed)-2+i]
				var d map[string]any
				if r.Kind != audit.KindTokenRevoke || r.Actor != "client:web" || json.Unmarshal(r.Details, &d) != nil || d["token_type"] != what {
					t.Errorf("record %d: %s %s %s, want %s by client:web of a %s", i, r.Kind, r.Actor, r.Details, audit.KindTokenRevoke, what)
				}
			}
		})
	}
}
