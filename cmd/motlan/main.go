// Command motlan runs Motlan: the OpenID Connect broker for the national eID and, in
// development, the dev eID beside it.
//
//	motlan dev                 everything on embedded defaults (SQLite, generated keys, dev eID)
//	motlan serve --config F    production, from a YAML file (README documents every key)
//	motlan eid                 the dev eID alone
//	motlan migrate --config F  apply database migrations and exit
//	motlan verify FILE.pdf     report on every signature of a PDF
//	motlan revoke --serial H   revoke a citizen's certificate (--config F or --dev)
//	motlan extend IN -o OUT    take a signed PDF to B-LT or B-LTA (--config F or --dev)
//	motlan audit verify        prove the audit log's hash chain unbroken (--config F or --dev)
//	motlan check-config F      validate a configuration file
//	motlan portal              the demo portal alone, against a running Motlan
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: motlan <command> [flags]

commands:
  dev            run Motlan, the dev eID and the demo portal on embedded defaults
  serve          run Motlan from a configuration file (--config)
  eid            run the dev eID alone
  migrate        apply database migrations (--config) and exit
  verify         check the signatures of signed PDFs (JSON report)
  revoke         revoke a citizen's certificate (--config or --dev, --serial, --reason)
  extend         take a signed PDF to B-LT or B-LTA (--config or --dev, --level, IN.pdf -o OUT.pdf)
  audit verify   prove the audit log unbroken, or name its first bad record (--config or --dev)
  check-config   validate a configuration file and exit
  portal         run the demo portal alone, against a running Motlan

run "motlan <command> -h" for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "dev":
		tuneGC()
		err = cmdDev(ctx, args)
	case "serve":
		tuneGC()
		err = cmdServe(ctx, args)
	case "eid":
		err = cmdEID(ctx, args)
	case "migrate":
		err = cmdMigrate(ctx, args)
	case "verify":
		err = cmdVerify(ctx, args)
	case "revoke":
		err = cmdRevoke(ctx, args)
	case "extend":
		err = cmdExtend(ctx, args)
	case "audit":
		err = cmdAudit(ctx, args)
	case "check-config":
		err = cmdCheckConfig(args)
	case "portal":
		err = cmdPortal(ctx, args)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "motlan: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "motlan:", err)
		os.Exit(1)
	}
}
