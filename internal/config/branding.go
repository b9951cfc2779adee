package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Branding is how the citizen-facing signing pages look in this deployment: the portal's
// or province's name and logo and its colours; Motlan's name stays in the small print.
type Branding struct {
	Name   string `yaml:"name"`    // e.g. "Cổng Dịch vụ công tỉnh Thanh Hóa"; "": "Cổng Dịch vụ công"
	NameEN string `yaml:"name_en"` // the English name; "": Name
	// Logo is an https URL, or a PNG/SVG/JPEG file's path that Motlan reads at start and
	// inlines (a data: URI, so the pages' CSP needs no other origin); "": none.
	Logo   string         `yaml:"logo"`
	Colors BrandingColors `yaml:"colors"`
}

// BrandingColors are #rgb or #rrggbb colours.
type BrandingColors struct {
	Primary   string `yaml:"primary"`    // header and main buttons; "": #b3261e
	OnPrimary string `yaml:"on_primary"` // text on primary; "": #ffffff
}

// Render draws the approval page's page images with poppler's pdftoppm.
type Render struct {
	// Pdftoppm is the program's path; "": found on PATH; "off": no page images (the page
	// then says so and links the PDF).
	Pdftoppm string   `yaml:"pdftoppm"`
	DPI      int      `yaml:"dpi"`       // 0: 110
	MaxPages int      `yaml:"max_pages"` // per document; 0: 20
	Timeout  Duration `yaml:"timeout"`   // per page; 0: 10s
}

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

func (b Branding) validate() []error {
	var errs []error
	for k, v := range map[string]string{"branding.colors.primary": b.Colors.Primary, "branding.colors.on_primary": b.Colors.OnPrimary} {
		if v != "" && !hexColor.MatchString(v) {
			errs = append(errs, fmt.Errorf("%s: %q is not a #rgb or #rrggbb colour", k, v))
		}
	}
	if len(b.Name) > 200 || len(b.NameEN) > 200 {
		errs = append(errs, fmt.Errorf("branding.name: at most 200 bytes"))
	}
	if strings.Contains(b.Logo, "://") {
		if u, err := url.Parse(b.Logo); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("branding.logo: %q must be an https URL or a file path", b.Logo))
		}
	}
	return errs
}

func (r Render) validate() []error {
	var errs []error
	if r.DPI < 0 || r.DPI > 300 {
		errs = append(errs, fmt.Errorf("render.dpi: %d is not between 1 and 300", r.DPI))
	}
	if r.MaxPages < 0 || r.MaxPages > 200 {
		errs = append(errs, fmt.Errorf("render.max_pages: %d is not between 1 and 200", r.MaxPages))
	}
	if t := time.Duration(r.Timeout); t < 0 || t > time.Minute {
		errs = append(errs, fmt.Errorf("render.timeout: %v is not up to 1m", t))
	}
	return errs
}
