package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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

	"github.com/motlan/motlan/adapters/sqlstore"
	"github.com/motlan/motlan/adapters/vneid/sim"
	"github.com/motlan/motlan/idp"
	"github.com/motlan/motlan/internal/testpg"
	"github.com/motlan/motlan/keys"
	"github.com/motlan/motlan/keys/ca"
	"github.com/motlan/motlan/keys/tsa"
	"github.com/motlan/motlan/signing"
)

// heldTSA is a time-stamp authority that holds each query until released, so that a
// signing run is in flight for as long as a test needs.
type heldTSA struct {
	url     string
	entered chan struct{}
	release chan struct{}
}

func newHeldTSA(t *testing.T) *heldTSA {
	t.Helper()
	ctx := context.Background()
	mk := make([]byte, keys.MasterKeySize)
	sealer, err := keys.NewSealer(mk)
	if err != nil {
		t.Fatal(err)
	}
	devCA, err := ca.New(ctx, ca.Config{Storage: &ca.MemStorage{}, Sealer: sealer, BaseURL: "http://127.0.0.1:9/ca", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	id, err := devCA.TimestampingIdentity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tsa.New(tsa.Config{Signer: id.Signer, Certificate: id.Certificate, Chain: id.Chain, IncludeChain: true})
	if err != nil {
		t.Fatal(err)
	}
	h := &heldTSA{entered: make(chan struct{}, 16), release: make(chan struct{})}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case h.entered <- struct{}{}:
		default:
		}
		select {
		case <-h.release:
			srv.ServeHTTP(w, r)
		case <-r.Context().Done(): // the run was stopped
		}
	}))
	t.Cleanup(hs.Close)
	h.url = hs.URL
	return h
}

// binaryStack runs the motlan binary on PostgreSQL with its own dev eID (in the test) and
// the portal client, as a stack the signing helpers can drive.
type binaryStack struct {
	*stack
	cmd             *exec.Cmd
	done            chan error
	admin           string
	dsn             string
	bin, configPath string
}

