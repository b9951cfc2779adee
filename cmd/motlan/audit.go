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
	"time"

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/server"
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
	dep := deploymentFlags(fs)
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
	st, err := openAdminStore(ctx, dep)
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
	// Records written with their acts wait for a running server to seal them into the
	// chain; they are stored, not lost.
	if pending, oldest, err := st.PendingAudit(ctx); err != nil {
		return err
	} else if pending > 0 {
		fmt.Fprintf(out, "  pending  %d records written with their acts, not yet chained (oldest %s)\n", pending, oldest.Format(time.RFC3339))
	}
	return nil
}

// openAdminStore opens the deployment's store.
func openAdminStore(ctx context.Context, dep *deployment) (*sqlstore.Store, error) {
	env, err := openAdmin(ctx, dep, false)
	if err != nil {
		return nil, err
	}
	return env.st, nil
}

// adminEnv is what an operator command works with: the deployment's configuration and
// master key (when asked for), a quiet logger, and its store, open.
type adminEnv struct {
	cfg       config.Config
	masterKey []byte
	log       *slog.Logger
	st        *sqlstore.Store
}

// openAdmin loads the deployment and opens its store; the caller closes env.st.
func openAdmin(ctx context.Context, dep *deployment, withKey bool) (*adminEnv, error) {
	cfg, masterKey, err := dep.load(withKey)
	if err != nil {
		return nil, err
	}
	log := server.NewLogger(config.Log{Level: "warn", Format: cfg.Log.Format})
	st, err := server.OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	return &adminEnv{cfg: cfg, masterKey: masterKey, log: log, st: st}, nil
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
