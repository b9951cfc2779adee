package session

import (
	"context"
	"slices"
	"time"

	"github.com/motlan/motlan/idp/store"
)

// NotifyLogout tells clients that session s ended for them (OpenID Connect Back-Channel
// Logout 1.0), in the background: only the given clients, or every client of the session
// when none is given. The citizen's own page uses it when a consent is withdrawn (only
// that client is told) or a session is ended (all of them are). The session need not
// exist any more: a logout token carries its sid and the citizen's sub only.
func (m *Manager) NotifyLogout(ctx context.Context, s store.Session, clientIDs ...string) {
	ctx = context.WithoutCancel(ctx)
	m.bcWG.Add(1)
	go func() {
		defer m.bcWG.Done()
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if len(clientIDs) == 0 {
			m.notifySessionClients(ctx, s)
			return
		}
		for _, id := range slices.Compact(slices.Sorted(slices.Values(clientIDs))) {
			c, ok := m.cfg.Clients.Get(ctx, id)
			if !ok || c.BackchannelLogoutURI == "" {
				continue
			}
			if err := m.sendLogoutToken(ctx, c, s); err != nil {
				m.cfg.Logger.WarnContext(ctx, "back-channel logout failed", "client_id", c.ID, "err", err)
			}
		}
	}()
}
