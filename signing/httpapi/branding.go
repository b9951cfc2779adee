package httpapi

import (
	"html/template"
	"regexp"
	"strings"
)

// Branding is how the approval pages look in a deployment: the portal's or province's
// name and logo, and the colours. Motlan's own name is only in the small print.
type Branding struct {
	Name      string       // shown in the header and the title; "" : "Cổng Dịch vụ công"
	NameEN    string       // the English name; "": Name
	Logo      template.URL // an https URL, a path on this site, or a data: URI; "": none
	Primary   string       // "#rrggbb": header and main buttons; "": #b3261e
	OnPrimary string       // text on Primary; "": #ffffff
}

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// ValidColor reports whether s is a colour the pages accept: #rgb or #rrggbb.
func ValidColor(s string) bool { return hexColor.MatchString(s) }

func (b Branding) withDefaults() Branding {
	if b.Name == "" {
		b.Name = "Cổng Dịch vụ công"
	}
	if b.NameEN == "" {
		b.NameEN = b.Name
	}
	if !ValidColor(b.Primary) {
		b.Primary = "#b3261e"
	}
	if !ValidColor(b.OnPrimary) {
		b.OnPrimary = "#ffffff"
	}
	return b
}

func (b Branding) name(lang string) string {
	if lang == "en" {
		return b.NameEN
	}
	return b.Name
}

// logoSource is the logo's origin for the pages' img-src, when it is on another site.
func (a *API) logoSource() string {
	if o := originOf(string(a.brand.Logo)); strings.HasPrefix(o, "https://") {
		return " " + o
	}
	return ""
}
