package csc

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/signing"
	wire "github.com/motlan/motlan/signing/csc"
)

// Config configures New.
type Config struct {
	// BaseURL is the provider's CSC API root, the part before "/info", for example
	// https://rssp.example.vn/csc/v2.
	BaseURL string
	// TokenURL, ClientID and ClientSecret are Motlan's OAuth 2.0 client at the provider
	// (client_credentials, the service authorisation). Empty TokenURL: no token is sent
	// (a provider that authenticates Motlan by mutual TLS in HTTPClient).
	TokenURL, ClientID, ClientSecret string
	Scopes                           []string // default ["service"]
	// UserID is the credentials/list userID: "{cccd}" and "{id}" are replaced with the
	// citizen's CCCD and Motlan's citizen id. Empty: no userID is sent.
	UserID string
	// Description goes to credentials/authorize; providers show it in their app.
	Description string
	// Timeout bounds each call, token included (default 30 s).
	Timeout time.Duration
	// HTTPClient carries TLS roots and client certificates; its Timeout is replaced.
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
}

// Client is the signing.Backend of a CSC v2 provider.
type Client struct {
	base, userID, desc string
	http               *http.Client
	now                func() time.Time
	log                *slog.Logger

	// cache keeps each citizen's credential for cacheTTL: the approval page looks it up
	// (to ask for a PIN or OTP) seconds before the approval signs with it, and that second
	// credentials/list would be a round trip per dossier for nothing. The provider still
	// refuses a credential revoked in between, at credentials/authorize.
	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	cred *credential
	at   time.Time
}

const (
	cacheTTL  = time.Minute
	cacheSize = 10000
)

// New checks cfg and returns a Client. It makes no call: the provider may be down at start.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("csc: BaseURL %q is not an http(s) URL", cfg.BaseURL)
	}
	if cfg.TokenURL != "" && cfg.ClientID == "" {
		return nil, errors.New("csc: TokenURL needs ClientID")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	base := &http.Client{}
	if cfg.HTTPClient != nil {
		*base = *cfg.HTTPClient
	}
	base.Timeout = cfg.Timeout
	hc := base
	if cfg.TokenURL != "" {
		scopes := cfg.Scopes
		if len(scopes) == 0 {
			scopes = []string{"service"}
		}
		cc := clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: cfg.TokenURL, Scopes: scopes}
		// The token source keeps its token until it expires: one token request per hour,
		// not one per dossier.
		ts := cc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, base))
		hc = &http.Client{Timeout: cfg.Timeout, Transport: &oauth2.Transport{Source: ts, Base: transportOf(base)}}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Client{base: strings.TrimRight(cfg.BaseURL, "/"), userID: cfg.UserID, desc: cfg.Description,
		http: hc, now: cfg.Now, log: cfg.Logger.With("component", "csc")}, nil
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// Info calls info: the provider's name, spec version and methods (for motlan doctor and
// the operator's first check).
func (c *Client) Info(ctx context.Context) (wire.InfoResponse, error) {
	var out wire.InfoResponse
	err := c.call(ctx, wire.MethodInfo, struct {
		Lang string `json:"lang,omitempty"`
	}{"vi"}, &out)
	return out, err
}

// maxCredentials bounds the credentials/info calls for a provider that lists ids only.
const maxCredentials = 20

// Credential finds the citizen's credential: see the package doc for the mapping.
func (c *Client) Credential(ctx context.Context, info signing.CitizenInfo) (signing.Credential, error) {
	key := info.ID + "\x00" + info.CCCD
	c.mu.Lock()
	hit, ok := c.cache[key]
	c.mu.Unlock()
	if ok && c.now().Sub(hit.at) < cacheTTL {
		return hit.cred, nil
	}
	cred, err := c.lookup(ctx, info)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.cache == nil || len(c.cache) >= cacheSize {
		c.cache = map[string]cached{} // start over rather than track ages: entries live a minute
	}
	c.cache[key] = cached{cred: cred, at: c.now()}
	c.mu.Unlock()
	return cred, nil
}

