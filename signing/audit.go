package signing

import (
	"context"

	"github.com/motlan/motlan/internal/audit"
)

// audit records an act on r in the audit log (ServiceConfig.Audit; nil records nothing):
// the request, its client, level and the documents' fingerprints, never their content.
func (s *Service) audit(ctx context.Context, kind, actor string, r Request) {
	docs := make([]map[string]string, len(r.Documents))
	for i, d := range r.Documents {
		docs[i] = map[string]string{"sha256": d.SHA256}
		if d.SignedSHA != "" {
			docs[i]["signed_sha256"] = d.SignedSHA
		}
	}
	s.cfg.Audit.Log(ctx, audit.Event{Kind: kind, Actor: actor, Details: map[string]any{
		"request": r.ID, "client": r.ClientID, "level": r.Level, "documents": docs,
	}})
}
