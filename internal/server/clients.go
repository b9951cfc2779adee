package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/internal/config"
)

// applyClients makes the configuration the truth for relying parties: the configured
// clients are upserted (enabled again if they had been disabled), every other client in
// the store is disabled, and the disabled clients' refresh tokens are revoked. Their
// access tokens fail at userinfo, introspection and the signing API from then on (each
// replica within its client cache's 30 s).
func applyClients(ctx context.Context, st store.Clients, clients []config.Client, log *slog.Logger) error {
	if err := upsertClients(ctx, st, clients); err != nil {
		return err
	}
	keep := make([]string, len(clients))
	for i, c := range clients {
		keep[i] = c.ID
	}
	disabled, err := st.DisableClientsExcept(ctx, keep)
	if err != nil {
		return fmt.Errorf("disable clients missing from the configuration: %w", err)
	}
	if len(disabled) > 0 {
		log.WarnContext(ctx, "clients missing from the configuration are disabled; their refresh tokens are revoked", "clients", disabled)
	}
	return nil
}

// ReloadClients applies a re-read configuration's clients to the running Motlan (motlan
// serve does on SIGHUP): see applyClients. Other settings need a restart.
func (r *Running) ReloadClients(ctx context.Context, clients []config.Client) error {
	if r.clientsStore == nil || r.provider == nil {
		return errors.New("server: not started")
	}
	if err := applyClients(ctx, r.clientsStore, clients, r.log); err != nil {
		return err
	}
	return r.provider.ReloadClients(ctx)
}

// clientsReloader is what ReloadClients needs of the provider.
type clientsReloader interface {
	ReloadClients(ctx context.Context) error
}

var _ clientsReloader = (*idp.Provider)(nil)
