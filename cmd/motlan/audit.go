package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/server"
	"github.com/motlan/motlan/keys"
)

func cmdAudit(ctx context.Context, args []string) error {
	return auditCmd(ctx, args, os.Stdout)
}

const auditUsage = "usage: motlan audit verify (--config FILE | --dev [--data DIR] [--store sqlite|postgres])"

// auditCmd runs "motlan audit verify": it walks the whole audit log, checks every
// record's seq, link and hash and the head, and fails naming the first bad record.
func auditCmd(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New(auditUsage)
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	path := fs.String("config", "", "configuration file (as for motlan serve)")
	dev := fs.Bool("dev", false, "act on a motlan dev data directory (--data) instead of --config")
	data := fs.String("data", ".motlan-dev", "with --dev: motlan dev's data directory")
	storeKind := fs.String("store", "sqlite", "with --dev: the store motlan dev ran with, sqlite or postgres ($MOTLAN_DEV_POSTGRES_DSN)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), auditUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("audit verify: unexpected argument %q", fs.Arg(0))
	}
	st, err := openAdminStore(ctx, *path, *dev, *data, *storeKind)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	n, err := audit.Verify(ctx, st)
	var bad *audit.BadRecord
	if errors.As(err, &bad) {
		fmt.Fprintf(out, "audit log BROKEN at record %d: %s\n  %s\n", bad.Seq, bad.Reason, bad.Detail)
		if recs, lerr := st.ListAudit(ctx, bad.Seq-1, 1); lerr == nil && len(recs) == 1 && recs[0].Seq == bad.Seq {
			r := recs[0]
			fmt.Fprintf(out, "  record   %d %s %s by %s\n  details  %s\n  prev     %s\n  hash     %s\n",
				r.Seq, r.At.Format(time.RFC3339Nano), r.Kind, r.Actor, r.Details, r.PrevHash, r.Hash)
		}
		fmt.Fprintf(out, "%d records before it verified.\n", n)
		return fmt.Errorf("audit log broken at record %d (%s)", bad.Seq, bad.Reason)
	}
	if err != nil {
		return err
	}
	seq, hash, err := st.AuditHead(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "audit log verified: %d records, unbroken (%s)\n  head  %d %s\n", n, time.Since(start).Round(time.Millisecond), seq, hash)
	return nil
}

// openAdminStore opens the store of a config file, or of a motlan dev data directory, as
// motlan revoke does.
func openAdminStore(ctx context.Context, path string, dev bool, data, storeKind string) (*sqlstore.Store, error) {
	var cfg config.Config
	switch {
	case dev && path != "":
		return nil, errors.New("give --config or --dev, not both")
	case dev:
		masterKey, err := keys.LoadMasterKey("", filepath.Join(data, "master.key"))
		if err != nil {
			return nil, fmt.Errorf("--data %s: %w (has motlan dev run there?)", data, err)
		}
		cfg = server.DevConfig(data, server.DevPorts{Motlan: "localhost:8080", EID: "localhost:8081", Portal: "localhost:8082"}, masterKey)
		switch storeKind {
		case "sqlite":
			if _, err := os.Stat(cfg.Storage.DSN.Value); err != nil {
				return nil, fmt.Errorf("--data %s: %w (has motlan dev run there?)", data, err)
			}
		case "postgres":
			cfg.Storage = config.Storage{Driver: "postgres", DSN: config.Secret{Env: "MOTLAN_DEV_POSTGRES_DSN"}}
		default:
			return nil, fmt.Errorf("--store %q: want sqlite or postgres", storeKind)
		}
	case path != "":
		var err error
		if cfg, err = config.Load(path); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("--config FILE or --dev is required")
	}
	return server.OpenStore(ctx, cfg, server.NewLogger(config.Log{Level: "warn", Format: cfg.Log.Format}))
}

// adminActor names the operator running a command, for the audit log.
func adminActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return audit.Admin(u.Username)
	}
	return audit.Admin("unknown")
}

// logAdmin records an operator's act in the audit log; a failure is logged (the act is
// done by then).
func logAdmin(ctx context.Context, st *sqlstore.Store, log *slog.Logger, kind string, details any) {
	l, err := audit.New(audit.Config{Store: st, Logger: log})
	if err != nil {
		log.ErrorContext(ctx, "audit", "err", err)
		return
	}
	l.Log(ctx, audit.Event{Kind: kind, Actor: adminActor(), Details: details})
}
