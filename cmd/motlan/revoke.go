package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"time"

	"github.com/motlan/motlan/internal/audit"
	"github.com/motlan/motlan/internal/server"
	"github.com/motlan/motlan/keys/ca"
)

func parseReason(s string) (int, error) {
	code, err := ca.ParseReason(s)
	if err != nil {
		return 0, fmt.Errorf("--reason %q: %w", s, err)
	}
	return code, nil
}

func reasonName(code int) string { return ca.ReasonName(code) }

// parseSerial reads a certificate serial number in hex (ca.ParseSerial).
func parseSerial(s string) (*big.Int, error) {
	n, err := ca.ParseSerial(s)
	if err != nil {
		return nil, fmt.Errorf("--serial %q: want the certificate's serial number in hex", s)
	}
	return n, nil
}

func cmdRevoke(ctx context.Context, args []string) error {
	return revoke(ctx, args, os.Stdout)
}

func revoke(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("revoke", flag.ContinueOnError)
	dep := deploymentFlags(fs)
	serialFlag := fs.String("serial", "", "serial number (hex) of the citizen certificate to revoke")
	reasonFlag := fs.String("reason", "unspecified", "unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation")
	atFlag := fs.String("at", "", "revocation date, RFC 3339 (default now; may lie in the past)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: motlan revoke (--config FILE | --dev [--data DIR]) --serial HEX [--reason REASON] [--at RFC3339]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("revoke: unexpected argument %q", fs.Arg(0))
	}
	if *serialFlag == "" {
		return errors.New("revoke: --serial is required")
	}
	serial, err := parseSerial(*serialFlag)
	if err != nil {
		return err
	}
	reason, err := parseReason(*reasonFlag)
	if err != nil {
		return err
	}
	var at time.Time
	if *atFlag != "" {
		if at, err = time.Parse(time.RFC3339, *atFlag); err != nil {
			return fmt.Errorf("--at %q: want an RFC 3339 time like 2026-01-02T15:04:05Z", *atFlag)
		}
	}

	env, err := openAdmin(ctx, dep, true)
	if err != nil {
		return err
	}
	defer env.st.Close()
	cfg, masterKey, log, st := env.cfg, env.masterKey, env.log, env.st
	devCA, err := server.OpenCA(ctx, cfg, st, masterKey, log)
	if err != nil {
		return err
	}
	cert, rev, err := devCA.RevokeCertificate(ctx, serial, reason, at)
	switch {
	case errors.Is(err, ca.ErrUnknownCertificate):
		return fmt.Errorf("no certificate with serial %x was issued by this CA", serial)
	case errors.Is(err, ca.ErrAlreadyRevoked) && rev.Serial != nil:
		return fmt.Errorf("certificate %x is already revoked (%s, %s); a revocation is final",
			serial, reasonName(rev.Reason), rev.RevokedAt.Format(time.RFC3339))
	case errors.Is(err, ca.ErrAlreadyRevoked):
		return fmt.Errorf("certificate %x is already revoked; a revocation is final", serial)
	case err != nil:
		return err
	}
	logAdmin(ctx, st, log, audit.KindRevoke, map[string]any{"serial": fmt.Sprintf("%x", serial), "reason": reasonName(rev.Reason), "at": rev.RevokedAt.UTC().Format(time.RFC3339)})
	fmt.Fprintf(out, "revoked certificate %x\n  subject  %s\n  reason   %s\n  at       %s\n",
		serial, cert.Subject.CommonName, reasonName(rev.Reason), rev.RevokedAt.Format(time.RFC3339))
	fmt.Fprintf(out, "CRL (%s) and OCSP (%s) report it within %s on every server.\n",
		devCA.CRLURL(), devCA.OCSPURL(), ca.DefaultRefreshInterval)
	return nil
}
