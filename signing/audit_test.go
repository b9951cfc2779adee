package signing_test

import (
	"context"
	"crypto"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/keys/tsa"
	"github.com/motlan/motlan/signing"
)

// TestAuditTrail: creation, approval, signature and rejection each append one chained
// record naming the request, its client and the documents' fingerprints; the citizen's
// acts are written with the act, as pending records, and sealed in order.
func TestAuditTrail(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	log, err := audit.New(audit.Config{Store: w.store, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.service, err = signing.NewService(signing.ServiceConfig{
		Store: w.store, Vault: w.vault, CA: w.ca, Citizens: citizens{},
		Timestamp: func(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
			return tsa.Request(ctx, nil, w.tsaURL, digest, h)
		},
		CallbackBackoff: 10 * time.Millisecond, Now: w.clock.Now, Audit: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.service.Close() })

	r := w.create(2, nil)
	done, err := w.service.Approve(ctx, r.ID, citizenID, subjectFor, hashes(r))
	if err != nil || done.Status != signing.StatusSigned {
		t.Fatalf("approve: %v %s", err, done.Status)
	}
	r2 := w.create(1, nil)
	if _, err := w.service.Reject(ctx, r2.ID, citizenID, subjectFor); err != nil {
		t.Fatal(err)
	}

	// Approvals, signatures and rejections are written as pending records in the
	// transaction of their act, then sealed into the chain: the rejection is still pending.
	if n, _, err := w.store.PendingAudit(ctx); err != nil || n != 1 {
		t.Fatalf("pending audit records after the rejection: %d, %v; want 1", n, err)
	}
	if _, err := log.SealPending(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := w.store.ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ kind, actor, request string }{
		{audit.KindSigningCreate, audit.Client(clientID), r.ID},
		{audit.KindSigningApprove, audit.Citizen(citizenID), r.ID},
		{audit.KindSigningSigned, audit.Citizen(citizenID), r.ID},
		{audit.KindSigningCreate, audit.Client(clientID), r2.ID},
		{audit.KindSigningReject, audit.Citizen(citizenID), r2.ID},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d audit records, want %d", len(recs), len(want))
	}
	for i, wr := range want {
		var d struct {
			Request   string              `json:"request"`
			Client    string              `json:"client"`
			Documents []map[string]string `json:"documents"`
		}
		if err := json.Unmarshal(recs[i].Details, &d); err != nil {
			t.Fatal(err)
		}
		if recs[i].Kind != wr.kind || recs[i].Actor != wr.actor || d.Request != wr.request || d.Client != clientID {
			t.Errorf("record %d: %s by %s on %s, want %s by %s on %s", i+1, recs[i].Kind, recs[i].Actor, d.Request, wr.kind, wr.actor, wr.request)
		}
		if len(d.Documents) == 0 || len(d.Documents[0]["sha256"]) != 64 {
			t.Errorf("record %d names no document fingerprint: %s", i+1, recs[i].Details)
		}
		if strings.Contains(string(recs[i].Details), "Tờ khai") {
			t.Errorf("record %d holds document titles: %s", i+1, recs[i].Details)
		}
	}
	var signed struct {
		Documents []map[string]string `json:"documents"`
	}
	_ = json.Unmarshal(recs[2].Details, &signed)
	for i, d := range signed.Documents {
		if d["signed_sha256"] != done.Documents[i].SignedSHA {
			t.Errorf("signed record, document %d: %q, want %q", i, d["signed_sha256"], done.Documents[i].SignedSHA)
		}
	}
	if n, err := audit.Verify(ctx, w.store); err != nil || n != 5 {
		t.Errorf("Verify: %d, %v", n, err)
	}
}
