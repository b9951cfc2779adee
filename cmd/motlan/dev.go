package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/server"
	"github.com/motlan/motlan/keys"
)

func cmdDev(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	data := fs.String("data", ".motlan-dev", "data directory: SQLite database and the generated master key")
	var p server.DevPorts
	fs.StringVar(&p.Motlan, "addr", "localhost:8080", "Motlan's listen address")
	fs.StringVar(&p.EID, "eid-addr", "localhost:8081", "the dev eID's listen address")
	fs.StringVar(&p.Portal, "portal-addr", "localhost:8082", "the demo portal's listen address")
	storeKind := fs.String("store", "sqlite", "sqlite (a file in --data) or postgres (DSN from $MOTLAN_DEV_POSTGRES_DSN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	began := time.Now()
	masterKey, err := keys.EnsureMasterKeyFile(filepath.Join(*data, "master.key"))
	if err != nil {
		return err
	}
	cfg := server.DevConfig(*data, p, masterKey)
	cfg.Clients = append(cfg.Clients, DevClient())
	cfg.ApplyDefaults()
	switch *storeKind {
	case "sqlite":
	case "postgres":
		cfg.Storage = config.Storage{Driver: "postgres", DSN: config.Secret{Env: "MOTLAN_DEV_POSTGRES_DSN"}}
	default:
		return fmt.Errorf("--store %q: want sqlite or postgres", *storeKind)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("dev config: %w", err)
	}
	log := server.NewLogger(cfg.Log)
	r, err := server.Start(ctx, cfg, masterKey, log)
	if err != nil {
		return err
	}
	if err := startDevPortal(ctx, r, cfg, p.Portal); err != nil {
		_ = r.Shutdown()
		return err
	}
	printDevBanner(os.Stdout, cfg, server.HostURL(p.Portal), time.Since(began))
	<-ctx.Done()
	return r.Shutdown()
}

func printDevBanner(out *os.File, cfg config.Config, portalURL string, took time.Duration) {
	fmt.Fprintf(out, "\nMotlan dev is ready (%s)\n\n", took.Round(time.Millisecond))
	fmt.Fprintf(out, "  Demo portal   %s   ← open this and press \"Đăng nhập bằng VNeID\"\n", portalURL)
	fmt.Fprintf(out, "  Motlan        %s%s\n", cfg.Issuer, idp.PathDiscovery)
	fmt.Fprintf(out, "  Dev eID       %s   (development only)\n\n", cfg.DevEID.Issuer)
	fmt.Fprintf(out, "Test citizens (password %q for all; the one-time code is shown on the eID page):\n", sim.DevPassword)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	for _, c := range sim.DefaultCitizens() {
		note := fmt.Sprintf("level %d", c.Level)
		if age := time.Now().Year() - atoiYear(c.Birthdate); age < 14 {
			note += ", child"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.CCCD, c.FullName(), c.Birthdate, note)
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "\nRelying party \"portal\": client secret %s (derived from %s)\n", mustResolve(cfg.Clients[0].Secret), cfg.Secrets.MasterKey.File)
	fmt.Fprintf(out, "Developer client (README \"Integrate your portal\"): id %s, secret %s,\n  any http://localhost:PORT/... redirect URI\n", DevClientID, DevClientSecret)
	fmt.Fprintln(out, "Press Ctrl+C to stop.")
}

// The developer client `motlan dev` registers, so the README's "Integrate your portal"
// runs as written against it. Its secret is public on purpose: the client exists only in
// dev mode, where any http://localhost (127.0.0.1, [::1]) redirect URI is allowed for it.
const (
	DevClientID     = "dev-portal"
	DevClientSecret = "dev-portal-secret-for-localhost-only"
)

// DevClient is the developer client's registration.
func DevClient() config.Client {
	return config.Client{
		ID: DevClientID, Name: "Cổng của nhà phát triển (dev)",
		Secret:               config.Secret{Value: DevClientSecret},
		RedirectURIs:         []string{"http://localhost:9876/callback"},
		Scopes:               []string{"openid", "profile", "address", "phone", "cccd", "offline_access", "signing", "sign"},
		DevLoopbackRedirects: true,
	}
}

func atoiYear(date string) int {
	y := 0
	for _, ch := range strings.SplitN(date, "-", 2)[0] {
		y = y*10 + int(ch-'0')
	}
	return y
}

func mustResolve(s config.Secret) string {
	v, _ := s.Resolve()
	return v
}

func cmdEID(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eid", flag.ContinueOnError)
	addr := fs.String("addr", "localhost:8081", "listen address")
	issuer := fs.String("issuer", "", "issuer URL (default http://localhost:PORT)")
	clientID := fs.String("client-id", "motlan", "the broker's client id")
	secretEnv := fs.String("client-secret-env", "MOTLAN_EID_CLIENT_SECRET", "environment variable holding the broker's client secret")
	redirect := fs.String("redirect-uri", "http://localhost:8080"+idp.PathCallback, "the broker's callback URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *issuer == "" {
		*issuer = server.HostURL(*addr)
	}
	secret := os.Getenv(*secretEnv)
	if len(secret) < 16 {
		return fmt.Errorf("set $%s to the broker's client secret (at least 16 characters)", *secretEnv)
	}
	log := server.NewLogger(config.Log{Level: "info", Format: "text"})
	h, err := sim.New(sim.Config{
		Issuer:  *issuer,
		Clients: []sim.Client{{ID: *clientID, Secret: secret, RedirectURIs: []string{*redirect}}},
		Logger:  log,
	})
	if err != nil {
		return err
	}
	r := server.NewRunning(log)
	if _, err := r.ServeOn(*addr, h, "dev eID"); err != nil {
		return err
	}
	log.Warn("the dev eID is running: anyone can log in as a test citizen", "issuer", *issuer)
	<-ctx.Done()
	return r.Shutdown()
}
