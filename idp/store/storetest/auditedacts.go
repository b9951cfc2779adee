package storetest

import (
	"encoding/json"
	"time"

	"github.com/motlan/motlan/idp/store"
)

// Acts that write their audit record in their own transaction (issue 10: never one
// without the other): the record is pending after the act, and an act whose record cannot
// be written does not happen.

// revokeRecord is a revocation's audit record as the revocation endpoint builds it.
func revokeRecord(what string) store.AuditRecord {
	return store.AuditRecord{At: start, Kind: "token.revoke", Actor: "client:portal",
		Details: json.RawMessage(`{"token_type":"` + what + `"}`)}
}

// badRecord cannot be stored (no kind): the act it goes with must roll back.
var badRecord = store.AuditRecord{At: start, Actor: "client:portal"}

// sealPending seals the pending audit records and returns them: what the acts so far
// wrote with themselves, oldest first.
func sealPending(e *env) []store.AuditRecord {
	e.t.Helper()
	a, ok := e.s.(store.Audit)
	if !ok {
		e.t.Fatal("the store keeps no audit log: an act's audit record has nowhere to go")
	}
	out, err := a.SealPendingAudit(e.ctx, 100, testSeal)
	must(e.t, "seal pending", err)
	return out
}

// wantRecords checks the kinds, actors and details of sealed pending records.
func wantRecords(e *env, what string, got []store.AuditRecord, want ...store.AuditRecord) {
	e.t.Helper()
	if len(got) != len(want) {
		e.t.Fatalf("%s: %d pending audit records, want %d: %+v", what, len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Kind != w.Kind || g.Actor != w.Actor || string(g.Details) != string(w.Details) || !g.At.Equal(w.At) {
			e.t.Errorf("%s: record %d = %s %s %s %v, want %s %s %s %v", what, i, g.Kind, g.Actor, g.Details, g.At, w.Kind, w.Actor, w.Details, w.At)
		}
	}
}

func testRevokeFamilyAudited(e *env) {
	a := refresh("rt-1", "fam-1")
	must(e.t, "create", e.s.CreateRefreshToken(e.ctx, a))
	other := refresh("rt-other", "fam-2")
	must(e.t, "create other family", e.s.CreateRefreshToken(e.ctx, other))
	sealPending(e) // whatever the fixtures wrote
	deny := store.Deny{Key: "family:fam-1", Until: start.Add(time.Minute)}

	// A record that cannot be written: nothing is revoked, nothing denylisted.
	_, err := e.s.RevokeFamily(e.ctx, "fam-1", deny, badRecord)
	if err == nil {
		e.t.Fatal("revoke with an unwritable audit record: no error")
	}
	got, err := e.s.GetRefreshToken(e.ctx, a.ID)
	must(e.t, "get after failed revoke", err)
	equal(e.t, "revoked after a failed revoke", got.Revoked, false)
	denied, err := e.s.TokenRevoked(e.ctx, deny.Key)
	must(e.t, "denylist after failed revoke", err)
	equal(e.t, "denylisted after a failed revoke", denied, false)
	wantRecords(e, "after a failed revoke", sealPending(e))

	// The revocation, the denylist entry and the record together.
	revoked, err := e.s.RevokeFamily(e.ctx, "fam-1", deny, revokeRecord("refresh_token"))
	must(e.t, "revoke", err)
	equal(e.t, "revoked", revoked, true)
	got, err = e.s.GetRefreshToken(e.ctx, a.ID)
	must(e.t, "get revoked", err)
	equal(e.t, "token revoked", got.Revoked, true)
	denied, err = e.s.TokenRevoked(e.ctx, deny.Key)
	must(e.t, "denylist", err)
	equal(e.t, "family denylisted", denied, true)
	got, err = e.s.GetRefreshToken(e.ctx, other.ID)
	must(e.t, "get other family", err)
	equal(e.t, "other family revoked", got.Revoked, false)
	wantRecords(e, "after revoke", sealPending(e), revokeRecord("refresh_token"))

	// Nothing live: nothing done, no record.
	for _, fam := range []string{"fam-1", "fam-none"} {
		revoked, err = e.s.RevokeFamily(e.ctx, fam, store.Deny{Key: "family:" + fam, Until: start.Add(time.Minute)}, revokeRecord("refresh_token"))
		must(e.t, "revoke again "+fam, err)
		equal(e.t, "revoked again "+fam, revoked, false)
	}
	denied, err = e.s.TokenRevoked(e.ctx, "family:fam-none")
	must(e.t, "denylist unknown family", err)
	equal(e.t, "unknown family denylisted", denied, false)
	wantRecords(e, "after revoking nothing", sealPending(e))
}

func testRevokeTokenAudited(e *env) {
	sealPending(e)
	if err := e.s.RevokeToken(e.ctx, "jti-1", start.Add(time.Minute), badRecord); err == nil {
		e.t.Fatal("revoke with an unwritable audit record: no error")
	}
	denied, err := e.s.TokenRevoked(e.ctx, "jti-1")
	must(e.t, "after failed revoke", err)
	equal(e.t, "denylisted after a failed revoke", denied, false)
	wantRecords(e, "after a failed revoke", sealPending(e))

	must(e.t, "revoke", e.s.RevokeToken(e.ctx, "jti-1", start.Add(time.Minute), revokeRecord("access_token")))
	denied, err = e.s.TokenRevoked(e.ctx, "jti-1")
	must(e.t, "revoked", err)
	equal(e.t, "denylisted", denied, true)
	wantRecords(e, "after revoke", sealPending(e), revokeRecord("access_token"))
}

func testSessionDeleteAudited(e *env) {
	must(e.t, "create", e.s.CreateSession(e.ctx, session("sess-1")))
	sealPending(e)
	end := store.AuditRecord{At: start, Kind: "session.end", Actor: "citizen:cit-1", Details: json.RawMessage(`{"via":"me"}`)}
	if err := e.s.DeleteSession(e.ctx, "sess-1", badRecord); err == nil {
		e.t.Fatal("delete with an unwritable audit record: no error")
	}
	_, err := e.s.GetSession(e.ctx, "sess-1")
	must(e.t, "session after a failed delete", err)
	wantRecords(e, "after a failed delete", sealPending(e))

	must(e.t, "delete", e.s.DeleteSession(e.ctx, "sess-1", end))
	_, err = e.s.GetSession(e.ctx, "sess-1")
	wantErr(e.t, "get deleted", err, store.ErrNotFound)
	wantRecords(e, "after delete", sealPending(e), end)
}
