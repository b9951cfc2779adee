package signing

import (
	"context"

	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/audit"
)

// AuditingStore is a Store that writes audit records in the transaction of a request's
// update (adapters/sqlstore), so that an approval or a signature and its audit record are
// stored together or not at all. With another Store the records are appended after the
// update.
type AuditingStore interface {
	// UpdateSigningRequestAudited is UpdateSigningRequest that also writes, as pending
	// audit records, what records returns for the updated request; an error from records
	// stores nothing.
	UpdateSigningRequestAudited(ctx context.Context, id string, fn func(Request) (Request, error),
		records func(Request) ([]store.AuditRecord, error)) (Request, error)
}

// audit records an act on r in the audit log (ServiceConfig.Audit; nil records nothing):
// the request, its client, level and the documents' fingerprints, never their content.
func (s *Service) audit(ctx context.Context, kind, actor string, r Request) {
	s.cfg.Audit.Log(ctx, auditEvent(kind, actor, r))
}

func auditEvent(kind, actor string, r Request) audit.Event {
	docs := make([]map[string]string, len(r.Documents))
	for i, d := range r.Documents {
		docs[i] = map[string]string{"sha256": d.SHA256}
		if d.SignedSHA != "" {
			docs[i]["signed_sha256"] = d.SignedSHA
		}
	}
	return audit.Event{Kind: kind, Actor: actor, Details: map[string]any{
		"request": r.ID, "client": r.ClientID, "level": r.Level, "documents": docs,
	}}
}

// recordAct is the audit record an update writes with itself: Kind by Actor, when the
// updated request has reached Status.
type recordAct struct {
	Kind, Actor string
	Status      Status
}

// updateRecorded applies fn to request id as UpdateSigningRequest does and, when the
// result has reached act.Status, records act in the same transaction (an AuditingStore)
// or right after it.
func (s *Service) updateRecorded(ctx context.Context, id string, fn func(Request) (Request, error), act recordAct) (Request, error) {
	as, ok := s.cfg.Store.(AuditingStore)
	if !ok || s.cfg.Audit == nil {
		r, err := s.cfg.Store.UpdateSigningRequest(ctx, id, fn)
		if err == nil && r.Status == act.Status {
			s.audit(ctx, act.Kind, act.Actor, r)
		}
		return r, err
	}
	r, err := as.UpdateSigningRequestAudited(ctx, id, fn, func(next Request) ([]store.AuditRecord, error) {
		if next.Status != act.Status {
			return nil, nil
		}
		return s.cfg.Audit.Records(auditEvent(act.Kind, act.Actor, next))
	})
	if err == nil && r.Status == act.Status {
		s.cfg.Audit.Kick() // seal it into the chain soon
	}
	return r, err
}
