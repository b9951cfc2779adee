package render_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image/png"
	"testing"
	"time"

	"github.com/motlan/motlan/internal/testpdf"
	"github.com/motlan/motlan/signing/render"
)

// TestPdftoppm draws real PDFs' pages with poppler: PNGs within the bounds, the same
// bytes from the cache, no page past the limit or the end, and no renderer without
// the program.
func TestPdftoppm(t *testing.T) {
	testpdf.Need(t, "pdftoppm")
	r, err := render.New(render.Config{DPI: 72, MaxPages: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, s := range testpdf.Producers(t) {
		sum := sha256.Sum256(s.Data)
		key := hex.EncodeToString(sum[:])
		img, err := r.Page(ctx, key, s.Data, 1)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(img))
		if err != nil || cfg.Width < 100 || cfg.Height < 100 || cfg.Width > 2400 || cfg.Height > 2400 {
			t.Fatalf("%s: page 1 is %dx%d (%v)", s.Name, cfg.Width, cfg.Height, err)
		}
		again, err := r.Page(ctx, key, nil, 1) // cached: the PDF is not read again
		if err != nil || !bytes.Equal(again, img) {
			t.Fatalf("%s: cached page differs (%v)", s.Name, err)
		}
	}
	one := testpdf.Producers(t)[0].Data
	for _, page := range []int{0, 4, -1} {
		if _, err := r.Page(ctx, "x", one, page); !errors.Is(err, render.ErrNoPage) {
			t.Errorf("page %d: %v, want ErrNoPage", page, err)
		}
	}
	small, err := render.New(render.Config{DPI: 300, MaxBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.Page(ctx, "y", one, 1); err == nil {
		t.Error("an image over MaxBytes was returned")
	}
	slow, err := render.New(render.Config{Timeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := slow.Page(ctx, "z", one, 1); err == nil {
		t.Error("a render past its timeout succeeded")
	}
	if _, err := render.New(render.Config{Path: "/nonexistent/pdftoppm"}); err == nil {
		t.Error("a missing pdftoppm gave a renderer")
	}
}
