package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/server"
)

// serveUntilDone runs until ctx ends; each SIGHUP re-reads the configuration file and
// applies its clients (added, changed, or removed: disabled). A file that no longer
// validates is logged and ignored: the running configuration stays.
func serveUntilDone(ctx context.Context, path string, srv *server.Running, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			cfg, err := config.Load(path)
			if err != nil {
				log.Error("SIGHUP: the configuration file is invalid; keeping the running one", "err", err)
				continue
			}
			if err := srv.ReloadClients(ctx, cfg.Clients); err != nil {
				log.Error("SIGHUP: apply clients", "err", err)
				continue
			}
			log.Info("SIGHUP: clients reloaded from the configuration file", "clients", len(cfg.Clients))
		}
	}
}