func startBinaryStack(t *testing.T, bin, tsaURL string, shutdownTimeout time.Duration) *binaryStack {
	t.Helper()
	dir := t.TempDir()
	if _, err := keys.EnsureMasterKeyFile(filepath.Join(dir, "master.key")); err != nil {
		t.Fatal(err)
	}
	addr, adminAddr := freeAddr(t), freeAddr(t)
	s := &stack{issuer: "http://" + addr}
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
	dsn := testpg.DSN(t)
	q := strconv.Quote
	yml := fmt.Sprintf(`issuer: %s
listen: %s
log: {level: warn, format: text}
storage: {driver: postgres, dsn: {value: %s}}
secrets: {master_key: {file: %s}}
eid: {issuer: %s, client_id: motlan, client_secret: {value: %s}, scopes: [openid, profile, address, phone]}
admin: {listen: %s}
shutdown_timeout: %s
signing: {tsa_url: %s}
clients:
  - id: portal
    name: Cổng Dịch vụ công
    secret: {value: %s}
    redirect_uris: [%s]
    scopes: [openid, profile, address, phone, cccd, signing]
`, q(s.issuer), q(addr), q(dsn), q(filepath.Join(dir, "master.key")), q(s.eid.URL), q(eidSecret), q(adminAddr),
		shutdownTimeout, q(tsaURL), q(s.portal.secret), q(s.portal.redirect))
	path := filepath.Join(dir, "motlan.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &binaryStack{stack: s, admin: "http://" + adminAddr, dsn: dsn, bin: bin, configPath: path}
	b.start(t)
	provider, err := oidc.NewProvider(context.Background(), s.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	s.portal.cfg = oauth2.Config{ClientID: "portal", ClientSecret: s.portal.secret, Endpoint: provider.Endpoint(),
		RedirectURL: s.portal.redirect, Scopes: []string{oidc.ScopeOpenID, "profile"}}
	s.portal.verifier = provider.Verifier(&oidc.Config{ClientID: "portal", SupportedSigningAlgs: []string{"ES256"}})
	return b
}

// start runs motlan serve with the stack's configuration and waits until it is ready.
func (b *binaryStack) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(b.bin, "serve", "--config", b.configPath)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b.cmd, b.done = cmd, make(chan error, 1)
	go func() { b.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(b.admin + "/readyz"); err == nil {
			body(t, resp)
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("motlan serve was not ready within 30 s")
		}
	}
}

// poll is one long-poll's outcome.
type poll struct {
	status  int
	state   string
	version int64
	err     error
	took    time.Duration
}

// longPoll GETs the request with wait and since; every answer must be complete JSON.
func longPoll(api *http.Client, issuer, id string, since int64, wait string) poll {
	start := time.Now()
	resp, err := api.Get(fmt.Sprintf("%s/signing/v1/requests/%s?wait=%s&since=%d", issuer, id, wait, since))
	if err != nil {
		return poll{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	p := poll{status: resp.StatusCode, err: err, took: time.Since(start)}
	var st struct {
		Status  string `json:"status"`
		Version int64  `json:"version"`
	}
	if err == nil {
		if jerr := json.Unmarshal(raw, &st); jerr != nil {
			p.err = fmt.Errorf("incomplete answer %q: %w", raw, jerr)
		}
	}
	p.state, p.version = st.Status, st.Version
	return p
}

// TestDrainOnSIGTERM runs motlan serve on PostgreSQL and sends SIGTERM while long-polls
// are open and a signing run is in flight: /readyz turns 503 at once, every open
// long-poll gets a complete answer at once with the request as it is, a new long-poll is
// answered at once too, the signing finishes and its approval is answered, no answer is
// a 5xx, nothing is lost from the store, and the process exits 0 within
// shutdown_timeout.
func TestDrainOnSIGTERM(t *testing.T) {
	bin := buildMotlan(t)
	held := newHeldTSA(t)
	const shutdownTimeout = 20 * time.Second
	b := startBinaryStack(t, bin, held.url, shutdownTimeout)
	p := newSigningPortal(t, b.stack)

	const waiting = 12
	var pending []string
	for i := range waiting {
		id, _ := p.request(t, b.stack, fmt.Sprintf("drain-wait-%d", i), "Tờ khai chờ ký")
		pending = append(pending, id)
	}
	signID, approvalURL := p.request(t, b.stack, "drain-sign", "Tờ khai đăng ký khai sinh")

	// Open long-polls, each on its own connection.
	polls := make(chan poll, waiting+2)
	var wg sync.WaitGroup
	for _, id := range pending {
		wg.Go(func() { polls <- longPoll(p.api, b.issuer, id, 1, "60s") })
	}
	// The approval: its run holds at the TSA.
	_, page := p.openApproval(t, approvalURL) // after the eID login made for it
	form := url.Values{"action": {"approve"}}
	for _, m := range reHidden.FindAllStringSubmatch(page, -1) {
		form.Add(m[1], m[2])
	}
	approved := make(chan int, 1)
	go func() {
		resp, err := p.b.client.PostForm(approvalURL, form)
		if err != nil {
			approved <- -1
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		approved <- resp.StatusCode
	}()
	select {
	case <-held.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the signing run never reached the TSA")
	}
	time.Sleep(300 * time.Millisecond) // the long-polls are open by now

	sent := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range waiting {
		got := <-polls
		if got.err != nil || got.status != http.StatusOK || got.state != "pending" {
			t.Fatalf("an open long-poll on SIGTERM: %d %q %v", got.status, got.state, got.err)
		}
		if since := time.Since(sent); since > 5*time.Second {
			t.Fatalf("an open long-poll was answered %v after SIGTERM", since)
		}
	}
	wg.Wait()
	t.Logf("every open long-poll answered within %v of SIGTERM", time.Since(sent).Round(time.Millisecond))
	// While the signing runs: not ready; a new long-poll is answered at once.
	if resp, err := http.Get(b.admin + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while draining: %v %v", resp, err)
	} else {
		body(t, resp)
	}
	if got := longPoll(p.api, b.issuer, pending[0], 1, "60s"); got.err != nil || got.status != http.StatusOK || got.state != "pending" || got.took > 5*time.Second {
		t.Fatalf("a new long-poll while draining: %d %q %v after %v", got.status, got.state, got.err, got.took)
	}
	if got := longPoll(p.api, b.issuer, signID, 2, "60s"); got.err != nil || got.status != http.StatusOK || got.state != "signing" || got.took > 5*time.Second {
		t.Fatalf("a long-poll on the request being signed, while draining: %d %q %v after %v", got.status, got.state, got.err, got.took)
	}
	close(held.release) // the TSA answers: the run finishes within shutdown_timeout
	select {
	case code := <-approved:
		if code != http.StatusOK {
			t.Fatalf("the approval in flight at SIGTERM was answered %d", code)
		}
	case <-time.After(shutdownTimeout):
		t.Fatal("the approval in flight was not answered")
	}
	select {
	case err := <-b.done:
		if err != nil {
			t.Fatalf("motlan serve after SIGTERM: %v (want exit status 0)", err)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("motlan serve did not exit within shutdown_timeout")
	}
	if took := time.Since(sent); took > shutdownTimeout {
		t.Fatalf("drain took %v, over shutdown_timeout %v", took, shutdownTimeout)
	} else {
		t.Logf("exit 0 %v after SIGTERM", took.Round(time.Millisecond))
	}

	// Nothing lost: the signed request is signed, the waiting ones still pending.
	st, err := sqlstore.Open(context.Background(), sqlstore.Config{Driver: sqlstore.DriverPostgres, DSN: b.dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if r, err := st.GetSigningRequest(context.Background(), signID); err != nil || r.Status != signing.StatusSigned {
		t.Fatalf("the request signed during the drain: %v %s", err, r.Status)
	}
	for _, id := range pending {
		if r, err := st.GetSigningRequest(context.Background(), id); err != nil || r.Status != signing.StatusPending {
			t.Fatalf("a waiting request after the drain: %v %s", err, r.Status)
		}
	}
}

// TestDrainHandsBackOnSIGTERM: a signing run that cannot finish within shutdown_timeout
// (the TSA does not answer) is handed back: its approval is answered (no 5xx, no cut
// connection), the process exits 0 within shutdown_timeout, the request is left
// signing with its lease released, and the restarted process signs it at once.
func TestDrainHandsBackOnSIGTERM(t *testing.T) {
	bin := buildMotlan(t)
	held := newHeldTSA(t)
	const shutdownTimeout = 3 * time.Second
	b := startBinaryStack(t, bin, held.url, shutdownTimeout)
	p := newSigningPortal(t, b.stack)
	id, approvalURL := p.request(t, b.stack, "drain-handback", "Tờ khai đăng ký thường trú")
	_, page := p.openApproval(t, approvalURL) // after the eID login made for it
	form := url.Values{"action": {"approve"}}
	for _, m := range reHidden.FindAllStringSubmatch(page, -1) {
		form.Add(m[1], m[2])
	}
	approved := make(chan int, 1)
	go func() {
		resp, err := p.b.client.PostForm(approvalURL, form)
		if err != nil {
			approved <- -1
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		approved <- resp.StatusCode
	}()
	select {
	case <-held.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the signing run never reached the TSA")
	}
	sent := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-approved:
		if code != http.StatusOK {
			t.Fatalf("the approval handed back was answered %d, want 200 (signing)", code)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("the approval in flight was not answered")
	}
	select {
	case err := <-b.done:
		if err != nil {
			t.Fatalf("motlan serve after SIGTERM: %v (want exit status 0)", err)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("motlan serve did not exit")
	}
	// The bound: shutdown_timeout, plus what closing the store takes.
	if took := time.Since(sent); took > shutdownTimeout+time.Second {
		t.Fatalf("exit %v after SIGTERM; shutdown_timeout is %v", took, shutdownTimeout)
	}
	st, err := sqlstore.Open(context.Background(), sqlstore.Config{Driver: sqlstore.DriverPostgres, DSN: b.dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.GetSigningRequest(context.Background(), id)
	if err != nil || r.Status != signing.StatusSigning || r.Worker != "" || !r.LeaseUntil.IsZero() {
		t.Fatalf("after the hand-back: %v %s, lease %q until %v; want signing, released", err, r.Status, r.Worker, r.LeaseUntil)
	}
	close(held.release)
	b.start(t) // its resume loop runs at start
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r, err = st.GetSigningRequest(context.Background(), id)
		if err == nil && r.Status == signing.StatusSigned {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not signed within 20 s of the restart: %v %s", err, r.Status)
		}
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-b.done; err != nil {
		t.Fatalf("second stop: %v", err)
	}
}
