// Command portal runs the example relying party:
//
//	PORTAL_CLIENT_SECRET=... go run ./examples/portal/cmd/portal \
//	    -issuer http://localhost:8080 -client-id portal -redirect http://localhost:8082/callback
package main

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/motlan/motlan/examples/portal"
)

func main() {
	issuer := flag.String("issuer", env("PORTAL_ISSUER", "http://localhost:8080"), "OpenID provider issuer (env PORTAL_ISSUER)")
	clientID := flag.String("client-id", env("PORTAL_CLIENT_ID", "portal"), "client_id (env PORTAL_CLIENT_ID)")
	redirect := flag.String("redirect", env("PORTAL_REDIRECT_URL", "http://localhost:8082/callback"), "redirect URI (env PORTAL_REDIRECT_URL)")
	addr := flag.String("addr", "", "listen address; default: the redirect URI's host and port")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log, *issuer, *clientID, os.Getenv("PORTAL_CLIENT_SECRET"), *redirect, *addr); err != nil {
		log.Error("portal", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, issuer, clientID, secret, redirect, addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if addr == "" {
		u, err := url.Parse(redirect)
		if err != nil {
			return err
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	p, err := portal.New(ctx, portal.Config{
		Issuer: issuer, ClientID: clientID, ClientSecret: secret, RedirectURL: redirect, Logger: log,
	})
	if err != nil {
		return err
	}
	return p.Serve(ctx, addr, log)
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
