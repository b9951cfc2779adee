package storetest

import (
	"slices"

	"github.com/motlan/motlan/idp/store"
)

// testClientDisable: clients missing from keep are disabled (not found, not listed),
// their refresh tokens no longer rotate; upserting one enables it again.
func testClientDisable(e *env) {
	for _, id := range []string{"portal", "bhyt", "app"} {
		must(e.t, "upsert "+id, e.s.UpsertClient(e.ctx, client(id)))
	}
	rt := refresh("rt-1", "fam-1") // portal's
	must(e.t, "create refresh", e.s.CreateRefreshToken(e.ctx, rt))
	disabled, err := e.s.DisableClientsExcept(e.ctx, []string{"app"})
	must(e.t, "disable", err)
	if !slices.Equal(disabled, []string{"bhyt", "portal"}) {
		e.t.Errorf("disabled %v, want [bhyt portal]", disabled)
	}
	_, err = e.s.GetClient(e.ctx, "portal")
	wantErr(e.t, "get disabled", err, store.ErrNotFound)
	list, err := e.s.ListClients(e.ctx)
	must(e.t, "list", err)
	if len(list) != 1 || list[0].ID != "app" {
		e.t.Errorf("listed %v, want only app", list)
	}
	next := refresh("rt-2", "fam-1")
	wantErr(e.t, "rotate a disabled client's refresh token", rotate(e, rt.ID, next), store.ErrNotFound)
	again, err := e.s.DisableClientsExcept(e.ctx, []string{"app"})
	must(e.t, "disable again", err)
	if len(again) != 0 {
		e.t.Errorf("disabled again %v, want none", again)
	}
	must(e.t, "upsert portal again", e.s.UpsertClient(e.ctx, client("portal")))
	got, err := e.s.GetClient(e.ctx, "portal")
	must(e.t, "get re-enabled", err)
	equal(e.t, "re-enabled client", got, client("portal"))
}
