package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/motlan/motlan/signing"
)

// ProblemUnknownSubject answers a create whose subject is no citizen the client knows
// (422): a request nobody can approve would only wait until it expires.
const ProblemUnknownSubject = ProblemBase + "unknown-subject"

// resolveSubject sets in.CitizenID to the citizen the client knows as in.Subject, or
// returns the 422 problem; a citizen's own token has named its citizen already.
func (a *API) resolveSubject(ctx context.Context, in *signing.CreateInput) error {
	if in.CitizenID != "" {
		return nil
	}
	id, ok, err := a.auth.CitizenFor(ctx, in.ClientID, in.Subject)
	if err != nil {
		return fmt.Errorf("httpapi: resolving the subject: %w", err)
	}
	if !ok {
		p := problem(http.StatusUnprocessableEntity, ProblemUnknownSubject, "Unknown subject",
			"subject is not the sub of a citizen who has logged in to this client; use the sub from the citizen's ID token")
		p.Field = "subject"
		return p
	}
	in.CitizenID = id
	return nil
}
