package main

import (
	"context"
	"fmt"

	"github.com/motlan/motlan/examples/portal"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/server"
)

// startDevPortal serves the demo portal beside Motlan in dev, as the "portal" client.
func startDevPortal(ctx context.Context, r *server.Running, cfg config.Config, addr string) error {
	c := cfg.Clients[0]
	secret, err := c.Secret.Resolve()
	if err != nil {
		return err
	}
	p, err := portal.New(ctx, portal.Config{
		Issuer: cfg.Issuer, ClientID: c.ID, ClientSecret: secret, RedirectURL: c.RedirectURIs[0],
	})
	if err != nil {
		return fmt.Errorf("demo portal: %w", err)
	}
	_, err = r.ServeOn(addr, p, "demo portal")
	return err
}
