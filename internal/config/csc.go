package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// CSC is a licensed CA's remote signing service (CSC API v2.0), used when
// signing.provider is "csc". See README "Connecting Motlan to a licensed CA".
type CSC struct {
	// BaseURL is the provider's CSC API root, the part before /info.
	BaseURL string `yaml:"base_url"`
	// TokenURL, ClientID and ClientSecret: Motlan's OAuth 2.0 client at the provider
	// (client_credentials). No token_url: the provider authenticates Motlan by mutual TLS.
	TokenURL     string   `yaml:"token_url"`
	ClientID     string   `yaml:"client_id"`
	ClientSecret Secret   `yaml:"client_secret"`
	Scopes       []string `yaml:"scopes"` // default [service]
	// UserID is sent as credentials/list userID: "{cccd}" or "{id}" are replaced; empty:
	// none. The credential used is always the one whose certificate subject carries
	// UID=CCCD:<the citizen's number>.
	UserID      string   `yaml:"user_id"`
	Description string   `yaml:"description"` // credentials/authorize description, shown in the CA's app
	Timeout     Duration `yaml:"timeout"`     // per call; default 30s
	// CAFile holds PEM roots for the provider's TLS certificate; empty: the system roots.
	CAFile string `yaml:"ca_file"`
	// ClientCertFile and ClientKeyFile: a TLS client certificate, for mutual TLS.
	ClientCertFile string `yaml:"client_cert_file"`
	ClientKeyFile  string `yaml:"client_key_file"`
	// TrustRootsFile holds PEM roots (and intermediates) of the CA that issues citizens'
	// certificates: B-LT/B-LTA collect their revocation data, and verification trusts them.
	TrustRootsFile string `yaml:"trust_roots_file"`
}

// validateProvider checks signing.provider and, for csc, its section.
func (s Signing) validateProvider() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf("signing."+format, a...)) }
	switch s.Provider {
	case "", "local":
		if s.CSC != nil {
			add("csc: set only with provider: csc")
		}
		return errs
	case "csc":
	default:
		return []error{fmt.Errorf("signing.provider: %q is not local or csc", s.Provider)}
	}
	c := s.CSC
	if c == nil {
		return []error{fmt.Errorf("signing.csc: required with provider: csc")}
	}
	if u, err := url.Parse(c.BaseURL); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname()))) {
		add("csc.base_url: %q must be an https URL (http only on loopback)", c.BaseURL)
	}
	if c.TokenURL != "" {
		if u, err := url.Parse(c.TokenURL); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname()))) {
			add("csc.token_url: %q must be an https URL (http only on loopback)", c.TokenURL)
		}
		if c.ClientID == "" || !c.ClientSecret.set() {
			add("csc: token_url needs client_id and client_secret")
		}
	}
	if err := c.ClientSecret.validate("signing.csc.client_secret"); c.ClientSecret.set() && err != nil {
		errs = append(errs, err)
	}
	if (c.ClientCertFile == "") != (c.ClientKeyFile == "") {
		add("csc: set both client_cert_file and client_key_file, or neither")
	}
	if c.TokenURL == "" && c.ClientCertFile == "" {
		add("csc: set token_url (OAuth 2.0) or client_cert_file (mutual TLS): the provider must know Motlan")
	}
	if r := strings.NewReplacer("{cccd}", "", "{id}", "").Replace(c.UserID); strings.ContainsAny(r, "{}") {
		add("csc.user_id: %q may hold only {cccd} and {id}", c.UserID)
	}
	if d := time.Duration(c.Timeout); d < 0 || d > 5*time.Minute {
		add("csc.timeout: %v is not between 0 and 5m", d)
	}
	for name, f := range map[string]string{"ca_file": c.CAFile, "trust_roots_file": c.TrustRootsFile, "client_cert_file": c.ClientCertFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			add("csc.%s: %v", name, err)
		}
	}
	return errs
}
