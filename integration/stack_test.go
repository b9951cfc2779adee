// Package integration runs Motlan end to end over real HTTP on loopback: the dev eID, the
// broker with its real store (SQLite, and PostgreSQL from MOTLAN_TEST_POSTGRES_DSN), and
// relying parties written with go-oidc and x/oauth2 exactly as a portal team would.
package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/internal/config"
	"github.com/motlan/motlan/internal/server"
	"github.com/motlan/motlan/internal/testpg"
	"github.com/motlan/motlan/keys"
)

// rp is a relying party registered at Motlan.
type rp struct {
	id, secret, redirect string
	cfg                  oauth2.Config
	verifier             *oidc.IDTokenVerifier
}

// stack is one running Motlan with its dev eID.
type stack struct {
	issuer  string
	eid     *httptest.Server
	portal  rp // confidential, consent required, all scopes
	insure  rp // confidential (client_secret_post), first-party, profile only
	public  rp // public client, PKCE required
	run     *server.Running
	storage config.Storage
	eidSeen *headerLog
}

// freeAddr returns a loopback address that was free a moment ago, for a server the test
// starts next. The port is drawn below the kernel's ephemeral range, so that no outgoing
// connection of a test running beside this one takes it as its source port in between: a
// port handed out for ":0" was, once (TestCSCNoCredential: "bind: address already in use").
func freeAddr(t *testing.T) string {
	t.Helper()
	low := ephemeralLow()
	for try := 0; ; try++ {
		port := 0 // after 100 taken draws, or with no room below the range: the kernel's pick
		if low > minTestPort && try < 100 {
			port = minTestPort + mrand.IntN(low-minTestPort)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			addr := ln.Addr().String()
			_ = ln.Close()
			return addr
		}
		if port == 0 {
			t.Fatal(err)
		}
	}
}

// minTestPort is the lowest port freeAddr draws: above the well-known and most registered
// services' ports.
const minTestPort = 20000

// ephemeralLow is the first port of Linux's ephemeral range (source ports of outgoing
// connections and ":0" listeners), 32768 where it cannot be read; read once.
var ephemeralLow = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if f := strings.Fields(string(b)); err == nil && len(f) == 2 {
		if n, err := strconv.Atoi(f[0]); err == nil {
			return n
		}
	}
	return 32768
})

func randSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newStack starts the dev eID and Motlan on the given driver ("sqlite" or "postgres").
func newStack(t *testing.T, driver string) *stack { return newStackWith(t, driver, false) }

// newStackWith can start Motlan while the eID is down, to test discovery failing; mods
// adjust the config before it is validated.
func newStackWith(t *testing.T, driver string, eidDown bool, mods ...func(*config.Config)) *stack {
	t.Helper()
	return newStackEID(t, driver, eidDown, nil, mods...)
}

