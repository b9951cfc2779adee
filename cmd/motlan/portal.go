package main

import (
	"context"

	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/server"
)

// startDevPortal serves the demo portal beside Motlan in dev.
func startDevPortal(ctx context.Context, r *server.Running, cfg config.Config, addr string) error {
	return nil
}
