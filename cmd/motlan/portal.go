package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"

	"github.com/motlan/motlan/examples/portal"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/server"
	"github.com/motlan/motlan/keys"
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

// cmdPortal runs the demo portal alone, against a Motlan running elsewhere (motlan serve,
// or motlan dev with another --portal-addr).
func cmdPortal(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("portal", flag.ContinueOnError)
	issuer := fs.String("issuer", "http://localhost:8080", "Motlan's issuer URL")
	clientID := fs.String("client-id", "portal", "the portal's client_id at Motlan")
	redirect := fs.String("redirect", "http://localhost:8082/callback", "the portal's registered redirect URI")
	addr := fs.String("addr", "", "listen address; default: the redirect URI's host and port")
	dev := fs.Bool("dev", false, "use the client secret motlan dev derives from its master key (--data)")
	data := fs.String("data", ".motlan-dev", "with --dev: motlan dev's data directory")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: motlan portal [--issuer URL] [--client-id ID] [--redirect URL] [--addr HOST:PORT] (--dev [--data DIR] | $PORTAL_CLIENT_SECRET)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("portal: unexpected argument %q", fs.Arg(0))
	}
	secret := os.Getenv("PORTAL_CLIENT_SECRET")
	if *dev {
		mk, err := keys.LoadMasterKey("", filepath.Join(*data, "master.key"))
		if err != nil {
			return fmt.Errorf("--data %s: %w (has motlan dev run there?)", *data, err)
		}
		secret = server.DevSecret(mk, "portal client")
	}
	if secret == "" {
		return errors.New("portal: set $PORTAL_CLIENT_SECRET, or --dev to use motlan dev's")
	}
	if *addr == "" {
		u, err := url.Parse(*redirect)
		if err != nil || u.Host == "" {
			return fmt.Errorf("--redirect %q: not an absolute URL", *redirect)
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		*addr = net.JoinHostPort(u.Hostname(), port)
	}
	log := server.NewLogger(config.Log{Level: "info", Format: "text"})
	p, err := portal.New(ctx, portal.Config{
		Issuer: *issuer, ClientID: *clientID, ClientSecret: secret, RedirectURL: *redirect, Logger: log,
	})
	if err != nil {
		return err
	}
	return p.Serve(ctx, *addr, log)
}
