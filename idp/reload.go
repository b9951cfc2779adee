package idp

import "context"

// ReloadClients re-reads the registered clients from the store now, after the caller
// upserted or disabled some (motlan serve on SIGHUP). Other replicas see the change
// when their cache next goes stale (30 s).
func (p *Provider) ReloadClients(ctx context.Context) error { return p.clients.Reload(ctx) }
