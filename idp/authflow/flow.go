package authflow

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/motlan/motlan/idp/clientauth"
	"github.com/motlan/motlan/idp/dpop"
	"github.com/motlan/motlan/idp/eid"
	"github.com/motlan/motlan/idp/internal/seal"
	"github.com/motlan/motlan/idp/internal/web"
	"github.com/motlan/motlan/idp/session"
	"github.com/motlan/motlan/idp/store"
	"github.com/motlan/motlan/idp/tokens"
	"github.com/motlan/motlan/internal/audit"
)

// Paths of the flow's endpoints, relative to the issuer.
const (
	PathAuthorize = "/authorize"
	PathCallback  = "/eid/callback"
	PathConsent   = "/consent"
)

// Store is what the flow needs of the store.
type Store interface {
	store.AuthRequests
	store.PushedRequests
	store.AuthCodes
	store.Consents
	store.Citizens
	GetSession(ctx context.Context, id string) (store.Session, error)
}

// Clients finds registered clients.
type Clients interface {
	Get(ctx context.Context, id string) (store.Client, bool)
}

// Config configures a Flow.
type Config struct {
	Issuer     string
	Base       string // issuer path prefix, "" for a root issuer
	Store      Store
	EID        eid.Connector
	Clients    Clients
	ClientAuth *clientauth.Authenticator // for /par
	DPoP       *dpop.Checker             // for /par
	Sessions   *session.Manager
	Tokens     *tokens.Tokens
	Pages      *web.Pages
	Limits     *web.Limits
	Cookies    web.Cookies
	Seal       *seal.Box

	// LoopbackClients may redirect to any loopback http URI (development only).
	LoopbackClients map[string]bool

	AuthRequestTTL time.Duration
	CodeTTL        time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
	Audit          *audit.Logger
	// OnLogin is told the outcome of each eID callback for a relying party's login, and
	// the eID level reached ("" when unknown), for metrics; nil: nobody.
	OnLogin func(outcome, level string)
}

// Login outcomes given to Config.OnLogin.
const (
	LoginSuccess        = "success"
	LoginDenied         = "denied"          // refused or cancelled at the eID
	LoginFailed         = "failed"          // the eID's answer could not be verified
	LoginEIDUnavailable = "eid_unavailable" // the eID could not be reached
	LoginLevelTooLow    = "level_too_low"
	LoginStoreFailed    = "store_unavailable"
)

func (f *Flow) observeLogin(outcome, level string) {
	if f.cfg.OnLogin != nil {
		f.cfg.OnLogin(outcome, level)
	}
}

// Flow serves the browser's way to an authorization code.
type Flow struct {
	cfg     Config
	purpose atomic.Pointer[StepUpPurpose]
}

// New builds a Flow.
func New(cfg Config) *Flow { return &Flow{cfg: cfg} }
