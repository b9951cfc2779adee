package server

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/signing/httpapi"
	"github.com/motlan/motlan/signing/render"
)

// maxLogoBytes bounds a logo file inlined into every approval page.
const maxLogoBytes = 64 << 10

// branding is the approval pages' look from the config: a logo file is read once and
// inlined as a data: URI, so the pages' CSP allows no other origin for it.
func branding(b config.Branding) (httpapi.Branding, error) {
	out := httpapi.Branding{Name: b.Name, NameEN: b.NameEN, Primary: b.Colors.Primary, OnPrimary: b.Colors.OnPrimary}
	switch {
	case b.Logo == "":
	case strings.HasPrefix(b.Logo, "https://"):
		out.Logo = template.URL(b.Logo)
	default:
		mime, ok := map[string]string{".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}[strings.ToLower(filepath.Ext(b.Logo))]
		if !ok {
			return out, fmt.Errorf("branding.logo: %s is not a .png, .svg or .jpg file", b.Logo)
		}
		data, err := os.ReadFile(b.Logo)
		if err != nil {
			return out, fmt.Errorf("branding.logo: %w", err)
		}
		if len(data) > maxLogoBytes {
			return out, fmt.Errorf("branding.logo: %s is over %d KB", b.Logo, maxLogoBytes>>10)
		}
		out.Logo = template.URL("data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(data))
	}
	return out, nil
}

// pageRenderer is pdftoppm for the approval page's page images; nil (the page then links
// the PDF and says why) when it is off or not installed.
func pageRenderer(r config.Render, log *slog.Logger) httpapi.PageRenderer {
	if r.Pdftoppm == "off" {
		return nil
	}
	p, err := render.New(render.Config{Path: r.Pdftoppm, DPI: r.DPI, MaxPages: r.MaxPages, Timeout: time.Duration(r.Timeout)})
	if err != nil {
		log.Warn("approval page images are off: pdftoppm (Debian package poppler-utils) not found", "err", err)
		return nil
	}
	return p
}

// returnOrigins are where each client's signing return_url may point: its redirect URIs'
// origins.
func returnOrigins(clients []config.Client) httpapi.ReturnOrigins {
	out := httpapi.ReturnOrigins{}
	for _, c := range clients {
		out[c.ID] = httpapi.OriginsOf(c.RedirectURIs)
	}
	return out
}
