package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/keys"
)

// rrProxy is the load balancer in front of the replicas: round robin per request over
// the backends marked up, or the one backend pinned (for the whole proxy, or for one
// request with the X-Test-Replica header, which it removes). It records which backend
// served each request.
type rrProxy struct {
	srv *httptest.Server

	mu       sync.Mutex
	backends []*url.URL
	down     []bool
	pinned   int // -1: round robin
	next     int
	served   []servedBy
}

// servedBy is one request the proxy forwarded.
type servedBy struct {
	method, path string
	backend      int
}

const pinHeader = "X-Test-Replica"

func newRRProxy(t *testing.T) *rrProxy {
	p := &rrProxy{pinned: -1}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := p.pick(pr.In)
			pr.Out.Header.Del(pinHeader)
			pr.SetURL(p.backend(i))
			pr.Out.Host = pr.In.Host // Motlan sees the public host, as behind a real proxy
		},
		FlushInterval: -1,
	}
	p.srv = httptest.NewServer(rp)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *rrProxy) URL() string { return p.srv.URL }

func (p *rrProxy) add(u string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	pu, _ := url.Parse(u)
	p.backends = append(p.backends, pu)
	p.down = append(p.down, false)
	return len(p.backends) - 1
}

func (p *rrProxy) backend(i int) *url.URL {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.backends[i]
}

func (p *rrProxy) pick(r *http.Request) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := p.pinned
	if h := r.Header.Get(pinHeader); h != "" {
		i, _ = strconv.Atoi(h)
	}
	if i < 0 {
		for range p.backends {
			i, p.next = p.next, (p.next+1)%len(p.backends)
			if !p.down[i] {
				break
			}
		}
	}
	p.served = append(p.served, servedBy{r.Method, r.URL.Path, i})
	return i
}

// pin sends every request to backend i (-1: round robin again).
func (p *rrProxy) pin(i int) { p.mu.Lock(); p.pinned = i; p.mu.Unlock() }

// setDown takes backend i out of (or back into) the round robin, as a load balancer
// does on its readiness check.
func (p *rrProxy) setDown(i int, down bool) { p.mu.Lock(); p.down[i] = down; p.mu.Unlock() }

// log returns the requests forwarded so far, in order.
func (p *rrProxy) log() []servedBy {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]servedBy(nil), p.served...)
}

// motlanProcess is one replica: the real motlan binary on its own config file.
type motlanProcess struct {
	t                  *testing.T
	bin, cfgPath       string
	addr, adminAddr    string
	cmd                *exec.Cmd
	exited             chan struct{}
	stderr             *lockedBuffer
	startedAt, readyAt time.Time
}

// replicaConfig is what the replicas of a test share.
type replicaConfig struct {
	issuer, eidURL, eidSecret string
	dsn, masterKeyFile        string
	portal                    rp
	extra                     string // more YAML (top-level keys), e.g. a signing section
}

func (c replicaConfig) yaml(addr, adminAddr string) string {
	q := strconv.Quote
	return fmt.Sprintf(`issuer: %s
listen: %s
admin: {listen: %s}
log: {level: warn, format: text}
storage: {driver: postgres, dsn: {value: %s}}
secrets: {master_key: {file: %s}}
eid:
  issuer: %s
  client_id: motlan
  client_secret: {value: %s}
  scopes: [openid, profile, address, phone]
  timeout: 5s
clients:
  - id: %s
    name: Cổng Dịch vụ công
    secret: {value: %s}
    redirect_uris: [%s]
    scopes: [openid, profile, address, phone, cccd, offline_access, signing]
%s`, q(c.issuer), q(addr), q(adminAddr), q(c.dsn), q(c.masterKeyFile), q(c.eidURL), q(c.eidSecret),
		q(c.portal.id), q(c.portal.secret), q(c.portal.redirect), c.extra)
}

