package grants

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/motlan/motlan/idp/clientauth"
	"github.com/motlan/motlan/idp/dpop"
	"github.com/motlan/motlan/idp/internal/web"
	oe "github.com/motlan/motlan/idp/oautherr"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/idp/tokens"
	"github.com/motlan/motlan/internal/ratelimit"
)

// Grant is one grant type of the token endpoint.
type Grant interface {
	// Type is the grant_type value.
	Type() string
	// RequiresClientAuth reports whether public clients (token_endpoint_auth_method
	// none) are refused.
	RequiresClientAuth() bool
	// CheckScope applies the grant's scope policy to the request's scope parameter, before
	// Handle; a policy that depends on what is redeemed is Handle's.
	CheckScope(client store.Client, scope string) *oe.Error
	// Handle issues the tokens. Errors that are not *oautherr.Error are server errors.
	Handle(ctx context.Context, req Request) (tokens.Set, error)
}

// Request is an authenticated token request.
type Request struct {
	Client store.Client
	Form   url.Values
	// JKT is the DPoP proof's key thumbprint, "" without a proof: what is issued is bound
	// to it.
	JKT string
}

// EndpointConfig configures the token endpoint.
type EndpointConfig struct {
	Grants     []Grant // the enabled grants; any other grant_type is unsupported
	TokenURL   string  // htu of DPoP proofs
	ClientAuth *clientauth.Authenticator
	DPoP       *dpop.Checker
	Limits     *web.Limits
	Logger     *slog.Logger
}

// Endpoint is the token endpoint.
type Endpoint struct {
	cfg    EndpointConfig
	byType map[string]Grant
}

// NewEndpoint mounts the grants.
func NewEndpoint(cfg EndpointConfig) *Endpoint {
	e := &Endpoint{cfg: cfg, byType: map[string]Grant{}}
	for _, g := range cfg.Grants {
		e.byType[g.Type()] = g
	}
	return e
}

// Types lists the enabled grant types, for discovery.
func (e *Endpoint) Types() []string {
	out := make([]string, len(e.cfg.Grants))
	for i, g := range e.cfg.Grants {
		out[i] = g.Type()
	}
	return out
}

// ServeHTTP answers a token request.
func (ep *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e := clientauth.ParseForm(r); e != nil {
		if e.Status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "POST")
		}
		oe.WriteJSON(w, e, false)
		return
	}
	ctx := r.Context()
	if !ep.cfg.Limits.Token(w, r, ep.cfg.Limits.IP(r)) {
		return
	}
	client, basic, oerr := ep.cfg.ClientAuth.Authenticate(ctx, r)
	if oerr != nil {
		oe.WriteJSON(w, oerr, basic)
		return
	}
	if !ep.cfg.Limits.Token(w, r, ratelimit.Client(client.ID)) {
		return
	}
	// A DPoP proof binds what this request issues to the proof's key (RFC 9449 5).
	ep.cfg.DPoP.OfferNonce(w, r)
	jkt, oerr := ep.cfg.DPoP.Endpoint(r, ep.cfg.TokenURL, ep.cfg.DPoP.Required(client.ID))
	if oerr != nil {
		oe.WriteJSON(w, oerr, basic)
		return
	}
	set, err := ep.grant(ctx, Request{Client: client, Form: r.PostForm, JKT: jkt})
	if err != nil {
		var known *oe.Error
		if !errors.As(err, &known) {
			ep.cfg.Logger.ErrorContext(ctx, "token", "grant_type", r.PostForm.Get("grant_type"), "client_id", client.ID, "err", err)
		}
		oe.WriteJSON(w, oe.As(err), basic)
		return
	}
	web.WriteTokenJSON(w, set)
}

// grant enforces the grant's client and scope policy, then runs it.
func (e *Endpoint) grant(ctx context.Context, req Request) (tokens.Set, error) {
	gt := req.Form.Get("grant_type")
	g, ok := e.byType[gt]
	switch {
	case gt == "":
		return tokens.Set{}, oe.New(oe.InvalidRequest, "grant_type is required")
	case !ok:
		return tokens.Set{}, oe.New(oe.UnsupportedGrantType, "this grant_type is not supported%s", web.Named(gt))
	case g.RequiresClientAuth() && req.Client.AuthMethod == "none":
		return tokens.Set{}, oe.New(oe.UnauthorizedClient, "public clients cannot use %s", gt)
	}
	if e := g.CheckScope(req.Client, req.Form.Get("scope")); e != nil {
		return tokens.Set{}, e
	}
	return g.Handle(ctx, req)
}
