package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/motlan/motlan/internal/server"
	"github.com/motlan/motlan/signing/ltv"
)

func cmdExtend(ctx context.Context, args []string) error {
	return extend(ctx, args, os.Stdout)
}

// extend takes a signed PDF to B-LT or B-LTA with the evidence of the CA and TSA the
// configuration (or motlan dev's data directory) names: the archive's job, offline from
// any running server.
func extend(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("extend", flag.ContinueOnError)
	dep := deploymentFlags(fs)
	level := fs.String("level", string(ltv.LevelLTA), "B-LT (add validation evidence) or B-LTA (then a document timestamp)")
	output := fs.String("o", "", "where to write the extended PDF (required; not the input)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: motlan extend (--config FILE | --dev [--data DIR]) [--level B-LT|B-LTA] IN.pdf -o OUT.pdf")
		fs.PrintDefaults()
	}
	// Flags may come after the input file too.
	var inputs []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		inputs = append(inputs, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	switch {
	case len(inputs) != 1:
		return errors.New("extend: give exactly one input PDF")
	case *output == "":
		return errors.New("extend: -o OUT.pdf is required")
	case ltv.Level(*level) != ltv.LevelLT && ltv.Level(*level) != ltv.LevelLTA:
		return fmt.Errorf("--level %q: want B-LT or B-LTA", *level)
	}
	in := inputs[0]
	if a, b := absPath(in), absPath(*output); a == b {
		return errors.New("extend: -o must differ from the input: the input is kept as it is")
	}
	pdf, err := os.ReadFile(in)
	if err != nil {
		return err
	}

	env, err := openAdmin(ctx, dep, true)
	if err != nil {
		return err
	}
	defer env.st.Close()
	cfg, masterKey, log, st := env.cfg, env.masterKey, env.log, env.st
	ext, err := server.OpenExtender(ctx, cfg, st, masterKey, log)
	if err != nil {
		return err
	}
	extended, err := ext.Extend(ctx, pdf, ltv.Level(*level))
	switch {
	case errors.Is(err, ltv.ErrNotSigned):
		return fmt.Errorf("%s has no signature to extend", in)
	case errors.Is(err, ltv.ErrInvalidPDF):
		return fmt.Errorf("%s is not a readable PDF: %w", in, err)
	case err != nil:
		return err
	}
	if err := writeFileAtomic(*output, extended); err != nil {
		return err
	}
	fmt.Fprintf(out, "extended %s to %s: %d bytes added, written to %s\n", in, *level, len(extended)-len(pdf), *output)
	return nil
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// writeFileAtomic writes to a temporary file beside path, then renames it: a reader never
// sees half a PDF.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".motlan-extend-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
