package idp

import (
	"context"
	"errors"
	"net/http"

	"github.com/motlan/motlan/idp/store"
)

// What the citizen's own page (package account) uses of the provider: ending what a
// client was given, and telling clients through the back channel.

// DenyAccessTokens revokes every access token minted from the given refresh token
// families (a family is named after its authorization code), as a reused refresh token
// does: the tokens stay self-contained JWTs, the denylist holds each family until its
// last access token has expired.
func (p *Provider) DenyAccessTokens(ctx context.Context, families []string) error {
	var errs []error
	for _, f := range families {
		if err := p.tokens.DenyFamily(ctx, f); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// NotifyLogout sends back-channel logout tokens for the session sessionID of citizenID,
// in the background: to the given clients only, or to every client of the session when
// none is given. Clients without a back-channel logout URI are skipped.
func (p *Provider) NotifyLogout(ctx context.Context, citizenID, sessionID string, clientIDs ...string) {
	p.sessions.NotifyLogout(ctx, store.Session{ID: sessionID, CitizenID: citizenID}, clientIDs...)
}

// ClientName is the display name of a registered client, or its ID.
func (p *Provider) ClientName(ctx context.Context, clientID string) string {
	if c, ok := p.clients.Get(ctx, clientID); ok && c.Name != "" {
		return c.Name
	}
	return clientID
}

// HasBackchannelLogout reports whether the client registered a back-channel logout URI.
func (p *Provider) HasBackchannelLogout(ctx context.Context, clientID string) bool {
	c, ok := p.clients.Get(ctx, clientID)
	return ok && c.BackchannelLogoutURI != ""
}

// BrowserSessionID is the id of the browser's live session, "" without one.
func (p *Provider) BrowserSessionID(r *http.Request) string {
	if s, ok := p.sessions.Current(r); ok {
		return s.ID
	}
	return ""
}
