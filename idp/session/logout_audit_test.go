package session_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/motlan/motlan/idp/internal/idptest"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
)

// TestLogoutAudited: RP-initiated logout ends the session and writes its audit record in
// one transaction, on both stores: the record is pending right after, naming the client.
func TestLogoutAudited(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			var st store.Audit
			h := idptest.NewOn(t, driver, true, idptest.WithPendingAudit(t, &st))
			b := h.Browser()
			resp := h.Login(b, idptest.AuthQuery("web"))
			idptest.ReadBody(t, resp)
			tok := h.Redeem("web", idptest.MustCode(t, resp))
			if tok.Status != http.StatusOK {
				t.Fatalf("redeem: %s", tok.Raw)
			}
			n0 := idptest.Pending(t, st)
			resp, err := b.Get(h.Issuer + "/logout?" + url.Values{"id_token_hint": {tok.Str("id_token")}}.Encode())
			if err != nil {
				t.Fatal(err)
			}
			idptest.ReadBody(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("logout: status %d", resp.StatusCode)
			}
			if n := idptest.Pending(t, st); n != n0+1 {
				t.Fatalf("%d pending records after logout, want %d", n, n0+1)
			}
			sealed, err := st.SealPendingAudit(t.Context(), 100, audit.Seal)
			if err != nil || len(sealed) == 0 {
				t.Fatalf("seal: %d records, %v", len(sealed), err)
			}
			r := sealed[len(sealed)-1]
			var d map[string]any
			if r.Kind != audit.KindLogout || json.Unmarshal(r.Details, &d) != nil || d["client"] != "web" {
				t.Errorf("last record %s %s %s, want a logout by web's citizen", r.Kind, r.Actor, r.Details)
			}
			// The session is gone: a second logout writes nothing.
			resp, err = b.Get(h.Issuer + "/logout")
			if err != nil {
				t.Fatal(err)
			}
			idptest.ReadBody(t, resp)
			if n := idptest.Pending(t, st); n != 0 {
				t.Errorf("a logout without a session wrote %d records", n)
			}
		})
	}
}
