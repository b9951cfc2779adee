package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/signing"
)

// An update's audit records are stored in its transaction: with the update, or, when the
// records cannot be made, neither.
func TestUpdateSigningRequestAudited(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Millisecond)
			st := b.open(t, func() time.Time { return now })
			r := signing.Request{ID: "req-audited", ClientID: "portal", Subject: "sub", Level: signing.LevelBB,
				Status: signing.StatusPending, CreatedAt: now, ExpiresAt: now.Add(time.Hour),
				Documents: []signing.Document{{Title: "Tờ khai", Pages: 1, SHA256: "ab"}}}
			if _, err := st.CreateSigningRequest(ctx, r, [][]byte{[]byte("%PDF-1.7")}); err != nil {
				t.Fatal(err)
			}
			approve := func(old signing.Request) (signing.Request, error) {
				old.Status, old.CitizenID = signing.StatusSigning, "cit-1"
				return old, nil
			}
			boom := errors.New("no record")
			_, err := st.UpdateSigningRequestAudited(ctx, r.ID, approve, func(signing.Request) ([]store.AuditRecord, error) { return nil, boom })
			if !errors.Is(err, boom) {
				t.Fatalf("records failing: %v", err)
			}
			if got, _ := st.GetSigningRequest(ctx, r.ID); got.Status != signing.StatusPending || got.Version != 1 {
				t.Fatalf("the update was stored without its record: %s v%d", got.Status, got.Version)
			}
			if n, _, err := st.PendingAudit(ctx); err != nil || n != 0 {
				t.Fatalf("pending records: %d %v", n, err)
			}

			var seen signing.Request
			got, err := st.UpdateSigningRequestAudited(ctx, r.ID, approve, func(next signing.Request) ([]store.AuditRecord, error) {
				seen = next
				return []store.AuditRecord{{At: now, Kind: "signing.approve", Actor: "citizen:" + next.CitizenID, Details: []byte(`{"request":"req-audited"}`)}}, nil
			})
			if err != nil || got.Status != signing.StatusSigning || seen.Status != signing.StatusSigning || seen.Version != 2 {
				t.Fatalf("audited update: %v, %s; records saw %s v%d", err, got.Status, seen.Status, seen.Version)
			}
			if n, _, err := st.PendingAudit(ctx); err != nil || n != 1 {
				t.Fatalf("pending records after the update: %d %v", n, err)
			}
			sealed, err := st.SealPendingAudit(ctx, 10, func(store.AuditRecord) (string, error) { return "h", nil })
			if err != nil || len(sealed) != 1 || sealed[0].Kind != "signing.approve" || sealed[0].Actor != "citizen:cit-1" {
				t.Fatalf("sealed %+v, %v", sealed, err)
			}
		})
	}
}
