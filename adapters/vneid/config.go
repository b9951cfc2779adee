package vneid

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DefaultTimeout bounds each upstream round: discovery, or one Exchange (token, keys,
// userinfo together).
const DefaultTimeout = 10 * time.Second

// Config configures a Connector. Zero values take the defaults documented per field.
type Config struct {
	// Issuer is the eID's issuer URL; discovery reads Issuer/.well-known/openid-configuration
	// and its "issuer" must equal it exactly. https, except on a loopback host or with
	// InsecureAllowHTTP.
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is the broker's callback registered at the eID.
	RedirectURL string
	// Scopes requested; must include "openid". Default: openid profile.
	Scopes []string
	// ClaimMap maps upstream claim names to Motlan attribute names. Default:
	// DefaultClaimMap(). Two upstream claims may not map to one attribute. Besides
	// attributes it may name the sources of verification metadata: "<attribute>_verified"
	// (a boolean; default source "<upstream claim>_verified") and "updated_at" (seconds;
	// default source "updated_at").
	ClaimMap map[string]string
	// LevelClaim names the claim that states the eID level: "" or "acr" (the ID token's
	// acr), "amr" (the highest level any of its values maps to), or any other claim of
	// the ID token or userinfo (a string, a number or an array of strings), such as
	// "eid_level". Its values go through ACRMap.
	LevelClaim string
	// ACRMap maps the level claim's values (URIs allowed) to Motlan levels "1" or "2".
	// Default: DefaultACRMap(). A string or number not in the map fails the login
	// (ErrInvalidResponse): an unknown level is never guessed. A missing level claim is
	// level "1". AuthCodeURL sends, for a requested level, the upstream value mapped to it
	// (the smallest, when several are) as acr_values.
	ACRMap map[string]string
	// GenderMap rewrites the value of the "gender" attribute (upstream value -> OpenID
	// Connect gender). Default: DefaultGenderMap(). Values not in the map pass unchanged.
	GenderMap map[string]string
	// HTTPClient for every upstream call. Default: a client of its own with keep-alives.
	// Its Timeout, if any, applies per request; Timeout below applies per round.
	HTTPClient *http.Client
	// Now is the clock for token expiry. Default: time.Now.
	Now func() time.Time
	// Logger; Default: discard. Nothing personal is ever logged.
	Logger *slog.Logger
	// Timeout bounds discovery and each Exchange. Default: DefaultTimeout.
	Timeout time.Duration
	// InsecureAllowHTTP allows an http Issuer on a non-loopback host (development
	// networks such as containers). Never in production.
	InsecureAllowHTTP bool
}

// DefaultClaimMap maps the dev eID's claim names (package sim) to Motlan's attributes.
func DefaultClaimMap() map[string]string {
	return map[string]string{
		"so_dinh_danh":   "cccd",
		"ho_va_ten":      "name",
		"ho":             "family_name",
		"chu_dem":        "middle_name",
		"ten":            "given_name",
		"ngay_sinh":      "birthdate",
		"gioi_tinh":      "gender",
		"quoc_tich":      "nationality",
		"que_quan":       "place_of_origin",
		"noi_thuong_tru": "address",
		"so_dien_thoai":  "phone_number",
	}
}

// DefaultACRMap is the identity on the eID's two account levels.
func DefaultACRMap() map[string]string { return map[string]string{"1": "1", "2": "2"} }

// DefaultGenderMap turns the eID's "Nam"/"Nữ" into OpenID Connect's "male"/"female".
func DefaultGenderMap() map[string]string {
	return map[string]string{"Nam": "male", "Nữ": "female", "male": "male", "female": "female"}
}

// Validate reports the first problem with cfg; zero values that have defaults are fine.
func (cfg *Config) Validate() error {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("vneid: Issuer must be an absolute URL without query or fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !cfg.InsecureAllowHTTP && !isLoopback(u.Hostname()) {
			return errors.New("vneid: Issuer must use https (InsecureAllowHTTP for development)")
		}
	default:
		return errors.New("vneid: Issuer must be an http(s) URL")
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return errors.New("vneid: ClientID and ClientSecret are required")
	}
	if r, err := url.Parse(cfg.RedirectURL); err != nil || !r.IsAbs() || r.Fragment != "" {
		return errors.New("vneid: RedirectURL must be an absolute URL without fragment")
	}
	if cfg.Scopes != nil && !slices.Contains(cfg.Scopes, "openid") {
		return errors.New("vneid: Scopes must include openid")
	}
	seen := make(map[string]string, len(cfg.ClaimMap))
	for up, motlan := range cfg.ClaimMap {
		if up == "" || motlan == "" {
			return errors.New("vneid: ClaimMap has an empty name")
		}
		if prev, dup := seen[motlan]; dup {
			return fmt.Errorf("vneid: ClaimMap maps both %q and %q to %q", prev, up, motlan)
		}
		seen[motlan] = up
	}
	for up, level := range cfg.ACRMap {
		if up == "" || strings.ContainsAny(up, " \t\r\n") {
			return errors.New("vneid: ACRMap has an empty value or one with spaces (acr_values are space-separated)")
		}
		if level != "1" && level != "2" {
			return fmt.Errorf("vneid: ACRMap[%q] must be \"1\" or \"2\"", up)
		}
	}
	if cfg.Timeout < 0 {
		return errors.New("vneid: Timeout must not be negative")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// withDefaults returns cfg with every default filled in; maps are copied so that a caller
// changing its maps later cannot race with logins.
func (cfg Config) withDefaults() Config {
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"openid", "profile"}
	} else {
		cfg.Scopes = slices.Clone(cfg.Scopes)
	}
	cfg.ClaimMap = cloneOr(cfg.ClaimMap, DefaultClaimMap)
	cfg.ACRMap = cloneOr(cfg.ACRMap, DefaultACRMap)
	cfg.GenderMap = cloneOr(cfg.GenderMap, DefaultGenderMap)
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = NewHTTPClient(cfg.Timeout)
	}
	return cfg
}

// NewHTTPClient is the default Config.HTTPClient: keep-alives for many concurrent logins,
// and timeout per request. Callers that instrument upstream calls wrap its Transport.
func NewHTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.ResponseHeaderTimeout = timeout
	return &http.Client{Transport: t, Timeout: timeout}
}

func cloneOr(m map[string]string, def func() map[string]string) map[string]string {
	if m == nil {
		return def()
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