// lookup asks the provider for the citizen's credential.
func (c *Client) lookup(ctx context.Context, info signing.CitizenInfo) (*credential, error) {
	if info.CCCD == "" {
		return nil, fail(signing.FailureNoCredential, errors.New("the citizen has no CCCD to match a certificate with"))
	}
	req := wire.ListRequest{CredentialInfo: true, Certificates: wire.CertsChain, CertInfo: true, AuthInfo: true, Lang: "vi"}
	if c.userID != "" {
		req.UserID = strings.NewReplacer("{cccd}", info.CCCD, "{id}", info.ID).Replace(c.userID)
	}
	var list wire.ListResponse
	if err := c.call(ctx, wire.MethodList, req, &list); err != nil {
		return nil, err
	}
	infos := list.CredentialInfos
	if len(infos) == 0 {
		for i, id := range list.CredentialIDs {
			if i == maxCredentials {
				break
			}
			var ci wire.CredentialInfo
			if err := c.call(ctx, wire.MethodCredInfo, wire.InfoRequest{CredentialID: id, Certificates: wire.CertsChain, CertInfo: true, AuthInfo: true}, &ci); err != nil {
				return nil, err
			}
			ci.CredentialID = id
			infos = append(infos, ci)
		}
	}
	var refusal error
	for _, ci := range infos {
		cred, err := c.credential(ci, info.CCCD)
		switch {
		case err == nil:
			return cred, nil
		case !errors.Is(err, errNotTheirs) && refusal == nil:
			refusal = err // the citizen's, but unusable: say why unless a usable one follows
		}
	}
	if refusal != nil {
		return nil, refusal
	}
	return nil, fail(signing.FailureNoCredential, fmt.Errorf("none of %d credentials has a certificate for this CCCD", len(infos)))
}

var errNotTheirs = errors.New("csc: certificate of someone else")

// credential checks one listed credential: the citizen's certificate, usable now.
func (c *Client) credential(ci wire.CredentialInfo, cccd string) (*credential, error) {
	if ci.CredentialID == "" || len(ci.Cert.Certificates) == 0 {
		return nil, errNotTheirs
	}
	certs := make([]*x509.Certificate, 0, len(ci.Cert.Certificates))
	for _, b64 := range ci.Cert.Certificates {
		der, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, errNotTheirs
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, errNotTheirs
		}
		certs = append(certs, cert)
	}
	if !subjectHasCCCD(certs[0], cccd) {
		return nil, errNotTheirs
	}
	now := c.now()
	switch {
	case ci.Key.Status == wire.KeyDisabled, ci.Cert.Status == wire.CertSuspended:
		return nil, fail(signing.FailureSuspended, fmt.Errorf("credential %s: key %s, certificate %s", ci.CredentialID, ci.Key.Status, ci.Cert.Status))
	case ci.Cert.Status == wire.CertRevoked, ci.Cert.Status == wire.CertExpired, now.After(certs[0].NotAfter), now.Before(certs[0].NotBefore):
		return nil, fail(signing.FailureRevoked, fmt.Errorf("credential %s: certificate %s, valid %v to %v", ci.CredentialID, ci.Cert.Status, certs[0].NotBefore, certs[0].NotAfter))
	}
	algo, err := signAlgo(certs[0], ci.Key.Algo)
	if err != nil {
		return nil, fail(signing.FailureProvider, fmt.Errorf("credential %s: %w", ci.CredentialID, err))
	}
	mode, authID, err := activation(ci.Auth)
	if err != nil {
		return nil, fail(signing.FailureProvider, fmt.Errorf("credential %s: %w", ci.CredentialID, err))
	}
	return &credential{c: c, id: ci.CredentialID, cert: certs[0], chain: certs[1:], algo: algo, mode: mode, authID: authID, multisign: ci.Multisign}, nil
}

// subjectHasCCCD reports whether the subject carries UID=CCCD:<cccd>.
func subjectHasCCCD(cert *x509.Certificate, cccd string) bool {
	for _, atv := range cert.Subject.Names {
		if s, ok := atv.Value.(string); ok && atv.Type.Equal(ca.OIDUserID) && s == "CCCD:"+cccd {
			return true
		}
	}
	return false
}

var _ signing.Backend = (*Client)(nil)