// newStackEID is newStackWith with simMod adjusting the dev eID's config (how it states
// the level, its verified flags), when not nil.
func newStackEID(t *testing.T, driver string, eidDown bool, simMod func(*sim.Config), mods ...func(*config.Config)) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addr := freeAddr(t)
	s := &stack{issuer: "http://" + addr}
	switch driver {
	case "sqlite":
		s.storage = config.Storage{Driver: "sqlite", DSN: config.Secret{Value: filepath.Join(t.TempDir(), "motlan.db")}}
	case "postgres":
		s.storage = config.Storage{Driver: "postgres", DSN: config.Secret{Value: testpg.DSN(t)}}
	}
	eidSecret := randSecret()
	s.eid = httptest.NewUnstartedServer(nil)
	s.eid.Start()
	t.Cleanup(s.eid.Close)
	simCfg := sim.Config{
		Issuer: s.eid.URL,
		Clients: []sim.Client{{ID: "motlan", Secret: eidSecret, RedirectURIs: []string{idp.CallbackURL(s.issuer)},
			PostLogoutRedirectURIs: []string{idp.LogoutDoneURL(s.issuer)}}},
	}
	if simMod != nil {
		simMod(&simCfg)
	}
	h, err := sim.New(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	s.eidSeen = &headerLog{} // traceparents the eID receives (tracing_test.go)
	s.eid.Config.Handler = s.eidSeen.wrap(h)
	if eidDown {
		s.eid.Close()
	}

	s.portal = rp{id: "portal", secret: randSecret(), redirect: "https://portal.example.test/callback"}
	s.insure = rp{id: "bhyt", secret: randSecret(), redirect: "https://bhyt.example.test/cb"}
	s.public = rp{id: "app", redirect: "http://127.0.0.1:9/app-cb"}
	cfg := config.Config{
		Issuer: s.issuer, Listen: addr, Log: config.Log{Level: "error", Format: "text"}, Storage: s.storage,
		EID: config.EID{Issuer: s.eid.URL, ClientID: "motlan", ClientSecret: config.Secret{Value: eidSecret},
			Scopes: []string{"openid", "profile", "address", "phone"}, Timeout: config.Duration(2 * time.Second)},
		Clients: []config.Client{
			{ID: s.portal.id, Name: "Cổng Dịch vụ công", Secret: config.Secret{Value: s.portal.secret},
				RedirectURIs: []string{s.portal.redirect}, PostLogoutRedirectURIs: []string{"https://portal.example.test/"},
				Scopes: []string{"openid", "profile", "address", "phone", "cccd", "offline_access", "signing"}},
			{ID: s.insure.id, Name: "Bảo hiểm xã hội", Secret: config.Secret{Value: s.insure.secret},
				RedirectURIs: []string{s.insure.redirect}, AuthMethod: "client_secret_post",
				Scopes: []string{"openid", "profile"}, FirstParty: true, IDTokenAlg: "RS256"},
			{ID: s.public.id, RedirectURIs: []string{s.public.redirect}, AuthMethod: "none",
				Scopes: []string{"openid", "profile"}, FirstParty: true},
		},
	}
	cfg.Secrets.MasterKey.File = filepath.Join(t.TempDir(), "master.key")
	mk, err := keys.EnsureMasterKeyFile(cfg.Secrets.MasterKey.File)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		m(&cfg)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s.run, err = server.Start(ctx, cfg, mk, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.run.Shutdown() })

	provider, err := oidc.NewProvider(ctx, s.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	for _, c := range []*rp{&s.portal, &s.insure, &s.public} {
		c.cfg = oauth2.Config{ClientID: c.id, ClientSecret: c.secret, Endpoint: provider.Endpoint(), RedirectURL: c.redirect,
			Scopes: []string{oidc.ScopeOpenID, "profile"}}
		if c == &s.insure {
			c.cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		}
		c.verifier = provider.Verifier(&oidc.Config{ClientID: c.id, SupportedSigningAlgs: []string{"ES256", "RS256"}})
	}
	return s
}

// browser is a person's browser: a cookie jar, redirects followed by hand so each hop can
// be inspected.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{
		Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) get(u string) *http.Response {
	b.t.Helper()
	resp, err := b.client.Get(u)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	return resp
}

func (b *browser) postForm(u string, v url.Values) *http.Response {
	b.t.Helper()
	resp, err := b.client.PostForm(u, v)
	if err != nil {
		b.t.Fatalf("POST %s: %v", u, err)
	}
	return resp
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func location(t *testing.T, r *http.Response) *url.URL {
	t.Helper()
	defer r.Body.Close()
	if r.StatusCode != http.StatusFound && r.StatusCode != http.StatusSeeOther {
		b, _ := io.ReadAll(r.Body)
		t.Fatalf("want a redirect, got %d: %.400s", r.StatusCode, b)
	}
	u, err := r.Location()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// authRequest is one authorization request a relying party makes.
type authRequest struct {
	state, nonce, verifier string
	url                    string
}

func (c *rp) authorize(scopes []string, extra ...oauth2.AuthCodeOption) authRequest {
	a := authRequest{state: randSecret(), nonce: randSecret(), verifier: oauth2.GenerateVerifier()}
	cfg := c.cfg
	cfg.Scopes = scopes
	opts := append([]oauth2.AuthCodeOption{oidc.Nonce(a.nonce), oauth2.S256ChallengeOption(a.verifier)}, extra...)
	a.url = cfg.AuthCodeURL(a.state, opts...)
	return a
}

func isEID(s *stack, u *url.URL) bool { return strings.HasPrefix(u.String(), s.eid.URL+"/") }
