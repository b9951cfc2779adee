// Package render draws PDF pages as PNG images with poppler's pdftoppm, so a citizen can
// read on a phone what they are asked to sign without a PDF viewer. It is bounded: pages
// per document, resolution, pixels, output size and time, and it caches by document hash.
package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// Defaults of Config.
const (
	DefaultDPI      = 110
	DefaultMaxPages = 20
	DefaultTimeout  = 10 * time.Second
	DefaultMaxBytes = 4 << 20
	defaultCache    = 256
	maxPixels       = 2400 // the crop box's side: no page image is larger
)

// ErrNoPage is a page number outside 1..MaxPages or past the document's end.
var ErrNoPage = errors.New("render: no such page")

// Config configures the renderer.
type Config struct {
	Path     string        // pdftoppm's path; "" looks it up on PATH
	DPI      int           // 0: DefaultDPI
	MaxPages int           // pages of one document that can be drawn; 0: DefaultMaxPages
	Timeout  time.Duration // per page; 0: DefaultTimeout
	MaxBytes int64         // one image's size; 0: DefaultMaxBytes
	Cache    int           // images kept in memory; 0: 256
}

// Pdftoppm renders with the pdftoppm program.
type Pdftoppm struct {
	cfg Config

	mu    sync.Mutex
	cache map[string][]byte
	order []string // insertion order, for eviction
}

// New finds pdftoppm; an error when it is not there, so callers fall back to a link.
func New(cfg Config) (*Pdftoppm, error) {
	if cfg.Path == "" {
		cfg.Path = "pdftoppm"
	}
	p, err := exec.LookPath(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("render: pdftoppm: %w", err)
	}
	cfg.Path = p
	if cfg.DPI <= 0 {
		cfg.DPI = DefaultDPI
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = DefaultMaxPages
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Cache <= 0 {
		cfg.Cache = defaultCache
	}
	return &Pdftoppm{cfg: cfg, cache: map[string][]byte{}}, nil
}

// MaxPages is how many pages of a document can be drawn.
func (p *Pdftoppm) MaxPages() int { return p.cfg.MaxPages }

// Page draws page (1-based) of pdf, whose hex SHA-256 is sum, as a PNG.
func (p *Pdftoppm) Page(ctx context.Context, sum string, pdf []byte, page int) ([]byte, error) {
	if page < 1 || page > p.cfg.MaxPages {
		return nil, ErrNoPage
	}
	key := sum + "/" + strconv.Itoa(page)
	p.mu.Lock()
	img, ok := p.cache[key]
	p.mu.Unlock()
	if ok {
		return img, nil
	}
	img, err := p.run(ctx, pdf, page)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.cache[key]; !ok {
		p.cache[key] = img
		p.order = append(p.order, key)
		for len(p.order) > p.cfg.Cache {
			delete(p.cache, p.order[0])
			p.order = p.order[1:]
		}
	}
	return img, nil
}

func (p *Pdftoppm) run(ctx context.Context, pdf []byte, page int) ([]byte, error) {
	f, err := os.CreateTemp("", "motlan-render-*.pdf")
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(pdf); err != nil {
		f.Close()
		return nil, fmt.Errorf("render: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	n := strconv.Itoa(page)
	px := strconv.Itoa(maxPixels)
	// -singlefile without an output root writes the PNG to stdout; -W/-H crop to a bound.
	cmd := exec.CommandContext(ctx, p.cfg.Path, "-png", "-r", strconv.Itoa(p.cfg.DPI), "-f", n, "-l", n,
		"-x", "0", "-y", "0", "-W", px, "-H", px, "-singlefile", f.Name())
	out := &capped{max: p.cfg.MaxBytes}
	cmd.Stdout, cmd.Stderr = out, &capped{max: 4 << 10}
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	err = cmd.Run()
	switch {
	case out.over:
		return nil, fmt.Errorf("render: page %d is over %d bytes", page, p.cfg.MaxBytes)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("render: page %d: %w", page, ctx.Err())
	case err != nil:
		return nil, fmt.Errorf("render: page %d: %w", page, err)
	case out.buf.Len() == 0:
		return nil, ErrNoPage // pdftoppm draws nothing past the last page
	}
	return out.buf.Bytes(), nil
}

// capped keeps at most max bytes and then fails the write, which stops the program.
type capped struct {
	buf  bytes.Buffer
	max  int64
	over bool
}

func (c *capped) Write(b []byte) (int, error) {
	if int64(c.buf.Len()+len(b)) > c.max {
		c.over = true
		return 0, errors.New("render: output too large")
	}
	return c.buf.Write(b)
}
