package idp

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/motlan/motlan/idp/authflow"
	"github.com/motlan/motlan/idp/clientauth"
	"github.com/motlan/motlan/idp/discovery"
	"github.com/motlan/motlan/idp/dpop"
	"github.com/motlan/motlan/idp/grants"
	"github.com/motlan/motlan/idp/internal/clients"
	"github.com/motlan/motlan/idp/internal/seal"
	"github.com/motlan/motlan/idp/internal/web"
	"github.com/motlan/motlan/idp/resource"
	"github.com/motlan/motlan/idp/revocation"
	"github.com/motlan/motlan/idp/session"
	"github.com/motlan/motlan/keys"
)

// mount builds the per-concern parts on the shared ones and mounts their routes.
func (p *Provider) mount(box *seal.Box, sidKey []byte) error {
	c := p.cfg
	u, _ := url.Parse(c.Issuer)
	base := strings.TrimSuffix(u.Path, "/")
	pages := &web.Pages{Log: c.Logger, Brand: c.Brand}
	limits := &web.Limits{Limiter: c.RateLimits, Pages: pages}
	cookies := web.Cookies{Secure: u.Scheme == "https"}
	auth := clientauth.New(clientauth.Config{Issuer: c.Issuer, TokenURL: p.URL(PathToken), Clients: p.clients, Assertions: c.Store, Now: c.Now})
	p.sessions = session.New(session.Config{
		Issuer: c.Issuer, Base: base, Store: c.Store, Clients: p.clients, Tokens: p.tokens, Keys: c.Keys, EID: c.EID,
		Pages: pages, Cookies: cookies, Seal: box, SidKey: sidKey, SessionTTL: c.SessionTTL,
		BackchannelClient: c.BackchannelClient, BackchannelBackoff: c.BackchannelBackoff, Now: c.Now, Logger: c.Logger, Audit: c.Audit,
	})
	p.flow = authflow.New(authflow.Config{
		Issuer: c.Issuer, Base: base, Store: c.Store, EID: c.EID, Clients: p.clients, ClientAuth: auth, DPoP: p.dpop,
		Sessions: p.sessions, Tokens: p.tokens, Pages: pages, Limits: limits, Cookies: cookies, Seal: box,
		LoopbackClients: c.LoopbackRedirectClients, AuthRequestTTL: c.AuthRequestTTL, CodeTTL: c.CodeTTL, Now: c.Now, Logger: c.Logger, Audit: c.Audit, OnLogin: c.OnLogin,
	})
	token := grants.NewEndpoint(grants.EndpointConfig{
		Grants: grants.All(grants.Config{
			Store: c.Store, Tokens: p.tokens, RefreshTTL: c.RefreshTTL, OfflineRefreshTTL: c.OfflineRefreshTTL,
			RefreshReuseGrace: c.RefreshReuseGrace, RefreshReuseGraceClients: c.RefreshReuseGraceClients, Now: c.Now, Logger: c.Logger,
			Audit: c.Audit,
		}),
		TokenURL: p.URL(PathToken), ClientAuth: auth, DPoP: p.dpop, Limits: limits, Logger: c.Logger,
	})
	revoke := revocation.New(revocation.Config{Issuer: c.Issuer, Store: c.Store, Tokens: p.tokens, ClientAuth: auth, Now: c.Now, Logger: c.Logger, Audit: c.Audit})
	p.resource = resource.New(resource.Config{Issuer: c.Issuer, Store: c.Store, Clients: p.clients, Tokens: p.tokens, DPoP: p.dpop, Now: c.Now, Logger: c.Logger, Audit: c.Audit})
	doc, err := discovery.Document(discovery.Config{
		Issuer: c.Issuer, Authorize: p.URL(PathAuthorize), Token: p.URL(PathToken), UserInfo: p.URL(PathUserInfo),
		JWKS: p.URL(PathJWKS), Logout: p.URL(PathLogout), Revoke: p.URL(PathRevoke), Introspect: p.URL(PathIntrospect),
		PAR: p.URL(PathPAR), GrantTypes: token.Types(), AssertionAlgs: clientauth.AssertionAlgs(), DPoPAlgs: dpop.Algs(),
	})
	if err != nil {
		return err
	}

	m := http.NewServeMux()
	m.Handle("GET "+base+PathDiscovery, discovery.Handler(doc))
	m.Handle("GET "+base+PathJWKS, discovery.JWKSHandler(c.Keys.JWKS))
	m.HandleFunc(base+PathAuthorize, p.flow.HandleAuthorize)
	m.Handle(base+PathToken, token)
	m.HandleFunc(base+PathPAR, p.flow.HandlePAR)
	m.HandleFunc(base+PathUserInfo, p.resource.HandleUserInfo)
	m.HandleFunc(base+PathRevoke, revoke.HandleRevoke)
	m.HandleFunc(base+PathIntrospect, revoke.HandleIntrospect)
	m.HandleFunc("GET "+base+PathCallback, p.flow.HandleCallback)
	m.HandleFunc(base+PathConsent, p.flow.HandleConsent)
	m.HandleFunc(base+PathLogout, p.sessions.HandleLogout)
	m.HandleFunc("GET "+base+PathStepUp, p.flow.HandleStepUp)
	m.HandleFunc("GET "+base+PathLogoutDone, p.sessions.HandleLogoutDone)
	m.HandleFunc("GET "+base+"/favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	p.mux = m
	return nil
}

var (
	_ clientauth.Clients = (*clients.Registry)(nil)
	_ authflow.Clients   = (*clients.Registry)(nil)
	_ session.Clients    = (*clients.Registry)(nil)
	_ resource.Clients   = (*clients.Registry)(nil)
	_ http.Handler       = (*grants.Endpoint)(nil)
	_ TokenKeys          = (*keys.Manager)(nil)
)