// newMotlanProcess writes a replica's config; start runs it. It is killed when t ends.
func newMotlanProcess(t *testing.T, bin string, c replicaConfig) *motlanProcess {
	t.Helper()
	m := &motlanProcess{t: t, bin: bin, addr: freeAddr(t), adminAddr: freeAddr(t)}
	m.cfgPath = filepath.Join(t.TempDir(), "motlan.yaml")
	if err := os.WriteFile(m.cfgPath, []byte(c.yaml(m.addr, m.adminAddr)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.kill)
	return m
}

// start runs the binary and waits until it is ready.
func (m *motlanProcess) start() {
	m.t.Helper()
	m.launch()
	m.waitReady()
}

func (m *motlanProcess) launch() {
	m.t.Helper()
	m.stderr = &lockedBuffer{}
	m.cmd = exec.Command(m.bin, "serve", "-config", m.cfgPath)
	m.cmd.Stderr = m.stderr
	m.startedAt = time.Now()
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	m.exited = make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(m.exited) }()
}

// waitReady waits until the admin /readyz answers 200.
func (m *motlanProcess) waitReady() {
	m.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + m.adminAddr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-m.exited:
			m.t.Fatalf("motlan %s exited at start: %s", m.addr, m.stderr)
		default:
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("motlan %s not ready after 30 s: %s", m.addr, m.stderr)
		}
	}
	m.readyAt = time.Now()
}

// kill ends the process with SIGKILL (a crash) and waits for it.
func (m *motlanProcess) kill() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	select {
	case <-m.exited:
		return
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.exited
}

// replicaStack is the replicas behind the proxy, the dev eID, and a stack value whose
// issuer is the proxy, so the single-process tests' helpers (login, redeem, the signing
// portal) run through the proxy unchanged.
type replicaStack struct {
	*stack
	proxy *rrProxy
	reps  []*motlanProcess
	cfg   replicaConfig
}

// newReplicaStack starts n replicas of bin on the PostgreSQL database dsn behind a
// round-robin proxy; extra is added to every replica's YAML.
func newReplicaStack(t *testing.T, bin, dsn string, n int, extra string) *replicaStack {
	t.Helper()
	rs := &replicaStack{proxy: newRRProxy(t)}
	s := &stack{issuer: rs.proxy.URL()}
	rs.stack = s
	eidSecret := randSecret()
	s.eid = httptest.NewServer(nil)
	t.Cleanup(s.eid.Close)
	h, err := sim.New(sim.Config{Issuer: s.eid.URL, Clients: []sim.Client{{ID: "motlan", Secret: eidSecret,
		RedirectURIs: []string{idp.CallbackURL(s.issuer)}, PostLogoutRedirectURIs: []string{idp.LogoutDoneURL(s.issuer)}}}})
	if err != nil {
		t.Fatal(err)
	}
	s.eid.Config.Handler = h
	s.portal = rp{id: "portal", secret: randSecret(), redirect: "https://portal.example.test/callback"}
	mk := filepath.Join(t.TempDir(), "master.key")
	if _, err := keys.EnsureMasterKeyFile(mk); err != nil {
		t.Fatal(err)
	}
	rs.cfg = replicaConfig{issuer: s.issuer, eidURL: s.eid.URL, eidSecret: eidSecret, dsn: dsn,
		masterKeyFile: mk, portal: s.portal, extra: extra}
	// Replicas start together, as in a rolling deployment's first start: the migrations
	// must be safe when they race.
	for range n {
		rs.reps = append(rs.reps, newMotlanProcess(t, bin, rs.cfg))
	}
	for _, r := range rs.reps {
		r.launch()
	}
	for _, r := range rs.reps {
		r.waitReady()
	}
	for _, r := range rs.reps {
		rs.proxy.add("http://" + r.addr)
	}
	provider, err := oidc.NewProvider(context.Background(), s.issuer)
	if err != nil {
		t.Fatalf("discovery through the proxy: %v", err)
	}
	s.portal.cfg = oauth2.Config{ClientID: s.portal.id, ClientSecret: s.portal.secret, Endpoint: provider.Endpoint(),
		RedirectURL: s.portal.redirect, Scopes: []string{oidc.ScopeOpenID, "profile"}}
	s.portal.verifier = provider.Verifier(&oidc.Config{ClientID: s.portal.id, SupportedSigningAlgs: []string{"ES256"}})
	return rs
}
