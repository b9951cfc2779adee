package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/motlan/motlan/signing/verify"
)

// cmdVerify prints the verification report of signed PDFs as JSON. Trust comes from a root
// certificate file, or from a running Motlan's dev CA (--issuer).
func cmdVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	rootFile := fs.String("root", "", "trusted root certificate (PEM or DER file)")
	issuer := fs.String("issuer", "http://localhost:8080", "a running Motlan whose /ca/root.crt to trust when --root is not given")
	at := fs.String("at", "", "validation time, RFC 3339 (default now); a past or future time is validated with the file's evidence only")
	requireRev := fs.Bool("require-revocation", false, "missing revocation evidence makes a signature INDETERMINATE (TRY_LATER or REVOCATION_OUT_OF_BOUNDS_NO_POE) instead of a warning")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: motlan verify [--root FILE | --issuer URL] [--at RFC3339] [--require-revocation] FILE.pdf...")
	}
	root, err := loadRoot(ctx, *rootFile, *issuer)
	if err != nil {
		return err
	}
	// Trust comes from the root alone; revocation evidence only from the files (the DSS,
	// the CMS): verify never fetches OCSP or CRLs.
	opts := verify.Options{Roots: x509.NewCertPool(), RequireRevocation: *requireRev}
	opts.Roots.AddCert(root)
	if *at != "" {
		if opts.At, err = time.Parse(time.RFC3339, *at); err != nil {
			return fmt.Errorf("--at: %w", err)
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	failed := false
	for _, path := range fs.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rep, err := verify.Verify(ctx, bytes.NewReader(data), int64(len(data)), opts)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := enc.Encode(map[string]any{"file": path, "report": rep}); err != nil {
			return err
		}
		for _, s := range rep.Signatures {
			failed = failed || s.Indication != verify.TotalPassed
		}
		failed = failed || len(rep.Signatures) == 0
	}
	if failed {
		return errors.New("not every signature passed")
	}
	return nil
}

func loadRoot(ctx context.Context, file, issuer string) (*x509.Certificate, error) {
	var raw []byte
	var err error
	if file != "" {
		raw, err = os.ReadFile(file)
	} else {
		raw, err = fetch(ctx, strings.TrimSuffix(issuer, "/")+"/ca/root.crt")
	}
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	if b, _ := pem.Decode(raw); b != nil {
		raw = b.Bytes
	}
	return x509.ParseCertificate(raw)
}

func fetch(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}
