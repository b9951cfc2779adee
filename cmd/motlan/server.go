package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/server"
	"github.com/motlan/motlan/keys"
)

func cmdServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", "motlan.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	log := server.NewLogger(cfg.Log)
	mk, err := keys.LoadMasterKey(cfg.Secrets.MasterKey.Env, cfg.Secrets.MasterKey.File)
	if err != nil {
		return fmt.Errorf("secrets.master_key: %w", err)
	}
	srv, err := server.Start(ctx, cfg, mk, log)
	if err != nil {
		return err
	}
	serveUntilDone(ctx, *path, srv, log) // SIGHUP reloads clients (reload.go)
	return srv.Shutdown()
}

func cmdMigrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	path := fs.String("config", "motlan.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	st, err := server.OpenStore(ctx, cfg, server.NewLogger(cfg.Log)) // Open applies the migrations
	if err != nil {
		return err
	}
	logAdmin(ctx, st, server.NewLogger(cfg.Log), audit.KindAdmin, map[string]any{"command": "migrate"})
	fmt.Println("migrations applied")
	return st.Close()
}

func cmdCheckConfig(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: motlan check-config FILE")
	}
	if _, err := config.Load(args[0]); err != nil {
		return err
	}
	fmt.Println("configuration is valid")
	return nil
}
